"""MongoPipeline: batched, idempotent, outage-proof storage of posts, replies and articles (schema v1).

* Settings are read once (``from_crawler``); an empty ``MONGO_URI`` disables the stage (NotConfigured naming the
  setting); an unreachable server stops the crawl at start (CloseSpider naming MONGO_URI, credentials redacted).
* Items are buffered into batches; full batches go to a bounded queue (``MONGO_QUEUE_BATCHES``) written in order,
  so the crawl never waits for MongoDB unless the queue is full (then it waits: memory stays bounded). By default
  (``MONGO_WRITER_PROCESS``) a child process writes them (:class:`WriterProcess`, code in
  :mod:`pipelines.mongo_writer`): the document building, fingerprints and BSON encoding then do not hold the
  crawler's interpreter lock. With ``MONGO_WRITER_PROCESS = False`` threads of the crawler write them.
* Writes replace whole documents (with ``_id``) after reading the stored ones in the same batch: re-crawling
  changes nothing but counters and timestamps, and it behaves the same on MongoDB and on nx-27017 (which
  mishandles datetimes in ``$set``/``$min``; see README "MongoDB servers").
* Repost deduplication happens here, batch by batch, before the posts are written: every post of the batch gets
  its ``article_id`` from :class:`pipelines.repost_index.RepostIndex` (one set of round trips per batch; posts of
  one batch that copy each other still find each other). In thread mode its own thread assigns batch k+1 while
  the writer stores batch k; assignments, and stores, each run in batch order. ``REPOST_ENABLED = False`` turns
  it off.
* Batches are taken as soon as the writer is idle and hold MONGO_MIN_BATCH_SIZE items (group commit); they grow
  to MONGO_BATCH_SIZE only while MongoDB is busy. Replies are written from a second thread while the posts and
  articles of the same batch are; a batch's crawl state (``post_crawl_state``) is written after both.
* A transient failure is retried with backoff for ``MONGO_RETRY_SECONDS``; a batch that still cannot be written
  (or that MongoDB refuses) is spilled to ``MONGO_SPILL_DIR`` as JSON lines and written by the next run. No item
  is dropped.
* ``articles`` are derived from ``posts``: after each batch, every touched article is rebuilt from the posts
  that carry it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bson import json_util
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import AutoReconnect, PyMongoError
from scrapy import signals
from scrapy.exceptions import CloseSpider, NotConfigured
from twisted.internet import task

from crawler.items import BoardDoneItem, DeletedPostItem, PostItem, RepliesDoneItem, ReplyItem
from pipelines.mongo_conn import TRANSIENT_ERRORS, mongo_target, open_database, redact_uri
from pipelines.mongo_writer import (
    Batch,
    MongoWriter,
    WriterContext,
    child_init,
    child_ready,
    child_write,
    to_wire,
)

__all__ = ["Batch", "MongoPipeline", "MongoWriter", "WriterProcess", "WriterRefused", "ensure_indexes"]

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    "posts": [
        [("board.code", ASCENDING), ("published_at", DESCENDING)],
        [("article_id", ASCENDING)],
        [("stocks", ASCENDING)],
        [("published_at", DESCENDING)],
    ],
    "articles": [[("stocks", ASCENDING)], [("published_at", DESCENDING)]],
    "replies": [[("post_id", ASCENDING)], [("published_at", DESCENDING)]],
}


def ensure_indexes(db: Database[Any]) -> None:
    for coll, specs in INDEXES.items():
        for spec in specs:
            db[coll].create_index(spec)


class WriterRefused(Exception):
    """The writer process could not store a batch for a reason other than an outage (MongoDB refused it)."""


class WriterProcess:
    """A :class:`MongoWriter` in a child process (``MONGO_WRITER_PROCESS``).

    Building documents, repost fingerprints and pymongo's encoding all hold Python's interpreter lock; in a thread
    of the crawler they stall the crawl for as long as they run. In a child process they run beside it. Each batch
    is sent (pickled) to the child, written there with the same :class:`MongoWriter` code, and the child returns
    the batch's stat increments. Outages come back as :class:`pymongo.errors.AutoReconnect` (retried by the
    pipeline like an outage in a thread), anything else as :class:`WriterRefused` (the batch is spilled). A child
    that dies is started again and its batch is retried (every write is idempotent). The child connects on its
    first batch and dies with the crawler (Linux: ``PR_SET_PDEATHSIG``), so a killed crawl leaves nothing behind.
    """

    def __init__(self, uri: str, database: str, timeout_ms: int, repost: dict[str, Any] | None) -> None:
        self._args = (uri, database, timeout_ms, repost, os.getpid())
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the child and wait until it runs (its imports take a moment; better before the crawl starts)."""
        # "spawn": a fork of a process with running threads (the reactor's, pymongo's) can deadlock in the child.
        self._pool = ProcessPoolExecutor(
            1, mp_context=WriterContext(), initializer=child_init, initargs=self._args
        )
        self._pool.submit(child_ready).result()

    def write(self, batch: Batch, now: datetime) -> dict[str, int]:
        """Write one batch in the child; the stat increments it made. Blocks (call from a thread)."""
        if self._pool is None:
            self.start()
        assert self._pool is not None
        try:
            status, payload = self._pool.submit(child_write, to_wire(batch), now).result()
        except BrokenProcessPool:
            self.close(wait=False)
            self._pool = None
            raise AutoReconnect("the MongoDB writer process stopped; starting a new one") from None
        if status == "ok":
            return dict(payload)
        if status == "transient":
            raise AutoReconnect(str(payload))
        raise WriterRefused(str(payload))

    def close(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=not wait)


