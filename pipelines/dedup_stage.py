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
    """Settings: REPOST_THRESHOLD, REPOST_MIN_CHARS, REPOST_NUM_PERM, REPOST_BANDS, REPOST_BATCH_SIZE,
    REPOST_BATCH_WAIT; MONGO_URI / MONGO_DATABASE
    (the index lives next to the data). Stats: dedup/<method> (short, exact, near, new), dedup/repost."""

    def __init__(self, *, uri: str, database: str, options: dict[str, Any], timeout_ms: int,
                 stats: StatsCollector | None = None, batch_max: int = 50, batch_wait: float = 0.05) -> None:
        self.uri = uri
        self.database = database
        self.options = options
        self.timeout_ms = timeout_ms
        self.stats = stats
        self.index: RepostIndex | None = None
        self.batch_max = batch_max
        self.batch_wait = batch_wait
        self._pending: list[tuple[PostItem, asyncio.Future[None]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Future[None]] = set()
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
            batch_max=s.getint("REPOST_BATCH_SIZE", 50),
            batch_wait=s.getfloat("REPOST_BATCH_WAIT", 0.05),
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
        self._kick()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.index is not None:
            self.index.db.client.close()
        self._executor.shutdown(wait=True)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, PostItem) or self.index is None:
            return item
        # Posts arriving together are assigned in one batch: a handful of round trips for the whole batch
        # instead of per post (and reposts inside one batch still find each other).
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((item, done))
        if len(self._pending) >= self.batch_max:
            self._kick()
        elif self._timer is None:
            self._timer = loop.call_later(self.batch_wait, self._kick)
        await done
        return item

    def _kick(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            self._tasks.add(task := asyncio.ensure_future(self._assign(batch)))
            task.add_done_callback(self._tasks.discard)

    async def _assign(self, batch: list[tuple[PostItem, asyncio.Future[None]]]) -> None:
        assert self.index is not None
        pairs = [(item.post_id, item.body or "") for item, _ in batch]
        delay = 0.5
        try:
            while True:
                try:
                    results = await self._run(self.index.assign_many, pairs)
                    break
                except TRANSIENT_ERRORS as exc:
                    # Never drop the items: wait for MongoDB like the storage stage does.
                    if self.stats is not None:
                        self.stats.inc_value("dedup/retry")
                    logger.warning("Repost index unavailable (%s); retrying in %.1fs", type(exc).__name__, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
        except Exception as exc:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (item, fut), result in zip(batch, results, strict=True):
            item.article_id = result.article_id
            if self.stats is not None:
                self.stats.inc_value(f"dedup/{result.method}")
                if not result.is_new_article and result.method in ("exact", "near"):
                    self.stats.inc_value("dedup/repost")
            if not fut.done():
                fut.set_result(None)
