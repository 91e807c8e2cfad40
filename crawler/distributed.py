"""Scale-out: several crawler processes share one crawl through Redis (scrapy-redis underneath).

With ``REDIS_URL`` set, :class:`RedisAddon` (registered in ``ADDONS``) switches the crawl to:

* :class:`RunScheduler` -- scrapy-redis's scheduler on one shared priority queue per run and spider; a
  worker that finishes never flushes it (others may still be working, or a stopped run may be resumed);
  idle workers poll the queue and close once it has been empty with no worker busy anywhere for
  ``REDIS_IDLE_CLOSE_SECONDS``; the last worker out deletes the run's keys.
* :class:`RunDupeFilter` -- one shared fingerprint set per run (so every scheduled run can fetch the same
  posts again), with an expiry refreshed on every write, so a crashed run's keys vanish by themselves.
* :class:`RunStartMiddleware` -- the bridge for Scrapy's ``async def start()``: every worker runs the
  spider's unchanged ``start()``, but only the first worker of a run (``SET NX``) pushes its start requests;
  the others check they were started with the same ones and then work from the shared queue.
* :func:`dumps` / :func:`loads` -- the queue's serializer: tagged JSON, not pickle, so a shared Redis can
  never make a crawler run code.

Every key of a run is ``<REDIS_KEY_PREFIX>:<GUBA_RUN_ID>:<spider>:<part>``; processes of one crawl share
``REDIS_URL`` and ``GUBA_RUN_ID`` and run the same command. Settings: crawler/settings.py, "scale-out".
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import redis
from scrapy import signals
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.http import Request
from scrapy.utils.asyncio import create_looping_call
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.misc import load_object
from scrapy_redis.connection import get_redis_from_settings
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

# Letters, digits, '.', '_' and '-': safe inside a Redis key and in scrapy-redis's %-formatted key templates.
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# meta key of a request this worker popped itself while idle and hands to its engine (see _hand_off).
_HANDOFF = "_guba_redis_handoff"


# --- configuration -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunConfig:
    """The scale-out settings of one process, validated.

    :meth:`from_settings` reads ``GUBA_RUN_ID``, ``REDIS_KEY_PREFIX``, ``REDIS_RUN_TTL``,
    ``REDIS_IDLE_CLOSE_SECONDS``, ``REDIS_POLL_SECONDS`` and ``REDIS_WORKER_TIMEOUT`` and raises
    ``ValueError`` naming the setting when one is missing or out of range.
    """

    run_id: str
    prefix: str = "guba"
    ttl_seconds: int = 172800
    idle_close_seconds: float = 5.0
    poll_seconds: float = 1.0
    worker_timeout_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RunConfig:
        run_id = str(settings.get("GUBA_RUN_ID") or "").strip()
        if not run_id:
            raise ValueError(
                "REDIS_URL is set but GUBA_RUN_ID is empty: give every process of one crawl the same run id, "
                "e.g. GUBA_RUN_ID=$(date +%Y%m%d%H%M) or -s GUBA_RUN_ID=..., or unset REDIS_URL"
            )
        if not _RUN_ID_RE.match(run_id):
            raise ValueError(f"GUBA_RUN_ID must be 1-64 of A-Z a-z 0-9 . _ - (starting alphanumeric), got {run_id!r}")
        prefix = str(settings.get("REDIS_KEY_PREFIX") or "guba")
        if not _PREFIX_RE.match(prefix):
            raise ValueError(f"REDIS_KEY_PREFIX must be 1-64 of A-Z a-z 0-9 . _ : -, got {prefix!r}")
        config = cls(
            run_id=run_id,
            prefix=prefix,
            ttl_seconds=settings.getint("REDIS_RUN_TTL", 172800),
            idle_close_seconds=settings.getfloat("REDIS_IDLE_CLOSE_SECONDS", 5.0),
            poll_seconds=settings.getfloat("REDIS_POLL_SECONDS", 1.0),
            worker_timeout_seconds=settings.getfloat("REDIS_WORKER_TIMEOUT", 60.0),
        )
        if config.ttl_seconds <= 0:
            raise ValueError(f"REDIS_RUN_TTL must be > 0 seconds, got {config.ttl_seconds}")
        if config.poll_seconds <= 0:
            raise ValueError(f"REDIS_POLL_SECONDS must be > 0, got {config.poll_seconds}")
        if config.idle_close_seconds < 0:
            raise ValueError(f"REDIS_IDLE_CLOSE_SECONDS must be >= 0, got {config.idle_close_seconds}")
        if config.worker_timeout_seconds <= config.poll_seconds:
            raise ValueError(
                f"REDIS_WORKER_TIMEOUT ({config.worker_timeout_seconds}) must be longer than "
                f"REDIS_POLL_SECONDS ({config.poll_seconds}): a live worker would look dead between heartbeats"
            )
        return config

    def key(self, spider_name: str, part: str) -> str:
        """``<prefix>:<run id>:<spider_name>:<part>``; ``spider_name`` may be scrapy-redis's ``%(spider)s``."""
        return f"{self.prefix}:{self.run_id}:{spider_name}:{part}"

    def run_pattern(self, spider_name: str = "*") -> str:
        """A ``SCAN MATCH`` pattern for every key of this run (of ``spider_name``, default all spiders)."""
        return f"{self.prefix}:{self.run_id}:{spider_name}:*"

    @property
    def ttl_ms(self) -> int:
        return self.ttl_seconds * 1000

    @property
    def worker_timeout_ms(self) -> int:
        return int(self.worker_timeout_seconds * 1000)


