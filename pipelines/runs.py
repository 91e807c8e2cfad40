"""Runs: a lock per board so scheduled runs do not overlap, a ``crawl_runs`` document per run, and the summary
printed at the end of every run.

* Lock: ``locks`` documents ``{_id: "board:600519", run_id, host, pid, heartbeat}`` (heartbeat = epoch seconds).
  A run takes every board it walks or stops at start with finish reason ``locked`` naming the holder. Processes of
  one run (same ``GUBA_RUN_ID``, e.g. scrapy-redis workers) share the lock. A holder whose heartbeat is older than
  ``GUBA_LOCK_STALE_SECONDS``, or whose process is gone (same host), is taken over — so a run killed with
  SIGKILL can be restarted at once.
* ``crawl_runs``: ``{_id: "<run_id>:<host>:<pid>", run_id, spider, boards, started_at, finished_at,
  finish_reason, pages {...}, items, posts {new, updated, unchanged, deleted}, replies, blocks, retries,
  layout_changes, monitors {passed, failures}, stats}``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pymongo import ReplaceOne
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError
from scrapy import signals
from scrapy.exceptions import CloseSpider
from twisted.internet import task

from pipelines.mongo_conn import mongo_target, open_database, redact_uri

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


def run_id_from(settings: Any) -> str:
    """``GUBA_RUN_ID`` if set (shared by the processes of one distributed run), else a fresh id."""
    value = settings.get("GUBA_RUN_ID") or os.environ.get("GUBA_RUN_ID") or ""
    return str(value) or f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BoardLock:
    """Board locks in MongoDB (see module docstring). Whole-document writes only (nx-27017 safe)."""

    def __init__(self, db: Database[Any], run_id: str, *, stale_seconds: float) -> None:
        self.db = db
        self.run_id = run_id
        self.stale_seconds = stale_seconds
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.keys: list[str] = []

    def _doc(self, key: str) -> dict[str, Any]:
        return {"_id": key, "run_id": self.run_id, "host": self.host, "pid": self.pid, "heartbeat": time.time()}

    def _stale(self, holder: dict[str, Any]) -> bool:
        if time.time() - float(holder.get("heartbeat") or 0) > self.stale_seconds:
            return True
        return holder.get("host") == self.host and not _pid_alive(int(holder.get("pid") or 0))

    def acquire(self, boards: list[str]) -> dict[str, Any] | None:
        """Take every board; on conflict release what was taken and return the holder's document."""
        for board in boards:
            key = f"board:{board}"
            for _ in range(3):
                try:
                    self.db.locks.insert_one(self._doc(key))
                    self.keys.append(key)
                    break
                except DuplicateKeyError:
                    holder = self.db.locks.find_one({"_id": key})
                    if holder is None:
                        continue
                    if holder.get("run_id") == self.run_id:
                        break  # another process of this run holds it: share
                    if self._stale(holder):
                        logger.warning("Taking over the stale lock on %s from run %s (pid %s on %s)",
                                       board, holder.get("run_id"), holder.get("pid"), holder.get("host"))
                        self.db.locks.delete_one({"_id": key, "heartbeat": holder.get("heartbeat")})
                        continue
                    self.release()
                    return holder
        return None

    def heartbeat(self) -> None:
        if self.keys:
            self.db.locks.bulk_write(
                [ReplaceOne({"_id": k, "run_id": self.run_id}, self._doc(k)) for k in self.keys], ordered=False
            )

    def release(self) -> None:
        if self.keys:
            self.db.locks.delete_many({"_id": {"$in": self.keys}, "run_id": self.run_id})
            self.keys = []


def run_document(
    *, run_id: str, spider: str, boards: list[str], stats: dict[str, Any], reason: str, now: datetime
) -> dict[str, Any]:
    """The ``crawl_runs`` document of a run, from its stats."""

    def n(key: str) -> int:
        return int(stats.get(key, 0) or 0)

    started = stats.get("start_time")
    return {
        "_id": f"{run_id}:{socket.gethostname()}:{os.getpid()}",
        "run_id": run_id,
        "spider": spider,
        "boards": boards,
        "started_at": started if isinstance(started, datetime) else None,
        "finished_at": now,
        "finish_reason": reason,
        "pages": {
            "list": n("guba/pages/list"),
            "post": n("guba/posts"),
            "replies": n("guba/pages/replies"),
            "verification": n("guba/pages/verification") + n("guba/pages/login"),
            "deleted": n("guba/pages/deleted"),
            "responses": n("downloader/response_count"),
        },
        "items": n("item_scraped_count"),
        "posts": {
            "new": n("mongo/posts_new"),
            "updated": n("mongo/posts_updated"),
            "unchanged": n("mongo/posts_unchanged"),
            "deleted": n("mongo/posts_deleted"),
        },
        "replies": n("guba/replies"),
        "blocks": n("guba/blocked"),
        "blocked_gave_up": n("guba/blocked/gave_up"),
        "retries": n("retry/count") + n("guba/blocked/retries"),
        "layout_changes": n("guba/layout_changed"),
        "board_stops": {k.rsplit("/", 1)[-1]: v for k, v in stats.items() if k.startswith("guba/board_stop/")},
        "monitors": {
            "passed": bool(stats.get("guba/monitors/passed")),
            "failures": list(stats.get("guba/monitors/failures") or []),
        },
        "stats": {k.replace(".", "_"): v for k, v in stats.items() if isinstance(v, int | float | str)},
    }


