"""The MongoDB writer: what one batch of items becomes in MongoDB (schema v1), and the writer process's side.

Kept free of Scrapy and of the repost index's imports (datasketch, numpy, scipy): the writer process
(``MONGO_WRITER_PROCESS``, see :class:`pipelines.mongo.WriterProcess`) imports this module, and the crawler imports
the repost index only when it writes from its own threads. :class:`MongoWriter` is synchronous and idempotent: a
batch can be retried whole.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing.context
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pymongo import InsertOne, ReplaceOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from crawler.items import BoardDoneItem, DeletedPostItem, PostItem, RepliesDoneItem, ReplyItem, ReplyPageItem
from pipelines.documents import (
    article_document,
    content_changed,
    deleted_post_document,
    post_document,
    reply_document,
)
from pipelines.mongo_conn import TRANSIENT_ERRORS, duplicate_key_indexes, insert_new, open_database

if TYPE_CHECKING:
    from pipelines.repost_index import RepostIndex

logger = logging.getLogger(__name__)


class StatsSink(Protocol):
    """What the writer needs of a stats collector (Scrapy's, or the writer process's own)."""

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None: ...


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
        self, db: Database[Any], stats: StatsSink | None = None, index: RepostIndex | None = None
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
            raced = [docs[i] for i in duplicate_key_indexes(exc) if isinstance(ops[i], InsertOne)]
            if raced:
                self._replace(coll, raced, None)

    def _insert_new(self, coll: str, docs: list[dict[str, Any]]) -> None:
        """Insert documents read as missing; one that another process inserted meanwhile is replaced instead."""
        raced = self._insert_or_existing(coll, docs)
        if raced:
            self._replace(coll, raced, None)

    def _insert_or_existing(self, coll: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Insert documents (unordered); return those whose ``_id`` was already stored (not written). Other errors
        raise."""
        return [docs[i] for i in insert_new(self.db[coll], docs)]

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
        # Replies are inserted without reading first: nearly all are new (an incremental run fetches replies from
        # the first page not yet stored), and the read cost as much as the insert. Those already stored are then
        # read and rewritten; only their first_seen_at survives a rewrite.
        rdocs = [reply_document(r, now=now) for r in batch.replies.values()]
        stored = self._insert_or_existing("replies", rdocs)
        if stored:
            old = self._existing("replies", [d["_id"] for d in stored], {"first_seen_at": 1})
            self._replace("replies", [
                reply_document(batch.replies[d["_id"]], now=now, existing=old.get(d["_id"])) for d in stored
            ], set(old))
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


# --- the writer process's side (module level: the child imports this module) ---------------------------
class WriterSpawnProcess(multiprocessing.context.SpawnProcess):
    """A "spawn" process that does not re-run the crawler's main module.

    Python's spawn runs the parent's main script again in the child (as ``__mp_main__``); for the ``scrapy`` console
    script that imports all of Scrapy (~50 MB and a second of CPU) into a process that needs only this module.
    (``python -m scrapy`` is skipped by Python itself.) Defined here, not in :mod:`pipelines.mongo`: the process
    object is pickled to the child, which imports its class's module.
    """

    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        if sys.platform == "win32":
            return multiprocessing.context.SpawnProcess._Popen(process_obj)
        from multiprocessing import popen_spawn_posix, spawn

        original = spawn.get_preparation_data

        def without_main(name: str) -> dict[str, Any]:
            data = original(name)
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
            return data

        spawn.get_preparation_data = without_main  # read once, in this thread, while the process starts
        try:
            return popen_spawn_posix.Popen(process_obj)
        finally:
            spawn.get_preparation_data = original


class WriterContext(multiprocessing.context.SpawnContext):
    """The multiprocessing context of the writer process (see :class:`WriterSpawnProcess`)."""

    Process = WriterSpawnProcess


def to_wire(batch: Batch) -> dict[str, Any]:
    """What is sent (pickled) to the writer process: the batch without the posts' and replies' ``raw`` (the page's
    JSON, most of an item's size, and not stored). Plain dicts pickle ~3x faster than the dataclasses would; the
    batch's own items are not touched."""

    def slim(items: Any) -> list[dict[str, Any]]:
        return [{k: v for k, v in vars(item).items() if k != "raw"} for item in items]

    return {
        "posts": slim(batch.posts.values()),
        "deleted": list(batch.deleted.values()),
        "replies": slim(batch.replies.values()),
        "replies_done": list(batch.replies_done.values()),
    }


def from_wire(data: dict[str, Any]) -> Batch:
    """The batch :func:`to_wire` sent, with ``raw = {}`` on its posts and replies."""

    def rebuild(cls: type[Any], state: dict[str, Any]) -> Any:
        item = object.__new__(cls)
        item.__dict__.update(state)
        item.raw = {}
        return item

    batch = Batch()
    for state in data["posts"]:
        post = rebuild(PostItem, state)
        batch.posts[post.post_id] = post
    batch.deleted = {d.post_id: d for d in data["deleted"]}
    for state in data["replies"]:
        reply = rebuild(ReplyItem, state)
        batch.replies[reply.reply_id] = reply
    batch.replies_done = {d.post_id: d for d in data["replies_done"]}
    return batch


_CHILD: dict[str, Any] = {}


class _ChildStats:
    """Stat increments made in the child, sent back with each batch's result."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] = self.values.get(key, start) + count


def child_init(uri: str, database: str, timeout_ms: int, repost: dict[str, Any] | None, parent: int) -> None:
    # PR_SET_PDEATHSIG follows the thread that started this process: the pipeline's writer thread, which lives as
    # long as the crawl (and a killed crawler takes all its threads with it).
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the crawler died before the line above took effect
        os._exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the crawler, which stops this process
    _CHILD.update(uri=uri, database=database, timeout_ms=timeout_ms, repost=repost)


def child_ready() -> bool:
    """Called once before the crawl starts: import and connect now rather than on the first batch, mid-crawl (the
    repost index brings numpy and scipy along). A failed connection is tried again by the first batch."""
    with contextlib.suppress(*TRANSIENT_ERRORS):
        _child_writer()
    return True


def _child_writer() -> MongoWriter:
    writer: MongoWriter | None = _CHILD.get("writer")
    if writer is None:
        repost = _CHILD["repost"]
        if repost:
            from pipelines.repost_index import RepostIndex
        db = open_database(_CHILD["uri"], _CHILD["database"], timeout_ms=_CHILD["timeout_ms"])
        writer = _CHILD["writer"] = MongoWriter(db, None, RepostIndex(db, **repost) if repost else None)
    return writer


def child_write(data: dict[str, Any], now: datetime) -> tuple[str, Any]:
    stats = _ChildStats()
    try:
        batch = from_wire(data)
        writer = _child_writer()
        writer.stats = stats
        writer.write(batch, now)
    except TRANSIENT_ERRORS as exc:
        return "transient", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # reported to the crawler, which spills the batch
        return "refused", f"{type(exc).__name__}: {exc}"
    return "ok", stats.values