def safe_redis_url(url: str) -> str:
    """``url`` without its password (for logs): ``redis://:secret@host:6379/0`` -> ``redis://host:6379/0``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


class RedisAddon:
    """Switches scheduling and request deduplication to the shared Redis when ``REDIS_URL`` is set.

    Runs after ``-s`` settings are applied, so ``-s REDIS_URL=...`` / ``-s GUBA_RUN_ID=...`` work as well
    as the environment. Empty ``REDIS_URL``: changes nothing (a plain single-process crawl). Otherwise sets,
    with priority ``addon`` (a ``-s`` on the command line still wins), SCHEDULER, DUPEFILTER_CLASS,
    SCHEDULER_QUEUE_CLASS, the per-run SCHEDULER_QUEUE_KEY / SCHEDULER_DUPEFILTER_KEY, the JSON serializer,
    SCHEDULER_PERSIST=True, and adds :class:`RunStartMiddleware`. Raises ``ValueError`` naming the setting
    when ``GUBA_RUN_ID`` or another scale-out setting is missing or invalid (the crawl does not start).
    """

    def update_settings(self, settings: BaseSettings) -> None:
        if not settings.get("REDIS_URL"):
            return
        config = RunConfig.from_settings(settings)
        values: dict[str, Any] = {
            "SCHEDULER": f"{__name__}.RunScheduler",
            "DUPEFILTER_CLASS": f"{__name__}.RunDupeFilter",
            "SCHEDULER_QUEUE_CLASS": f"{__name__}.RunPriorityQueue",
            "SCHEDULER_QUEUE_KEY": config.key("%(spider)s", "requests"),
            "SCHEDULER_DUPEFILTER_KEY": config.key("%(spider)s", "dupefilter"),
            "SCHEDULER_SERIALIZER": __name__,
            # The queue is shared: a closing worker must never flush it (RunScheduler.close ignores it too).
            "SCHEDULER_PERSIST": True,
            "SCHEDULER_FLUSH_ON_START": False,
            # scrapy-redis uses it as a blocking-pop timeout, which would freeze the reactor; idling is ours.
            "SCHEDULER_IDLE_BEFORE_CLOSE": 0,
        }
        for name, value in values.items():
            settings.set(name, value, priority="addon")
        settings.set_in_component_priority_dict("SPIDER_MIDDLEWARES", RunStartMiddleware, 30)


# --- the queue's serializer -------------------------------------------------------------------------------
_TAG = "__guba_redis_t"


def _encode(obj: Any) -> Any:
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, bytes):
        return {_TAG: "b", "v": base64.b64encode(obj).decode("ascii")}
    if isinstance(obj, list):
        return [_encode(x) for x in obj]
    if isinstance(obj, tuple):
        return {_TAG: "t", "v": [_encode(x) for x in obj]}
    if isinstance(obj, frozenset):
        return {_TAG: "f", "v": [_encode(x) for x in obj]}
    if isinstance(obj, set):
        return {_TAG: "s", "v": [_encode(x) for x in obj]}
    if isinstance(obj, dict):
        if _TAG not in obj and all(isinstance(k, str) for k in obj):
            return {k: _encode(v) for k, v in obj.items()}
        return {_TAG: "d", "v": [[_encode(k), _encode(v)] for k, v in obj.items()]}
    raise TypeError(
        f"cannot put a {type(obj).__name__} into the shared Redis queue (request meta / cb_kwargs must be "
        f"plain data: str, int, float, bool, None, bytes, list, tuple, set, dict): {obj!r:.200}"
    )


def _decode(d: dict[str, Any]) -> Any:
    kind = d.get(_TAG)
    if kind is None or len(d) != 2 or "v" not in d:
        return d
    v = d["v"]
    if kind == "b":
        return base64.b64decode(v)
    if kind == "t":
        return tuple(v)
    if kind == "f":
        return frozenset(v)
    if kind == "s":
        return set(v)
    if kind == "d":
        return {k: val for k, val in v}
    raise ValueError(f"unknown tag {kind!r} in a request from the shared Redis queue")


def dumps(obj: Any) -> bytes:
    """A request dict (``Request.to_dict(spider=...)``) -> UTF-8 JSON bytes for the shared queue.

    bytes, tuples, sets, frozensets and dicts with non-str keys are tagged so :func:`loads` gives back
    equal values of the same types. Anything else (an object in ``meta``) raises ``TypeError`` naming it.
    """
    return json.dumps(_encode(obj), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """The inverse of :func:`dumps`. Malformed data raises ``ValueError`` (``json.JSONDecodeError``)."""
    return json.loads(data, object_hook=_decode)


# --- queue and dupefilter ---------------------------------------------------------------------------------
class RunPriorityQueue(PriorityQueue):
    """scrapy-redis's priority queue whose key expires ``REDIS_RUN_TTL`` after the last push, so an
    abandoned run's queue does not stay in Redis forever (an empty zset vanishes by itself)."""

    def __init__(self, server: Any, spider: Spider, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.ttl_ms = RunConfig.from_settings(spider.settings).ttl_ms

    def push(self, request: Request) -> None:
        data = self._encode_request(request)
        pipe = self.server.pipeline(transaction=False)
        pipe.execute_command("ZADD", self.key, -request.priority, data)
        pipe.pexpire(self.key, self.ttl_ms)
        pipe.execute()


class RunDupeFilter(RFPDupeFilter):
    """The run's shared request-fingerprint set (``...:<spider>:dupefilter``).

    Fingerprints are Scrapy's own (``REQUEST_FINGERPRINTER_CLASS``), so dedup means the same as in a plain
    crawl. Every add refreshes the key's expiry (``REDIS_RUN_TTL``); closing one worker never deletes it
    (others share it) -- :meth:`RunScheduler.close` of the last worker out does.
    """

    def __init__(self, server: Any, key: str, debug: bool = False, *, ttl_ms: int = 172800 * 1000,
                 fingerprinter: Any = None) -> None:
        super().__init__(server, key, debug)
        self.ttl_ms = ttl_ms
        self.fingerprinter = fingerprinter

    @classmethod
    def from_spider(cls, spider: Spider) -> RunDupeFilter:
        settings = spider.settings
        config = RunConfig.from_settings(settings)
        key = str(settings.get("SCHEDULER_DUPEFILTER_KEY") or config.key("%(spider)s", "dupefilter"))
        crawler = getattr(spider, "crawler", None)
        return cls(
            get_redis_from_settings(settings),
            key=key % {"spider": spider.name},
            debug=settings.getbool("DUPEFILTER_DEBUG"),
            ttl_ms=config.ttl_ms,
            fingerprinter=crawler.request_fingerprinter if crawler is not None else None,
        )

    def request_fingerprint(self, request: Request) -> str:
        if self.fingerprinter is None:
            return str(super().request_fingerprint(request))
        return str(self.fingerprinter.fingerprint(request).hex())

    def request_seen(self, request: Request) -> bool:
        """True if any worker of the run already scheduled ``request``; records it otherwise."""
        pipe = self.server.pipeline(transaction=False)
        pipe.sadd(self.key, self.request_fingerprint(request))
        pipe.pexpire(self.key, self.ttl_ms)
        added, _ = pipe.execute()
        return bool(added == 0)

    def close(self, reason: str = "") -> None:
        return None  # shared with the other workers: see RunScheduler.close


# --- the scheduler --------------------------------------------------------------------------------------
def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class RunScheduler(Scheduler):
    """scrapy-redis's scheduler, made safe and prompt for several workers of one run.

    * ``has_pending_requests()`` reports only this worker's own backlog, so the engine's idea of "idle" is
      local; while idle, a poll every ``REDIS_POLL_SECONDS`` pops a request from the shared queue and hands
      it to the engine (instead of waiting for the engine's 5 s heartbeat), and publishes whether this
      worker is busy (``...:busy:<worker>``, expires after ``REDIS_WORKER_TIMEOUT`` if the worker dies).
    * The spider is kept open (``DontCloseSpider``) until the shared queue has been empty and no worker
      busy for ``REDIS_IDLE_CLOSE_SECONDS``; then it closes with reason ``finished``.
    * ``close()`` never flushes the shared queue. The last live worker of the run, finding the queue empty,
      deletes the run's keys (dupefilter, start claim, worker set). A non-empty queue is left for the other
      workers, or for a new worker started with the same ``GUBA_RUN_ID`` (which resumes the run).

    Stats: ``scheduler/enqueued/redis``, ``scheduler/dequeued/redis``, ``dupefilter/filtered``,
    ``redis/handoffs``, ``redis/left_in_queue``, ``redis/run_cleaned``.
    """

    df: Any  # set by scrapy-redis's __init__ (or in open())
    queue: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.crawler: Crawler | None = None
        self.config: RunConfig | None = None
        self.worker = _worker_id()
        self._local: deque[Request] = deque()
        self._loop: Any = None
        self._busy = False
        self._idle_since: float | None = None
        self._finished = False
        self._closed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunScheduler:
        instance: RunScheduler = super().from_crawler(crawler)
        instance.crawler = crawler
        instance.config = RunConfig.from_settings(crawler.settings)
        crawler.signals.connect(instance._spider_idle, signal=signals.spider_idle)
        return instance

    # keys
    def _key(self, part: str) -> str:
        assert self.config is not None
        return self.config.key(self.spider.name, part)

    def _worker_key(self, kind: str, worker: str) -> str:
        return self._key(f"{kind}:{worker}")

    def open(self, spider: Spider) -> None:
        # scrapy-redis's open(), minus its deprecated Spider.log() call and its optional flush.
        self.spider = spider
        self.queue = load_object(self.queue_cls)(
            server=self.server, spider=spider, key=self.queue_key % {"spider": spider.name},
            serializer=self.serializer,
        )
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)
        assert self.config is not None
        self._heartbeat(busy=False)
        logger.info(
            "Worker %s joined run %s of %s on %s (%d requests in the shared queue)",
            self.worker, self.config.run_id, spider.name,
            safe_redis_url(spider.settings.get("REDIS_URL", "")), len(self.queue),
        )
        self._loop = create_looping_call(self._tick)
        self._loop.start(self.config.poll_seconds, now=False)

    def close(self, reason: str) -> None:
        """Leave the run: return unstarted requests to the shared queue, and if this was the last live
        worker and the queue is empty, delete the run's keys. Never flushes a queue others may need."""
        self._closed = True
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        while self._local:
            self.queue.push(self._local.popleft())
        me = self.worker
        pipe = self.server.pipeline(transaction=False)
        pipe.delete(self._worker_key("alive", me), self._worker_key("busy", me))
        pipe.srem(self._key("workers"), me)
        pipe.smembers(self._key("workers"))
        *_, members = pipe.execute()
        others = [self._worker_key("alive", _text(m)) for m in members]
        alive = int(self.server.exists(*others)) if others else 0
        left = len(self.queue)
        if alive == 0 and left == 0:
            self.server.delete(self.df.key, self._key("workers"), self._key("start"), self.queue.key)
            self._inc("redis/run_cleaned")
            logger.info("Run %s of %s is over: its Redis keys are deleted", self._run_id, self.spider.name)
        elif left:
            self._set_stat("redis/left_in_queue", left)
            logger.info(
                "Left %d requests in the shared queue (%d other workers alive); start a worker with the same "
                "GUBA_RUN_ID to resume", left, alive,
            )

    # scheduling
    def enqueue_request(self, request: Request) -> bool:
        if request.meta.pop(_HANDOFF, False):
            # Popped from the shared queue by _hand_off: already deduplicated when it was first scheduled.
            self._local.append(request)
            return True
        # scrapy-redis's enqueue_request(), with Scrapy 2.19's stats API (no spider argument).
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            self._inc("dupefilter/filtered")
            return False
        self.queue.push(request)
        self._inc("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        request: Request | None = self._local.popleft() if self._local else self.queue.pop()
        if request is None:
            return None
        self._inc("scheduler/dequeued/redis")
        if not self._busy:
            self._set_busy()
        return request

    def has_pending_requests(self) -> bool:
        # Only the local backlog: the shared queue is polled by _tick, so "idle" stays a local notion.
        return bool(self._local)

    # polling, heartbeat, closing
    def _spider_idle(self) -> None:
        if not self._finished:
            raise DontCloseSpider

    def _tick(self) -> None:
        crawler, config = self.crawler, self.config
        engine = crawler.engine if crawler is not None else None
        if engine is None or config is None or self._finished or self._closed:
            return
        try:
            idle = engine.spider_is_idle()
        except RuntimeError:  # the engine slot is gone: closing
            return
        try:
            self._heartbeat(busy=not idle)
            # Hand off one request at a time, and none while paused: a paused worker must not drain the
            # shared queue into its own backlog.
            may_take = not self._local and not engine.paused and (idle or not engine.needs_backout())
            if may_take and self._hand_off():
                self._idle_since = None
                return
            # A paused worker (GUBA_BLOCK_ACTION=pause) resumes later: it is not finished.
            if not idle or engine.paused or self._others_busy():
                self._idle_since = None
                return
        except redis.RedisError as exc:
            # Keep the spider open: the shared state is unknown, not empty.
            logger.warning("Redis error (%s); retrying every %.1fs", exc, config.poll_seconds)
            self._idle_since = None
            return
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        elif now - self._idle_since >= config.idle_close_seconds:
            self._finished = True
            logger.info("Run %s: the shared queue has been empty and no worker busy for %.1fs: closing",
                        config.run_id, config.idle_close_seconds)
            deferred_from_coro(engine.close_spider_async(reason="finished"))

    def _hand_off(self) -> bool:
        assert self.crawler is not None and self.crawler.engine is not None
        request = self.queue.pop()
        if request is None:
            return False
        self._set_busy()
        request.meta[_HANDOFF] = True
        self._inc("redis/handoffs")
        # engine.crawl() both schedules (enqueue_request keeps it locally) and wakes the engine up.
        self.crawler.engine.crawl(request)
        return True

    def _heartbeat(self, *, busy: bool) -> None:
        assert self.config is not None
        me = self.worker
        pipe = self.server.pipeline(transaction=False)
        pipe.set(self._worker_key("alive", me), 1, px=self.config.worker_timeout_ms)
        pipe.sadd(self._key("workers"), me)
        pipe.pexpire(self._key("workers"), self.config.ttl_ms)
        if busy:
            pipe.set(self._worker_key("busy", me), 1, px=self.config.worker_timeout_ms)
        elif self._busy:
            pipe.delete(self._worker_key("busy", me))
        pipe.execute()
        self._busy = busy

    def _set_busy(self) -> None:
        assert self.config is not None
        self.server.set(self._worker_key("busy", self.worker), 1, px=self.config.worker_timeout_ms)
        self._busy = True

    def _others_busy(self) -> bool:
        members = [_text(m) for m in self.server.smembers(self._key("workers"))]
        keys = [self._worker_key("busy", m) for m in members if m != self.worker]
        return bool(keys) and int(self.server.exists(*keys)) > 0

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)

    @property
    def _run_id(self) -> str:
        return self.config.run_id if self.config is not None else "?"

    def _set_stat(self, key: str, value: Any) -> None:
        if self.stats is not None:
            self.stats.set_value(key, value)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


