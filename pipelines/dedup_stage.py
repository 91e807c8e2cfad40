"""RepostPipeline: gives every post the id of the article it carries (the same article reposted under several
post ids gets one id), with the MongoDB-backed near-duplicate index of :mod:`pipelines.repost_index`."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from pymongo.errors import PyMongoError
from scrapy.exceptions import CloseSpider, NotConfigured

from crawler.items import PostItem
from pipelines.mongo_conn import TRANSIENT_ERRORS, open_database, redact_uri
from pipelines.repost_index import RepostIndex

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class RepostPipeline:
    """Settings: REPOST_THRESHOLD, REPOST_MIN_CHARS, REPOST_NUM_PERM, REPOST_BANDS; MONGO_URI / MONGO_DATABASE
    (the index lives next to the data). Stats: dedup/<method> (short, exact, near, new), dedup/repost."""

    def __init__(self, *, uri: str, database: str, options: dict[str, Any], timeout_ms: int,
                 stats: StatsCollector | None = None) -> None:
        self.uri = uri
        self.database = database
        self.options = options
        self.timeout_ms = timeout_ms
        self.stats = stats
        self.index: RepostIndex | None = None
        # One thread: assignments are serialised, so reposts arriving together still find each other.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="repost-index")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RepostPipeline:
        s = crawler.settings
        uri = s.get("MONGO_URI") or ""
        if not uri:
            raise NotConfigured("MONGO_URI is not set: reposts are not deduplicated (article_id stays empty)")
        return cls(
            uri=uri,
            database=s.get("MONGO_DATABASE") or "guba",
            options={
                "threshold": s.getfloat("REPOST_THRESHOLD", 0.8),
                "min_chars": s.getint("REPOST_MIN_CHARS", 80),
                "num_perm": s.getint("REPOST_NUM_PERM", 128),
                "bands": s.getint("REPOST_BANDS", 32),
            },
            timeout_ms=s.getint("MONGO_CONNECT_TIMEOUT_MS", 5000),
            stats=crawler.stats,
        )

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def open_spider(self) -> None:
        try:
            db = await self._run(lambda: open_database(self.uri, self.database, timeout_ms=self.timeout_ms))
            self.index = RepostIndex(db, **self.options)
            await self._run(self.index.ensure_indexes)
        except PyMongoError as exc:
            raise CloseSpider(
                f"MongoDB is unreachable at {redact_uri(self.uri)} (setting MONGO_URI): {type(exc).__name__}"
            ) from None

    async def close_spider(self) -> None:
        if self.index is not None:
            self.index.db.client.close()
        self._executor.shutdown(wait=True)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, PostItem) or self.index is None:
            return item
        text = item.body or ""
        delay = 0.5
        while True:
            try:
                result = await self._run(self.index.assign, item.post_id, text)
                break
            except TRANSIENT_ERRORS as exc:
                # Never drop the item: wait for MongoDB like the storage stage does.
                if self.stats is not None:
                    self.stats.inc_value("dedup/retry")
                logger.warning("Repost index unavailable (%s); retrying in %.1fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        item.article_id = result.article_id
        if self.stats is not None:
            self.stats.inc_value(f"dedup/{result.method}")
            if not result.is_new_article and result.method in ("exact", "near"):
                self.stats.inc_value("dedup/repost")
        return item
