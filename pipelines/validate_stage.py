"""ValidationPipeline: every post and reply, as it will be stored, is checked against the JSON Schema of schema
v1 (pipelines/schemas/). Items are kept (nothing is dropped for a schema slip); errors are counted for the
monitors (``validation/items``, ``validation/invalid``, ``validation/error/<field>`` of the first violation) and the
first ones logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crawler.items import PostItem, ReplyItem, ReplyPageItem
from pipelines.documents import post_document, reply_document
from pipelines.schema import first_error

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)
_LOGGED_MAX = 20


class ValidationPipeline:
    def __init__(self, stats: StatsCollector | None = None) -> None:
        self.stats = stats
        self.logged = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidationPipeline:
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        now = datetime.now(UTC)
        if isinstance(item, ReplyPageItem):
            errors = [first_error("replies", reply_document(r, now=now)) for r in item.replies]
            labels = [r.reply_id for r in item.replies]
        elif isinstance(item, PostItem):
            errors = [first_error("posts", post_document(item, now=now))]
            labels = [item.url]
        elif isinstance(item, ReplyItem):
            errors = [first_error("replies", reply_document(item, now=now))]
            labels = [item.reply_id]
        else:
            return item
        if self.stats is not None:
            self.stats.inc_value("validation/items", len(errors))
        for error, label in zip(errors, labels, strict=True):
            if not error:
                continue
            if self.stats is not None:
                self.stats.inc_value("validation/invalid")
                self.stats.inc_value(f"validation/error/{error.split(':', 1)[0]}")
            if self.logged < _LOGGED_MAX:
                self.logged += 1
                logger.error("Item breaks schema v1 (%s): %s", label, error)
        return item
