"""MongoPipeline: batched, idempotent, outage-proof storage of posts, replies and articles (schema v1).

* Settings are read once (``from_crawler``); an empty ``MONGO_URI`` disables the stage (NotConfigured naming the
  setting); an unreachable server stops the crawl at start (CloseSpider naming MONGO_URI, credentials redacted).
* Items are buffered into batches; full batches go to a bounded queue (``MONGO_QUEUE_BATCHES``) that one worker
  thread writes in order, so the crawl never waits for MongoDB unless the queue is full (then it waits: memory
  stays bounded). Writes replace whole documents (with ``_id``) after reading the stored ones in the same batch:
  re-crawling changes nothing but counters and timestamps, and it behaves the same on MongoDB and on nx-27017
  (which mishandles datetimes in ``$set``/``$min``; see README "MongoDB servers").
* Repost deduplication happens here, batch by batch, before the posts are written: every post of the batch gets
  its ``article_id`` from :class:`pipelines.repost_index.RepostIndex` (one set of round trips per batch; posts of
  one batch that copy each other still find each other). Its own thread assigns batch k+1 while the writer
  stores batch k; assignments, and stores, each run in batch order. ``REPOST_ENABLED = False`` turns it off.
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
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bson import json_util
from pymongo import ASCENDING, DESCENDING, InsertOne, ReplaceOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, PyMongoError
from scrapy import signals
from scrapy.exceptions import CloseSpider, NotConfigured
from twisted.internet import task

from crawler.items import BoardDoneItem, DeletedPostItem, PostItem, RepliesDoneItem, ReplyItem, ReplyPageItem
from pipelines.documents import (
    article_document,
    content_changed,
    deleted_post_document,
    post_document,
    reply_document,
)
from pipelines.mongo_conn import TRANSIENT_ERRORS, mongo_target, open_database, redact_uri
from pipelines.repost_index import RepostIndex

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


class Batch:
    """Items waiting to be written, by kind."""

    def __init__(self) -> None:
        self.posts: dict[str, PostItem] = {}
        self.deleted: dict[str, DeletedPostItem] = {}
        self.replies: dict[str, ReplyItem] = {}
        self.replies_done: dict[str, RepliesDoneItem] = {}

    def __len__(self) -> int:
        return len(self.posts) + len(self.deleted) + len(self.replies) + len(self.replies_done)

    def add(self, item: Any) -> bool:
        if isinstance(item, PostItem):
            self.posts[item.post_id] = item
            self.deleted.pop(item.post_id, None)
            if item.replies_done is not None:
                self.replies_done[item.post_id] = item.replies_done
        elif isinstance(item, DeletedPostItem):
            self.deleted[item.post_id] = item
            self.posts.pop(item.post_id, None)
        elif isinstance(item, ReplyItem):
            self.replies[item.reply_id] = item
        elif isinstance(item, ReplyPageItem):
            for reply in item.replies:
                self.replies[reply.reply_id] = reply
            if item.done is not None:
                self.replies_done[item.post_id] = item.done
        elif isinstance(item, RepliesDoneItem):
            self.replies_done[item.post_id] = item
        else:
            return False
        return True


class MongoWriter:
    """Writes a :class:`Batch` (synchronously; call from a worker thread). Idempotent: safe to retry whole."""

    def __init__(
        self, db: Database[Any], stats: StatsCollector | None = None, index: RepostIndex | None = None
    ) -> None:
        self.db = db
        self.stats = stats
        self.index = index
        # Replies (most of the documents) are written from a second thread while the posts, their article ids
        # and articles are written from the caller's: the two halves of a batch do not depend on each other.
        self._replies_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mongo-replies")

    def close(self) -> None:
        self._replies_thread.shutdown(wait=True)

    def _inc(self, key: str, n: int = 1) -> None:
        if self.stats is not None and n:
            self.stats.inc_value(key, n)

    def _existing(
        self, coll: str, ids: list[str], projection: dict[str, int] | None = None
    ) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        return {d["_id"]: d for d in self.db[coll].find({"_id": {"$in": ids}}, projection)}

    def _replace(self, coll: str, docs: list[dict[str, Any]], stored: set[str] | None = None) -> None:
        """Write whole documents by ``_id``, in one unordered bulk write. ``stored``: the ids known to exist (read
        in this batch); the others are inserted, which costs less than an upsert. A document another process
        inserted meanwhile (duplicate key on an insert) is written again as a replacement; a duplicate key on an
        upsert means the other write won with an equivalent document (the same page), so it is not a loss.
        Anything else raises."""
        if not docs:
            return
        if stored is not None and not any(d["_id"] in stored for d in docs):
            self._insert_new(coll, docs)  # all new (a first crawl): the cheapest write
            return
        ops: list[InsertOne[dict[str, Any]] | ReplaceOne[dict[str, Any]]] = [
            InsertOne(d) if stored is not None and d["_id"] not in stored
            else ReplaceOne({"_id": d["_id"]}, d, upsert=True)
            for d in docs
        ]
        try:
            self.db[coll].bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors) or exc.details.get("writeConcernErrors"):
                raise
            raced = [docs[int(e["index"])] for e in errors if isinstance(ops[int(e["index"])], InsertOne)]
            if raced:
                self._replace(coll, raced, None)

    def _insert_new(self, coll: str, docs: list[dict[str, Any]]) -> None:
        """Insert documents read as missing; one that another process inserted meanwhile is replaced instead."""
        try:
            self.db[coll].insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors) or exc.details.get("writeConcernErrors"):
                raise
            raced = [docs[int(e["index"])] for e in errors]
            if raced:
                self._replace(coll, raced, None)

    def assign_articles(self, batch: Batch) -> None:
        """Give every post of the batch its ``article_id`` (repost deduplication; idempotent: a post assigned
        before, by any process or an earlier attempt of this batch, keeps its article)."""
        if self.index is None or not batch.posts:
            return
        items = list(batch.posts.values())
        results = self.index.assign_many([(item.post_id, item.body or "") for item in items])
        for item, result in zip(items, results, strict=True):
            first_time = item.article_id is None
            item.article_id = result.article_id
            if first_time:
                self._inc(f"dedup/{result.method}")
                if not result.is_new_article and result.method in ("exact", "near"):
                    self._inc("dedup/repost")

    def write(self, batch: Batch, now: datetime) -> None:
        self.assign_articles(batch)
        self.write_rest(batch, now)

    def write_rest(self, batch: Batch, now: datetime) -> None:
        """Everything but the article ids (:meth:`assign_articles` first)."""
        replies = self._replies_thread.submit(self._write_replies, batch, now) if batch.replies else None
        try:
            self._write_posts(batch, now)
        finally:
            if replies is not None:
                replies.result()  # both halves are done (or failed) before the batch is retried or goes on

        # Last: "all replies of this post are stored" is only true once they are.
        if batch.replies_done:
            self._replace("post_crawl_state", [
                {
                    "_id": d.post_id,
                    "replies_first_level": d.first_level,
                    "replies_total": d.total,
                    "post_comments": d.post_comments,
                }
                for d in batch.replies_done.values()
            ])

    def _write_replies(self, batch: Batch, now: datetime) -> None:
        # Only first_seen_at survives a rewrite of a reply.
        old_replies = self._existing("replies", list(batch.replies), {"first_seen_at": 1})
        rdocs = [reply_document(r, now=now, existing=old_replies.get(rid)) for rid, r in batch.replies.items()]
        self._replace("replies", rdocs, set(old_replies))
        self._inc("mongo/replies_written", len(rdocs))

    def _write_posts(self, batch: Batch, now: datetime) -> None:
        posts_coll = "posts"
        ids = list(batch.posts) + list(batch.deleted)
        existing = self._existing(posts_coll, ids)
        docs: list[dict[str, Any]] = []
        touched: dict[str, set[str]] = {}
        for pid, item in batch.posts.items():
            old = existing.get(pid)
            doc = post_document(item, now=now, existing=old)
            if old is None:
                self._inc("mongo/posts_new")
            elif content_changed(old, doc):
                self._inc("mongo/posts_updated")
            else:
                self._inc("mongo/posts_unchanged")
            for aid in (doc.get("article_id"), (old or {}).get("article_id")):
                if aid:
                    touched.setdefault(aid, set()).add(pid)
            docs.append(doc)
        for pid, gone in batch.deleted.items():
            old = existing.get(pid)
            if old is None or not old.get("deleted"):
                self._inc("mongo/posts_deleted")
            docs.append(deleted_post_document(gone, now=now, existing=old))
        self._replace(posts_coll, docs, set(existing))
        self._inc("mongo/posts_written", len(docs))

        if touched:
            self.rebuild_articles(touched, now, {d["_id"]: d for d in docs})

    def write_watermarks(self, boards: list[BoardDoneItem], now: datetime) -> None:
        """Store the watermarks of boards whose walk completed in a run that ended cleanly."""
        existing = self._existing("boards", [b.board for b in boards])
        docs = []
        for b in boards:
            doc = dict(existing.get(b.board) or {"_id": b.board, "watermarks": {}})
            marks = dict(doc.get("watermarks") or {})
            if b.watermark:
                marks[b.sort] = b.watermark
            doc.update(
                watermarks=marks, last_complete_run_at=now, last_stop_reason=b.stop_reason, last_pages=b.pages
            )
            docs.append(doc)
        self._replace("boards", docs)

    def rebuild_articles(
        self, touched: dict[str, set[str]], now: datetime, written: dict[str, dict[str, Any]] | None = None
    ) -> None:
        """Rebuild each touched article from the posts that carry it: those it listed before plus this batch's.
        ``written``: post documents this batch has just stored (they are not read back).

        Only ``_id`` lookups (an ``$in`` on another field is a full scan on nx-27017), so the cost stays flat as
        the store grows.
        """
        written = written or {}
        existing = self._existing("articles", sorted(touched), {"post_ids": 1})
        members = {aid: set(pids) | set((existing.get(aid) or {}).get("post_ids") or []) for aid, pids in touched.items()}
        wanted = sorted(set().union(*members.values()) - set(written))
        posts = dict(written)
        if wanted:
            posts.update((p["_id"], p) for p in self.db.posts.find({"_id": {"$in": wanted}}, {"body_html": 0}))
        docs, empty = [], []
        for aid, ids in members.items():
            doc = article_document(aid, [posts[i] for i in ids if i in posts], now=now)
            if doc is None:
                empty.append(aid)
            else:
                docs.append(doc)
        self._replace("articles", docs, set(existing))
        if empty:
            self.db.articles.delete_many({"_id": {"$in": empty}})
        self._inc("mongo/articles_written", len(docs))


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
        index = RepostIndex(self.db, **self.repost) if self.repost is not None else None
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
                    "MongoDB write failed (%s); retrying %d items in %.1fs", type(exc).__name__, len(batch), delay
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
