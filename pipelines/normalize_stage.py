"""NormalizePipeline: the first stage. Fills every normalised field from the raw ones, with the rules of
:mod:`pipelines.normalize`; the clock is read here, once per item, and passed in."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem

from crawler.items import DeletedPostItem, PostItem, ReplyItem, ReplyPageItem
from pipelines.normalize import (
    TimestampError,
    clean_body,
    clean_reply_text,
    normalize_author,
    normalize_source,
    normalize_stocks,
    normalize_timestamp,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


def _time(raw: str | None, now: datetime, problems: list[str]) -> datetime | None:
    try:
        return normalize_timestamp(raw, now=now)
    except TimestampError:
        problems.append(raw or "")
        return None


def normalize_post(post: PostItem, *, now: datetime) -> list[str]:
    """Fill the normalised fields of ``post`` in place; returns the raw time strings that could not be read
    (their ``*_at`` stays None, the raw string is kept)."""
    problems: list[str] = []
    post.author = normalize_author(
        user_id=post.author_id,
        nickname=post.author_name_raw,
        is_majia=post.author_is_majia,
        deactivated=post.author_deactivated,
        user_type=post.author_user_type,
        bar_name=post.bar_name,
    )
    post.body = clean_body(post.body_html)
    post.source = normalize_source(
        post_type=post.post_type,
        client=post.client,
        media_name=post.media_name,
        header_source_raw=post.header_source_raw,
        footer_source_raw=post.footer_source_raw,
        footer_url=post.footer_url,
        source_id=post.source_id,
        forward_of=post.forward_of,
        body_text=post.body,
    )
    post.published_at = _time(post.published_raw, now, problems)
    post.last_activity_at = _time(post.last_activity_raw, now, problems)
    post.modified_at = _time(post.modified_raw, now, problems)
    post.stocks = normalize_stocks(post.stock_mentions)
    post.fetched_at = now
    return problems


def normalize_reply(reply: ReplyItem, *, now: datetime) -> list[str]:
    problems: list[str] = []
    reply.author = normalize_author(user_id=reply.author_id, nickname=reply.author_name_raw)
    reply.text = clean_reply_text(reply.text_raw)
    reply.published_at = _time(reply.published_raw, now, problems)
    reply.fetched_at = now
    return problems


class NormalizePipeline:
    def __init__(
        self, stats: StatsCollector | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.stats = stats
        self.clock = clock

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalizePipeline:
        return cls(crawler.stats)

    def _inc(self, key: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, n)

    def process_item(self, item: Any) -> Any:
        now = self.clock()
        if isinstance(item, PostItem):
            problems = normalize_post(item, now=now)
            if not item.title.strip() and not (item.body or "").strip() and not item.forward_of:
                # A post page whose JSON has neither title nor body is a layout we do not understand.
                self._inc("guba/layout_changed")
                raise DropItem(f"post {item.post_id} has no title and no body; layout changed? {item.url}")
            self._inc("normalize/posts")
        elif isinstance(item, ReplyItem):
            problems = normalize_reply(item, now=now)
            self._inc("normalize/replies")
        elif isinstance(item, ReplyPageItem):
            problems = [p for reply in item.replies for p in normalize_reply(reply, now=now)]
            self._inc("normalize/replies", len(item.replies))
        elif isinstance(item, DeletedPostItem):
            item.fetched_at = now
            return item
        else:
            return item
        for raw in problems:
            self._inc("normalize/bad_timestamp")
            logger.warning("Unreadable time %r in %s; raw string kept", raw, getattr(item, "url", item))
        return item
