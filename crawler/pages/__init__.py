"""Extraction: Guba responses in, raw items out. Pure functions: no requests, settings, clock or I/O.

Every parser raises only the :mod:`crawler.pages.errors` exceptions (all :class:`PageError`).
"""

from crawler.pages.classify import PageKind, classify_page, is_verification_page, raise_for_kind
from crawler.pages.decode import decode_body
from crawler.pages.embedded import extract_js_object
from crawler.pages.errors import ApiError, Blocked, LayoutChanged, PageError, PostGone
from crawler.pages.listpage import parse_count, parse_list_page
from crawler.pages.post import find_stock_mentions, parse_post_page
from crawler.pages.replies import ReplyPage, parse_replies

__all__ = [
    "ApiError",
    "Blocked",
    "LayoutChanged",
    "PageError",
    "PageKind",
    "PostGone",
    "ReplyPage",
    "classify_page",
    "decode_body",
    "extract_js_object",
    "find_stock_mentions",
    "is_verification_page",
    "parse_count",
    "parse_list_page",
    "parse_post_page",
    "parse_replies",
    "raise_for_kind",
]
