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
* :class:`RedisOutage` -- what a worker does while Redis is unreachable (restarted, failing over): it keeps
  working on what it holds, keeps new requests in memory, retries with exponential backoff for up to
  ``REDIS_RETRY_SECONDS`` and then stops with reason ``redis_unavailable``. Queue and dupefilter writes are Lua
  scripts safe to replay, so a command whose reply was lost in the restart neither loses nor repeats a request.
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
from redis.backoff import ExponentialBackoff
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
    ``REDIS_IDLE_CLOSE_SECONDS``, ``REDIS_POLL_SECONDS``, ``REDIS_WORKER_TIMEOUT`` and ``REDIS_RETRY_SECONDS``
    and raises
    ``ValueError`` naming the setting when one is missing or out of range.
    """

    run_id: str
    prefix: str = "guba"
    ttl_seconds: int = 172800
    idle_close_seconds: float = 5.0
    poll_seconds: float = 1.0
    worker_timeout_seconds: float = 60.0
    retry_seconds: float = 300.0

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
            retry_seconds=settings.getfloat("REDIS_RETRY_SECONDS", 300.0),
        )
        if config.ttl_seconds <= 0:
            raise ValueError(f"REDIS_RUN_TTL must be > 0 seconds, got {config.ttl_seconds}")
        if config.poll_seconds <= 0:
            raise ValueError(f"REDIS_POLL_SECONDS must be > 0, got {config.poll_seconds}")
        if config.idle_close_seconds < 0:
            raise ValueError(f"REDIS_IDLE_CLOSE_SECONDS must be >= 0, got {config.idle_close_seconds}")
        if config.retry_seconds < 0:
            raise ValueError(f"REDIS_RETRY_SECONDS must be >= 0, got {config.retry_seconds}")
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
# Enqueue a new request: dedup and push in one atomic step. Replaying it after a lost reply cannot lose the
# request (if the first run went through, the request is queued and the replay just finds it seen).
# KEYS: dupefilter, queue. ARGV: fingerprint ("" = dont_filter), score, request, ttl ms. Returns 1 queued, 0 seen.
_ENQUEUE_LUA = """
if ARGV[1] ~= '' then
  local added = redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  if added == 0 then return 0 end
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
"""
# Pop the best request, recording it under this worker's ``popped`` key with the caller's token: a replay with
# the same token (the reply was lost) gets the same request again instead of losing it and popping the next.
# KEYS: queue, popped record. ARGV: token (32 hex), ttl ms. Returns the request, or nil if the queue is empty.
_POP_LUA = """
local last = redis.call('GET', KEYS[2])
if last and string.sub(last, 1, 32) == ARGV[1] then return string.sub(last, 33) end
local top = redis.call('ZRANGE', KEYS[1], 0, 0)
if #top == 0 then return false end
redis.call('ZREM', KEYS[1], top[1])
redis.call('SET', KEYS[2], ARGV[1] .. top[1], 'PX', ARGV[2])
return top[1]
"""


class RedisOutage:
    """One worker's view of whether its Redis answers, and when to try it again.

    Every failed Redis call is reported with :meth:`failed`: the first one logs a warning naming the server
    (``REDIS_URL`` without its password), later ones are retried no sooner than redis-py's
    ``ExponentialBackoff`` allows (:meth:`may_try`), and each counts ``guba/redis/retries``. The first call
    that succeeds again ends the outage (:meth:`recovered`). :meth:`expired` is true once Redis has been
    unreachable for longer than ``window`` seconds (``REDIS_RETRY_SECONDS``).

    Why not redis-py's ``Retry`` in ``REDIS_PARAMS``: it sleeps inside the call, which would freeze the whole
    crawler (downloads, item writes, Ctrl-C) for the outage; it counts attempts, not time; and it replays
    commands blindly. The client keeps redis-py's one immediate reconnect retry (stale pooled connections
    after a restart), and the writes it may replay are idempotent scripts.
    """

    REPORT_EVERY = 30.0  # s between "still unreachable" warnings

    def __init__(self, url: str, window: float, stats: Any = None, *, backoff: Any = None,
                 clock: Any = time.monotonic) -> None:
        self.url = safe_redis_url(url)
        self.window = window
        self.stats = stats
        self.backoff = backoff if backoff is not None else ExponentialBackoff(cap=2.0, base=0.05)
        self.clock = clock
        self.failures = 0
        self.since: float | None = None
        self.next_try = 0.0
        self._reported = 0.0

    @property
    def down(self) -> bool:
        return self.since is not None

    def down_for(self) -> float:
        return 0.0 if self.since is None else self.clock() - self.since

    def may_try(self) -> bool:
        """False while backing off after a failure: callers then keep what they have and try later."""
        return self.since is None or self.clock() >= self.next_try

    def expired(self) -> bool:
        return self.since is not None and self.down_for() > self.window

    def failed(self, exc: Exception, held: int = 0) -> None:
        now = self.clock()
        self.failures += 1
        if self.stats is not None:
            self.stats.inc_value("guba/redis/retries")
        if self.since is None:
            self.since = self._reported = now
            if self.stats is not None:
                self.stats.inc_value("guba/redis/outages")
            logger.warning(
                "Redis at %s (REDIS_URL) is unreachable (%s: %s): keeping this worker's requests in memory "
                "and retrying with backoff for up to %.0fs (REDIS_RETRY_SECONDS)",
                self.url, type(exc).__name__, exc, self.window,
            )
        elif now - self._reported >= self.REPORT_EVERY:
            self._reported = now
            logger.warning("Redis at %s still unreachable after %.0fs (%s); %d requests held here",
                           self.url, now - self.since, exc, held)
        self.next_try = now + self.backoff.compute(self.failures)

    def recovered(self) -> None:
        if self.since is None:
            return
        logger.warning("Redis at %s answers again after %.1fs (%d failed attempts): carrying on",
                       self.url, self.clock() - self.since, self.failures)
        self.since = None
        self.failures = 0
        self.next_try = 0.0
        self.backoff.reset()


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
    * Redis unreachable (:class:`RedisOutage`): requests the spider yields are held in memory (in order) and
      pushed, deduplicated, once Redis answers again; ``next_request`` gives nothing from the shared queue
      meanwhile, and the worker never counts as idle, so it cannot close as "finished" on a queue it cannot
      see. Past ``REDIS_RETRY_SECONDS`` it stops with reason ``redis_unavailable``, logging how many held
      requests are lost. Pushes and pops are replay-safe scripts (``_ENQUEUE_LUA``, ``_POP_LUA``).
    * The run's state gone from Redis while the worker is in it (the start claim, refreshed by every
      heartbeat, vanished: Redis restarted without persistence, or was flushed): requests queued before are
      lost, so the worker stops with reason ``redis_data_lost`` instead of ``finished`` (board watermarks do
      not move, and the next run fetches what this one missed).
    * ``close()`` never flushes the shared queue. The last live worker of the run, finding the queue empty,
      deletes the run's keys (dupefilter, start claim, worker set). A non-empty queue is left for the other
      workers, or for a new worker started with the same ``GUBA_RUN_ID`` (which resumes the run).

    Stats: ``scheduler/enqueued/redis``, ``scheduler/dequeued/redis``, ``dupefilter/filtered``,
    ``redis/handoffs``, ``redis/left_in_queue``, ``redis/run_cleaned``, ``guba/redis/retries``,
    ``guba/redis/outages``, ``guba/redis/lost_requests``, ``guba/redis/data_lost``.
    """

    df: Any  # set by scrapy-redis's __init__ (or in open())
    queue: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.crawler: Crawler | None = None
        self.config: RunConfig | None = None
        self.outage = RedisOutage("", 300.0)
        self.worker = _worker_id()
        self._local: deque[Request] = deque()  # popped from the shared queue by _hand_off, for this engine
        self._unsent: deque[Request] = deque()  # new requests held while Redis was unreachable
        self._pop_token: str | None = None  # set while a pop's outcome is unknown (see _pop)
        self._enqueue_script: Any = None
        self._pop_script: Any = None
        self._loop: Any = None
        self._busy = False
        self._idle_since: float | None = None
        self._finished = False
        self._gave_up = False
        self._run_seen = False  # the run's start claim was seen: its later absence means lost state
        self._data_lost = False
        self._closed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunScheduler:
        instance: RunScheduler = super().from_crawler(crawler)
        instance.crawler = crawler
        instance.config = RunConfig.from_settings(crawler.settings)
        instance.outage = RedisOutage(str(crawler.settings.get("REDIS_URL") or ""),
                                      instance.config.retry_seconds, crawler.stats)
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
        self._enqueue_script = self.server.register_script(_ENQUEUE_LUA)
        self._pop_script = self.server.register_script(_POP_LUA)
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
        held = len(self._local) + len(self._unsent)
        if self._gave_up:
            self._lost(held, "it gave up on Redis")
            return
        try:
            self._leave()
        except redis.RedisError as exc:
            held = len(self._local) + len(self._unsent)
            self._lost(held, f"Redis did not answer ({type(exc).__name__}: {exc})")

    def _leave(self) -> None:
        if self._data_lost:  # the run's queue is gone: nothing to return requests to
            if self._local or self._unsent:
                self._set_stat("guba/redis/lost_requests", len(self._local) + len(self._unsent))
            self._local.clear()
            self._unsent.clear()
            self._pop_token = None
        if self._pop_token is not None:  # a pop whose outcome is unknown: take its request back
            request = self._pop(raise_errors=True)
            if request is not None:
                self._local.append(request)
        while self._unsent:
            self._enqueue_new(self._unsent[0])
            self._unsent.popleft()
        while self._local:
            self.queue.push(self._local[0])
            self._local.popleft()
        me = self.worker
        pipe = self.server.pipeline(transaction=False)
        pipe.delete(self._worker_key("alive", me), self._worker_key("busy", me), self._worker_key("popped", me))
        pipe.srem(self._key("workers"), me)
        pipe.smembers(self._key("workers"))
        *_, members = pipe.execute()
        others = [self._worker_key("alive", _text(m)) for m in members]
        alive = int(self.server.exists(*others)) if others else 0
        left = len(self.queue)
        if alive == 0 and self._data_lost:
            # What the queue holds now was pushed after the loss: the run cannot be resumed, so it goes too.
            left = 0
        if alive == 0 and left == 0:
            # Workers that died without leaving are still members: their pop records go too.
            popped = [self._worker_key("popped", _text(m)) for m in members]
            self.server.delete(self.df.key, self._key("workers"), self._key("start"), self.queue.key, *popped)
            self._inc("redis/run_cleaned")
            logger.info("Run %s of %s is over: its Redis keys are deleted", self._run_id, self.spider.name)
        elif left:
            self._set_stat("redis/left_in_queue", left)
            logger.info(
                "Left %d requests in the shared queue (%d other workers alive); start a worker with the same "
                "GUBA_RUN_ID to resume", left, alive,
            )

    def _lost(self, held: int, why: str) -> None:
        if held:
            self._set_stat("guba/redis/lost_requests", held)
        logger.error(
            "Worker %s could not leave run %s cleanly: %s at %s (REDIS_URL). %d requests it held are lost (the "
            "next scheduled run fetches them); the shared queue, if Redis kept it, stays for a worker started "
            "with the same GUBA_RUN_ID", self.worker, self._run_id, why, self.outage.url, held,
        )

    # scheduling
    def enqueue_request(self, request: Request) -> bool:
        if request.meta.pop(_HANDOFF, False):
            # Popped from the shared queue by _hand_off: already deduplicated when it was first scheduled.
            self._local.append(request)
            return True
        if not self._unsent and not self._data_lost and self.outage.may_try():
            try:
                queued = self._enqueue_new(request)
            except redis.RedisError as exc:
                self.outage.failed(exc, len(self._unsent) + 1)
            else:
                self.outage.recovered()
                return queued
        # Redis unreachable (or requests held before this one): kept in order, pushed by _flush later.
        self._unsent.append(request)
        return True

    def _enqueue_new(self, request: Request) -> bool:
        """Dedup and push ``request`` in one replay-safe script; False (and logged) if already seen."""
        assert self.config is not None
        fingerprint = "" if request.dont_filter else self.df.request_fingerprint(request)
        data = self.queue._encode_request(request)
        queued = self._enqueue_script(keys=[self.df.key, self.queue.key],
                                      args=[fingerprint, -request.priority, data, self.config.ttl_ms])
        if not queued:
            self.df.log(request, self.spider)
            self._inc("dupefilter/filtered")
            return False
        self._inc("scheduler/enqueued/redis")
        return True

    def _flush(self) -> bool:
        """Push the requests held during an outage, in order. True once none are held."""
        if self._unsent and self.outage.may_try():
            try:
                while self._unsent:
                    self._enqueue_new(self._unsent[0])  # a replay after a lost reply finds it seen: fine
                    self._unsent.popleft()
            except redis.RedisError as exc:
                self.outage.failed(exc, len(self._unsent))
                return False
            self.outage.recovered()
        return not self._unsent

    def _pop(self, *, raise_errors: bool = False) -> Request | None:
        """The best request of the shared queue, or None (empty, or Redis unreachable / backing off).

        A pop whose reply is lost keeps its token, and the next pop replays it: the script hands back the
        request it already took for that token, so a restart between the pop and its reply loses nothing.
        """
        assert self.config is not None
        if not raise_errors and not self.outage.may_try():
            return None
        if self._pop_token is None:
            self._pop_token = uuid.uuid4().hex
        try:
            data = self._pop_script(keys=[self.queue.key, self._worker_key("popped", self.worker)],
                                    args=[self._pop_token, self.config.ttl_ms])
        except redis.RedisError as exc:
            if raise_errors:
                raise
            self.outage.failed(exc, len(self._unsent))
            return None
        self.outage.recovered()
        self._pop_token = None
        if data is None:
            return None
        request: Request = self.queue._decode_request(data)
        return request

    def next_request(self) -> Request | None:
        if self._local:
            request: Request | None = self._local.popleft()
        elif self._flush():  # held requests go to the shared queue first (they may be someone else's)
            request = self._pop()
        else:
            request = None
        if request is None:
            return None
        self._inc("scheduler/dequeued/redis")
        if not self._busy:
            try:
                self._set_busy()
            except redis.RedisError as exc:
                self.outage.failed(exc, len(self._unsent))
        return request

    def has_pending_requests(self) -> bool:
        # Only the local backlog: the shared queue is polled by _tick, so "idle" stays a local notion.
        # Requests held during an outage count: a worker holding some is not done.
        return bool(self._local or self._unsent)

    # polling, heartbeat, closing
    def _spider_idle(self) -> None:
        if not self._finished:
            raise DontCloseSpider

    def _tick(self) -> None:
        crawler, config = self.crawler, self.config
        engine = crawler.engine if crawler is not None else None
        if engine is None or config is None or self._finished or self._closed:
            return
        if self.outage.expired():
            self._give_up(engine, config)
            return
        try:
            idle = engine.spider_is_idle()
        except RuntimeError:  # the engine slot is gone: closing
            return
        # While Redis does not answer, the shared state is unknown, not empty: never start closing then.
        if not self._flush() or not self.outage.may_try():
            self._idle_since = None
            return
        try:
            started = self._heartbeat(busy=not idle)
        except redis.RedisError as exc:
            self.outage.failed(exc, len(self._unsent))
            self._idle_since = None
            return
        self.outage.recovered()
        if started:
            self._run_seen = True
        elif self._run_seen:
            self._lose_run(engine, config)
            return
        # Hand off one request at a time, and none while paused: a paused worker must not drain the
        # shared queue into its own backlog.
        may_take = not self._local and not engine.paused and (idle or not engine.needs_backout())
        if may_take and self._hand_off():
            self._idle_since = None
            return
        if self.outage.down:  # the pop failed
            self._idle_since = None
            return
        try:
            # A paused worker (GUBA_BLOCK_ACTION=pause) resumes later: it is not finished.
            if not idle or engine.paused or self._others_busy():
                self._idle_since = None
                return
        except redis.RedisError as exc:
            self.outage.failed(exc, len(self._unsent))
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

    def _give_up(self, engine: Any, config: RunConfig) -> None:
        self._finished = self._gave_up = True
        logger.error(
            "Redis at %s (REDIS_URL) has not answered for %.0fs, longer than REDIS_RETRY_SECONDS (%.0f): "
            "stopping worker %s of run %s (finish reason redis_unavailable)",
            self.outage.url, self.outage.down_for(), config.retry_seconds, self.worker, config.run_id,
        )
        deferred_from_coro(engine.close_spider_async(reason="redis_unavailable"))

    def _lose_run(self, engine: Any, config: RunConfig) -> None:
        self._finished = self._data_lost = True
        self._set_stat("guba/redis/data_lost", 1)
        logger.error(
            "Run %s lost its state in Redis at %s (REDIS_URL): its keys are gone (Redis restarted without "
            "persistence, or was flushed), and with them the requests queued so far. Stopping worker %s "
            "(finish reason redis_data_lost): board watermarks do not move, so the next run fetches what this "
            "one missed. Run Redis with appendonly yes to keep a run through restarts",
            config.run_id, self.outage.url, self.worker,
        )
        deferred_from_coro(engine.close_spider_async(reason="redis_data_lost"))

    def _hand_off(self) -> bool:
        assert self.crawler is not None and self.crawler.engine is not None
        request = self._pop()
        if request is None:
            return False
        request.meta[_HANDOFF] = True
        self._inc("redis/handoffs")
        # engine.crawl() both schedules (enqueue_request keeps it locally) and wakes the engine up.
        self.crawler.engine.crawl(request)
        try:
            self._set_busy()
        except redis.RedisError as exc:
            self.outage.failed(exc, len(self._unsent))
        return True

    def _heartbeat(self, *, busy: bool) -> bool:
        """Publish that this worker is alive (and busy or not); refresh the run's start claim's expiry.
        Returns whether the start claim exists (the run has been seeded and its state is still there)."""
        assert self.config is not None
        me = self.worker
        pipe = self.server.pipeline(transaction=False)
        pipe.pexpire(self._key("start"), self.config.ttl_ms)
        pipe.set(self._worker_key("alive", me), 1, px=self.config.worker_timeout_ms)
        pipe.sadd(self._key("workers"), me)
        pipe.pexpire(self._key("workers"), self.config.ttl_ms)
        if busy:
            pipe.set(self._worker_key("busy", me), 1, px=self.config.worker_timeout_ms)
        elif self._busy:
            pipe.delete(self._worker_key("busy", me))
        started, *_ = pipe.execute()
        self._busy = busy
        return bool(started)

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