class MongoPipeline:
    """The storage stage. See the module docstring; settings MONGO_* and REPOST_* in crawler/settings.py."""

    def __init__(
        self,
        *,
        uri: str,
        database: str,
        batch_size: int,
        flush_seconds: float,
        retry_seconds: float,
        spill_dir: str,
        timeout_ms: int,
        queue_batches: int = 4,
        min_batch: int = 50,
        repost: dict[str, Any] | None = None,
        writer_process: bool = False,
        stats: StatsCollector | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uri = uri
        self.database = database
        self.batch_size = max(1, batch_size)
        self.flush_seconds = flush_seconds
        self.retry_seconds = retry_seconds
        self.spill_dir = Path(spill_dir)
        self.timeout_ms = timeout_ms
        self.queue_batches = max(1, queue_batches)
        # An idle writer takes a batch as soon as it has this many items (it does not wait for batch_size).
        self.min_batch = max(1, min(min_batch, self.batch_size))
        self._writing = False
        self._outage_since: float | None = None  # monotonic time of the first failed write of an outage
        self.repost = repost  # RepostIndex options; None: no deduplication
        self.writer_process = writer_process
        self._process: WriterProcess | None = None
        self.stats = stats
        self.clock = clock
        self.batch = Batch()
        self.db: Database[Any] | None = None
        self.writer: MongoWriter | None = None
        # One thread: batches are written in the order they were filled, and reposts assigned one batch after
        # another still find each other.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mongo-writer")
        # Article ids of the next batch are assigned here while the writer stores the previous one.
        self._dedup_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mongo-dedup")
        self._queue: asyncio.Queue[Batch | None] | None = None
        self._consumer: asyncio.Future[None] | None = None
        self.boards_done: list[BoardDoneItem] = []
        self._loop: task.LoopingCall | None = None
        self._last_flush = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MongoPipeline:
        s = crawler.settings
        target = mongo_target(s)
        if not target.uri:
            raise NotConfigured("MONGO_URI is not set: nothing is stored (set it, or run `make crawl`)")
        repost = {
            "threshold": s.getfloat("REPOST_THRESHOLD", 0.8),
            "min_chars": s.getint("REPOST_MIN_CHARS", 80),
            "num_perm": s.getint("REPOST_NUM_PERM", 128),
            "bands": s.getint("REPOST_BANDS", 32),
        }
        o = cls(
            uri=target.uri,
            database=target.database,
            batch_size=s.getint("MONGO_BATCH_SIZE", 500),
            flush_seconds=s.getfloat("MONGO_FLUSH_SECONDS", 5.0),
            retry_seconds=s.getfloat("MONGO_RETRY_SECONDS", 600.0),
            spill_dir=s.get("MONGO_SPILL_DIR") or "var/spill",
            timeout_ms=target.timeout_ms,
            queue_batches=s.getint("MONGO_QUEUE_BATCHES", 4),
            min_batch=s.getint("MONGO_MIN_BATCH_SIZE", 50),
            repost=repost if s.getbool("REPOST_ENABLED", True) else None,
            writer_process=s.getbool("MONGO_WRITER_PROCESS", True),
            stats=crawler.stats,
        )
        crawler.signals.connect(o.spider_closed, signal=signals.spider_closed)
        return o

    def _inc(self, key: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, n)

    async def open_spider(self) -> None:
        try:
            self.db = await self._run(lambda: open_database(self.uri, self.database, timeout_ms=self.timeout_ms))
            await self._run(ensure_indexes, self.db)
        except PyMongoError as exc:
            raise CloseSpider(
                f"MongoDB is unreachable at {redact_uri(self.uri)} (setting MONGO_URI): {type(exc).__name__}"
            ) from None
        index = None
        if self.writer_process:
            self._process = WriterProcess(self.uri, self.database, self.timeout_ms, self.repost)
            await self._run(self._process.start)
        elif self.repost is not None:
            from pipelines.repost_index import RepostIndex  # its imports (datasketch, scipy) only where used

            index = RepostIndex(self.db, **self.repost)
        # In-process writer: batches (thread mode), board watermarks (both modes).
        self.writer = MongoWriter(self.db, self.stats, index)
        logger.info("Storing to MongoDB %s, database %r", redact_uri(self.uri), self.database)
        await self._replay_spills()
        self._queue = asyncio.Queue(self.queue_batches)
        self._consumer = asyncio.ensure_future(self._consume())
        self._loop = task.LoopingCall(self._tick)
        self._loop.start(max(0.5, self.flush_seconds / 2), now=False)

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, BoardDoneItem):
            self.boards_done.append(item)
            return item
        if self.batch.add(item) and (
            len(self.batch) >= self.batch_size or (self._writer_idle() and len(self.batch) >= self.min_batch)
        ):
            await self.flush()
        return item

    def _writer_idle(self) -> bool:
        return not self._writing and self._queue is not None and self._queue.empty()

    def _tick(self) -> Any:
        if len(self.batch) and time.monotonic() - self._last_flush >= self.flush_seconds:
            from twisted.internet.defer import Deferred

            return Deferred.fromFuture(asyncio.ensure_future(self.flush()))
        return None

    async def close_spider(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        await self.flush()
        if self._queue is not None and self._consumer is not None:
            await self._queue.put(None)
            await self._consumer

    def spider_closed(self, reason: str) -> None:
        """After the last flush: move watermarks of boards that completed, if the run ended cleanly."""
        try:
            if self.writer is not None and self.boards_done:
                clean = reason == "finished" and not self._stat("mongo/spilled")
                done = [b for b in self.boards_done if clean and not self._stat(f"guba/board_failed/{b.board}")]
                kept = sorted({b.board for b in self.boards_done} - {b.board for b in done})
                if done:
                    self.writer.write_watermarks(done, self.clock())
                if kept:
                    logger.info(
                        "Watermarks not moved for %s (run %s, failures or unstored items): the next run walks "
                        "them again", ",".join(kept), reason,
                    )
        except PyMongoError as exc:
            logger.warning("Could not store board watermarks (%s); the next run walks further", exc)
        finally:
            if self.writer is not None:
                self.writer.close()
            if self.db is not None:
                self.db.client.close()
            if self._process is not None:
                self._process.close()
            self._executor.shutdown(wait=True)
            self._dedup_executor.shutdown(wait=True)

    def _stat(self, key: str) -> Any:
        return self.stats.get_value(key) if self.stats is not None else None

    async def _run(self, fn: Callable[..., Any], *args: Any, executor: ThreadPoolExecutor | None = None) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor or self._executor, lambda: fn(*args))

    async def flush(self) -> None:
        """Hand the current batch to the writer. Waits only while ``MONGO_QUEUE_BATCHES`` batches are already
        waiting (the crawl then goes at MongoDB's pace instead of filling memory)."""
        if not len(self.batch):
            return
        batch, self.batch = self.batch, Batch()
        self._last_flush = time.monotonic()
        assert self._queue is not None
        await self._queue.put(batch)

    async def _consume(self) -> None:
        """Write queued batches in order until the end marker. Two stages overlap: while batch k is stored
        (posts, replies, articles, crawl state), batch k+1 gets its article ids; a batch is stored only after its
        ids are assigned, and assignments run one batch after another."""
        assert self._queue is not None
        assert self.writer is not None
        if self._process is not None:
            await self._consume_in_process()
            return
        ready: Batch | None = None  # ids assigned, not stored yet
        while (batch := await self._queue.get()) is not None:
            self._writing = True
            try:
                dedup = asyncio.ensure_future(self._guarded(self.writer.assign_articles, batch, self._dedup_executor))
                if ready is not None:
                    await self._guarded(self._store, ready, self._executor)
                    ready = None
                if await dedup:
                    if self._queue.empty():
                        await self._guarded(self._store, batch, self._executor)  # nothing to overlap with
                    else:
                        ready = batch
            finally:
                self._writing = ready is not None
            # Group commit: the writer never idles while enough items wait; batches grow only while it is busy.
            if ready is None and self._queue.empty() and len(self.batch) >= self.min_batch:
                await self.flush()
        if ready is not None:
            await self._guarded(self._store, ready, self._executor)
        self._writing = False

    async def _consume_in_process(self) -> None:
        """Write queued batches in order in the writer process (which assigns article ids, then stores)."""
        assert self._queue is not None
        while (batch := await self._queue.get()) is not None:
            self._writing = True
            try:
                await self._guarded(self._store_in_process, batch, self._executor)
            finally:
                self._writing = False
            if self._queue.empty() and len(self.batch) >= self.min_batch:
                await self.flush()

    def _store_in_process(self, batch: Batch) -> None:
        assert self._process is not None
        for key, count in self._process.write(batch, self.clock()).items():
            self._inc(key, count)

    def _store(self, batch: Batch) -> None:
        assert self.writer is not None
        self.writer.write_rest(batch, self.clock())

    async def _guarded(self, fn: Callable[[Batch], Any], batch: Batch, executor: ThreadPoolExecutor) -> bool:
        """Run one stage of a batch with the outage retries; False when the batch was spilled instead."""
        try:
            return await self._with_retry(fn, batch, executor)
        except Exception as exc:
            # MongoDB refused the batch (not an outage): keep it on disk, report it, go on.
            logger.exception("MongoDB refused a batch of %d items", len(batch))
            self._spill(batch, exc)
            return False

    async def _write_with_retry(self, batch: Batch) -> None:
        assert self.writer is not None
        writer = self.writer
        if self._process is not None:
            await self._with_retry(self._store_in_process, batch, self._executor)
            return
        await self._with_retry(lambda b: writer.write(b, self.clock()), batch, self._executor)

    async def _with_retry(self, fn: Callable[[Batch], Any], batch: Batch, executor: ThreadPoolExecutor) -> bool:
        """Run ``fn(batch)`` in ``executor``; while MongoDB is unreachable, retry with backoff (every stage is
        idempotent). The retry window belongs to the outage, not to the batch: once an outage has lasted
        ``MONGO_RETRY_SECONDS``, each further batch is tried once and spilled, so a crawl (or its shutdown) never
        waits that long per queued batch. True when written, False when spilled."""
        delay = 0.5
        while True:
            try:
                await self._run(fn, batch, executor=executor)
                self._outage_since = None
                return True
            except TRANSIENT_ERRORS as exc:
                now = time.monotonic()
                if self._outage_since is None:
                    self._outage_since = now
                if now - self._outage_since >= self.retry_seconds:
                    self._spill(batch, exc)
                    return False
                self._inc("mongo/retry")
                logger.warning(
                    "MongoDB write failed (%s: %s); retrying %d items in %.1fs", type(exc).__name__, str(exc)[:200],
                    len(batch), delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    # --- spill files: what could not be written survives the run --------------------------------
    def _spill(self, batch: Batch, exc: Exception) -> None:
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        path = self.spill_dir / f"spill-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for kind, items in (
                ("post", batch.posts),
                ("deleted", batch.deleted),
                ("reply", batch.replies),
                ("replies_done", batch.replies_done),
            ):
                for item in items.values():
                    fh.write(json_util.dumps({"kind": kind, "item": _item_dict(item)}, ensure_ascii=False) + "\n")
        self._inc("mongo/spilled", len(batch))
        if isinstance(exc, TRANSIENT_ERRORS):
            logger.error(
                "MongoDB unreachable for %.0fs (%s): %d items kept in %s; the next run writes them "
                "(MONGO_SPILL_DIR)", self.retry_seconds, type(exc).__name__, len(batch), path,
            )
        else:
            logger.error(
                "%d items MongoDB refused (%s) kept in %s; the next run tries them again (MONGO_SPILL_DIR)",
                len(batch), exc, path,
            )

    async def _replay_spills(self) -> None:
        if not self.spill_dir.is_dir():
            return
        for path in sorted(self.spill_dir.glob("spill-*.jsonl")):
            batch = Batch()
            for line in path.read_text(encoding="utf-8").splitlines():
                rec = json_util.loads(line, json_options=_SPILL_JSON)
                batch.add(_item_from_dict(rec["kind"], rec["item"]))
            logger.info("Writing %d items kept from an earlier MongoDB outage: %s", len(batch), path)
            await self._write_with_retry(batch)
            path.unlink()
            self._inc("mongo/spill_replayed", len(batch))


# Spilled items come back with the timezone-aware UTC datetimes they were written with (json_util's default
# gives naive ones, which cannot be compared with the aware ones of the rest of the batch).
_SPILL_JSON = json_util.JSONOptions(tz_aware=True, tzinfo=UTC)


def _item_dict(item: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(item)


def _item_from_dict(kind: str, data: dict[str, Any]) -> Any:
    from crawler.items import StockMention

    if kind == "post":
        data["stock_mentions"] = [StockMention(**m) for m in data.get("stock_mentions") or []]
        data.pop("replies_done", None)  # spilled on its own line (kind "replies_done")
        return PostItem(**data)
    if kind == "deleted":
        return DeletedPostItem(**data)
    if kind == "replies_done":
        return RepliesDoneItem(**data)
    return ReplyItem(**data)