# --- the start() bridge -------------------------------------------------------------------------------------
class RunStartMiddleware:
    """Lets spiders with Scrapy's ``async def start()`` run unchanged on the shared queue.

    Every worker runs its spider's ``start()`` to the end (so whatever the spider sets up there happens in
    every worker), holding back the start requests. Items pass through. The first worker of a run claims
    ``...:<spider>:start`` (``SET NX``, holding a digest of the start requests' fingerprints) and pushes its
    start requests; every other worker drops its own copies (list pages are ``dont_filter``, so the
    dupefilter would not) after checking the digest matches. A worker started with other start requests
    (other ``-a boards=``) than the run's first worker logs an error and closes with reason
    ``run_mismatch``: all processes of one run must run the same command.

    Stats: ``redis/start/seeded`` or ``redis/start/skipped`` (number of start requests).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.config = RunConfig.from_settings(crawler.settings)
        self.server = get_redis_from_settings(crawler.settings)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunStartMiddleware:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        requests: list[Request] = []
        async for obj in start:
            if isinstance(obj, Request):
                requests.append(obj)
            else:
                yield obj
        assert self.crawler.spider is not None and self.crawler.stats is not None
        name = self.crawler.spider.name
        digest = self.digest(requests)
        key = self.config.key(name, "start")
        if self.server.set(key, digest, nx=True, px=self.config.ttl_ms):
            self.crawler.stats.set_value("redis/start/seeded", len(requests))
            logger.info("Run %s of %s: this worker seeds it with %d start requests",
                        self.config.run_id, name, len(requests))
            for request in requests:
                yield request
            return
        stored = self.server.get(key)
        if stored is not None and _text(stored) != digest:
            logger.error(
                "Run %s of %s was started with other start requests (other spider arguments) than this "
                "worker's: run the same command in every process of a run, or use a new GUBA_RUN_ID",
                self.config.run_id, name,
            )
            raise CloseSpider("run_mismatch")
        self.crawler.stats.set_value("redis/start/skipped", len(requests))
        logger.info("Run %s of %s was seeded by another worker: working from the shared queue",
                    self.config.run_id, name)

    def digest(self, requests: list[Request]) -> str:
        """Order-independent digest of the requests' fingerprints (Scrapy's request fingerprinter)."""
        fingerprinter = self.crawler.request_fingerprinter
        fps = sorted(fingerprinter.fingerprint(r).hex() for r in requests)
        return hashlib.sha1("\n".join(fps).encode("ascii")).hexdigest()
