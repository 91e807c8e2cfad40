"""The store side of incremental runs: what is known about listed posts, and per-board watermarks.

* :class:`KnownPosts` answers the spider's questions (one indexed ``find`` per list page) from ``posts`` and
  ``post_crawl_state``; :class:`WatermarkExtension` hands it to the spider as ``spider.known_posts`` when
  ``MONGO_URI`` is set, so the spider itself never talks to a database.
* ``post_crawl_state`` (``{_id: post_id, replies_first_level, replies_total, post_comments}``) is written by
  the storage stage when all reply pages of a post were fetched.
* ``boards`` (``{_id: code, watermarks: {sort: raw last-activity time}, ...}``) is written by the storage stage at
  the end of a run, only when the run finished cleanly: a killed or failing run leaves the old watermark, so the
  next run walks down to it again and fetches whatever is missing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pymongo.database import Database
from pymongo.errors import PyMongoError
from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.incremental import Known
from pipelines.mongo_conn import mongo_target, open_database, redact_uri

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class KnownPosts:
    """Read-only view of the store for :func:`crawler.incremental.decide`."""

    def __init__(self, db: Database[Any]) -> None:
        self.db = db

    def lookup(self, post_ids: list[str]) -> dict[str, Known]:
        """What the store knows of these posts. MongoDB unreachable: nothing (every listed post is fetched, which
        is always safe), with a warning; the storage stage keeps what it cannot write."""
        if not post_ids:
            return {}
        try:
            return self._lookup(post_ids)
        except PyMongoError as exc:
            logger.warning(
                "MongoDB unreachable for the incremental lookup (%s): fetching all %d listed posts",
                type(exc).__name__, len(post_ids),
            )
            return {}

    def _lookup(self, post_ids: list[str]) -> dict[str, Known]:
        posts = {
            d["_id"]: d
            for d in self.db.posts.find(
                {"_id": {"$in": post_ids}}, {"counts": 1, "last_activity_at_raw": 1, "deleted": 1}
            )
        }
        if not posts:
            return {}
        states = {d["_id"]: d for d in self.db.post_crawl_state.find({"_id": {"$in": list(posts)}})}
        known: dict[str, Known] = {}
        for pid, doc in posts.items():
            st = states.get(pid) or {}
            known[pid] = Known(
                comments=(doc.get("counts") or {}).get("comments"),
                last_activity_raw=doc.get("last_activity_at_raw"),
                deleted=bool(doc.get("deleted")),
                replies_first_level=st.get("replies_first_level"),
                replies_comments=st.get("post_comments") if st else None,
            )
        return known

    def watermark(self, board: str, sort: str) -> str | None:
        doc = self.db.boards.find_one({"_id": board}) or {}
        value = (doc.get("watermarks") or {}).get(sort)
        return str(value) if value else None


class WatermarkExtension:
    """Attaches :class:`KnownPosts` to spiders that can use it (those with a ``known_posts`` attribute).

    Off (NotConfigured) without ``MONGO_URI``. An unreachable server leaves the spider without it (a full
    crawl); the storage stage reports the outage itself.
    """

    def __init__(self, crawler: Crawler, uri: str, database: str, timeout_ms: int) -> None:
        self.crawler = crawler
        self.uri = uri
        self.database = database
        self.timeout_ms = timeout_ms
        self.db: Database[Any] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WatermarkExtension:
        target = mongo_target(crawler.settings)
        if not target.uri:
            raise NotConfigured("MONGO_URI is not set: incremental runs are off")
        o = cls(crawler, *target)
        crawler.signals.connect(o.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(o.spider_closed, signal=signals.spider_closed)
        return o

    def spider_opened(self, spider: Spider) -> None:
        if not hasattr(spider, "known_posts"):
            return
        try:
            self.db = open_database(self.uri, self.database, timeout_ms=self.timeout_ms)
        except PyMongoError as exc:
            logger.warning("No incremental state (MongoDB at %s: %s)", redact_uri(self.uri), type(exc).__name__)
            return
        spider.known_posts = KnownPosts(self.db)

    def spider_closed(self, spider: Spider) -> None:
        if self.db is not None:
            self.db.client.close()
            self.db = None
