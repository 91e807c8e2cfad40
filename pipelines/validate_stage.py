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
        if isinstance(item, ReplyPageItem):
            for reply in item.replies:
                self.process_item(reply)
            return item
        now = datetime.now(UTC)
        if isinstance(item, PostItem):
            error = first_error("posts", post_document(item, now=now))
        elif isinstance(item, ReplyItem):
            error = first_error("replies", reply_document(item, now=now))
        else:
            return item
        if self.stats is not None:
            self.stats.inc_value("validation/items")
            if error:
                self.stats.inc_value("validation/invalid")
                self.stats.inc_value(f"validation/error/{error.split(':', 1)[0]}")
        if error and self.logged < _LOGGED_MAX:
            self.logged += 1
            logger.error("Item breaks schema v1 (%s): %s", getattr(item, "url", getattr(item, "reply_id", "?")), error)
        return item
