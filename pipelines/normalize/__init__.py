"""Normalisation rules: plain functions from raw Guba values to clean ones (no Scrapy, no clock, no I/O)."""

from pipelines.normalize.author import normalize_author
from pipelines.normalize.body import clean_body, clean_reply_text
from pipelines.normalize.source import OUTLET_ALIASES, canonical_outlet, normalize_source
from pipelines.normalize.stocks import normalize_stocks, stock_id
from pipelines.normalize.timestamps import SHANGHAI, TimestampError, normalize_timestamp

__all__ = [
    "OUTLET_ALIASES",
    "SHANGHAI",
    "TimestampError",
    "canonical_outlet",
    "clean_body",
    "clean_reply_text",
    "normalize_author",
    "normalize_source",
    "normalize_stocks",
    "normalize_timestamp",
    "stock_id",
]