def summary_lines(doc: dict[str, Any]) -> list[str]:
    p, posts = doc["pages"], doc["posts"]
    verdict = "passed" if doc["monitors"]["passed"] else (
        "FAILED: " + "; ".join(doc["monitors"]["failures"]) if doc["monitors"]["failures"] else "not run"
    )
    return [
        f"Run {doc['run_id']} ({doc['spider']}, boards {','.join(doc['boards']) or '-'}): {doc['finish_reason']}",
        f"  pages: {p['list']} list, {p['post']} post, {p['replies']} replies, {p['verification']} verification,"
        f" {p['deleted']} deleted",
        f"  posts: {posts['new']} new, {posts['updated']} updated, {posts['unchanged']} unchanged,"
        f" {posts['deleted']} deleted; {doc['replies']} replies",
        f"  blocks: {doc['blocks']} ({doc['blocked_gave_up']} given up); retries {doc['retries']};"
        f" layout changes {doc['layout_changes']}",
        f"  monitors: {verdict}",
    ]


class RunExtension:
    """Board lock at start, ``crawl_runs`` document and printed summary at the end.

    Settings: GUBA_RUN_ID, GUBA_LOCK_ENABLED (True), GUBA_LOCK_STALE_SECONDS (900), GUBA_LOCK_HEARTBEAT_SECONDS (60),
    MONGO_URI / MONGO_DATABASE. Without MONGO_URI there is no lock and no document; the summary is still printed.
    """

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.uri, self.database, self.timeout_ms = mongo_target(s)
        self.run_id = run_id_from(s)
        self.lock_enabled = s.getbool("GUBA_LOCK_ENABLED", True)
        self.stale_seconds = s.getfloat("GUBA_LOCK_STALE_SECONDS", 900)
        self.heartbeat_seconds = s.getfloat("GUBA_LOCK_HEARTBEAT_SECONDS", 60)
        self.db: Database[Any] | None = None
        self.lock: BoardLock | None = None
        self._beat: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunExtension:
        o = cls(crawler)
        crawler.signals.connect(o.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(o.spider_closed, signal=signals.spider_closed)
        return o

    def spider_opened(self, spider: Spider) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("guba/run_id", self.run_id)
        if not self.uri:
            return
        try:
            self.db = open_database(self.uri, self.database, timeout_ms=self.timeout_ms)
        except PyMongoError as exc:
            logger.warning("No run record (MongoDB at %s: %s)", redact_uri(self.uri), type(exc).__name__)
            return
        boards = list(getattr(spider, "boards", []) or [])
        if self.lock_enabled and boards:
            self.lock = BoardLock(self.db, self.run_id, stale_seconds=self.stale_seconds)
            holder = self.lock.acquire(boards)
            if holder is not None:
                self.crawler.stats.inc_value("guba/locked")
                raise CloseSpider(
                    f"locked: {holder['_id']} is being crawled by run {holder.get('run_id')} "
                    f"(pid {holder.get('pid')} on {holder.get('host')}); not starting a second run"
                )
            self._beat = task.LoopingCall(self._heartbeat)
            self._beat.start(self.heartbeat_seconds, now=False)

    def _heartbeat(self) -> None:
        try:
            if self.lock is not None:
                self.lock.heartbeat()
        except PyMongoError as exc:
            logger.warning("Lock heartbeat failed: %s", type(exc).__name__)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._beat is not None and self._beat.running:
            self._beat.stop()
        assert self.crawler.stats is not None
        stats = dict(self.crawler.stats.get_stats())
        doc = run_document(
            run_id=self.run_id,
            spider=spider.name,
            boards=list(getattr(spider, "boards", []) or []),
            stats=stats,
            reason=reason,
            now=datetime.now(UTC),
        )
        for line in summary_lines(doc):
            logger.info(line)
        if self.db is None:
            return
        try:
            if reason.startswith("locked") is False or self.lock is None:
                self.db.crawl_runs.replace_one({"_id": doc["_id"]}, doc, upsert=True)
            if self.lock is not None:
                self.lock.release()
        except PyMongoError as exc:
            logger.warning("Could not write the crawl_runs document: %s", type(exc).__name__)
        finally:
            self.db.client.close()
            self.db = None
