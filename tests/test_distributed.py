"""Scale-out on a shared Redis (crawler/distributed.py): the queue serializer and settings offline, then real
``scrapy crawl`` workers sharing one run through Debian's redis-server against the replay site."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from scrapy.http import FormRequest, Request
from scrapy.settings import Settings
from scrapy.statscollectors import StatsCollector
from scrapy.utils.request import request_from_dict
from scrapy.utils.test import get_crawler

from crawler.distributed import (
    _ENQUEUE_LUA,
    _POP_LUA,
    RedisAddon,
    RedisOutage,
    RunDupeFilter,
    dumps,
    loads,
    safe_redis_url,
)
from crawler.spiders.guba import GubaSpider
from tests.conftest import expected_posts, expected_replies
from tests.crawl import FAST_SETTINGS, ROOT, run_crawl, scrapy_cmd
from tests.services import MongoServer, RedisServer
from tests.site import ReplaySite, SiteModel

BOARDS = ["600519", "usBABA"]
_POST_PATH = re.compile(r"^/news,[^,]+,(\d+)\.html$")
# Quick polling and closing so a test run ends about a second after the crawl is done.
REDIS_FAST: dict[str, Any] = {"REDIS_POLL_SECONDS": 0.1, "REDIS_IDLE_CLOSE_SECONDS": 1.0}


# --- offline: the serializer, the run settings, the add-on -----------------------------------------------
def _spider() -> GubaSpider:
    crawler = get_crawler(GubaSpider, {"GUBA_BASE_URL": "http://127.0.0.1:1"})
    return GubaSpider.from_crawler(crawler, boards="600519")


def _requests(spider: GubaSpider) -> list[Request]:
    retry = spider.post_request("600519", "1743987733", referer="http://127.0.0.1:1/list,600519,f.html")
    retry = retry.replace(dont_filter=True)
    retry.meta.update({"guba_block_retries": 2, "retry_times": 1, "download_slot": "127.0.0.1",
                       "redirect_urls": ["http://127.0.0.1:1/a"], "depth": 1})
    return [
        spider.list_request("600519", 1),
        spider.list_request("usBABA", 3, ["1", "2", "3"]),
        spider.post_request("bk0896", "17", list_bar="600519", reply_start_page=3),
        spider.replies_request("17", "600519", 2, referer="http://127.0.0.1:1/news,600519,17.html"),
        spider.replies_request("17", "600519", 1, referer="http://127.0.0.1:1/news,600519,17.html", legacy=True,
                               post_comments=45, board="600519"),
        retry,
    ]


def test_spider_requests_round_trip_through_the_queue_serializer() -> None:
    spider = _spider()
    for request in _requests(spider):
        back = request_from_dict(loads(dumps(request.to_dict(spider=spider))), spider=spider)
        assert type(back) is type(request)
        assert (back.url, back.method, back.body, back.priority, back.dont_filter) == (
            request.url, request.method, request.body, request.priority, request.dont_filter)
        assert back.headers == request.headers
        assert back.meta == request.meta
        assert back.cb_kwargs == request.cb_kwargs
        assert back.callback == request.callback  # the same bound spider method
        assert back.errback == request.errback
    assert isinstance(_requests(spider)[3], FormRequest)


@pytest.mark.parametrize("value", [
    None, True, 0, -3, 2.5, "", "文本", b"\x00\xffbytes", [1, "a", None], ("t", 1), frozenset({"a", "b"}),
    {"x", "y"}, {b"k": [b"v"]}, {"__guba_redis_t": "b", "v": "not a tag"}, {"n": {"m": (1, (2, b"3"))}},
    {("a", 1): "tuple key"}, [], {},
])
def test_serializer_gives_back_equal_values_of_the_same_types(value: Any) -> None:
    back = loads(dumps(value))
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize("value", [object(), {"meta": {"page": Path("/tmp")}}, [1, 2j]])
def test_serializer_refuses_objects_and_says_which(value: Any) -> None:
    with pytest.raises(TypeError, match="cannot put a"):
        dumps(value)


@pytest.mark.parametrize(("settings", "message"), [
    ({}, "GUBA_RUN_ID is empty"),
    ({"GUBA_RUN_ID": "  "}, "GUBA_RUN_ID is empty"),
    ({"GUBA_RUN_ID": "a:b"}, "GUBA_RUN_ID must be"),
    ({"GUBA_RUN_ID": "100%"}, "GUBA_RUN_ID must be"),
    ({"GUBA_RUN_ID": "-x"}, "GUBA_RUN_ID must be"),
    ({"GUBA_RUN_ID": "r1", "REDIS_KEY_PREFIX": "a b"}, "REDIS_KEY_PREFIX"),
    ({"GUBA_RUN_ID": "r1", "REDIS_RUN_TTL": 0}, "REDIS_RUN_TTL"),
    ({"GUBA_RUN_ID": "r1", "REDIS_POLL_SECONDS": 0}, "REDIS_POLL_SECONDS"),
    ({"GUBA_RUN_ID": "r1", "REDIS_IDLE_CLOSE_SECONDS": -1}, "REDIS_IDLE_CLOSE_SECONDS"),
    ({"GUBA_RUN_ID": "r1", "REDIS_POLL_SECONDS": 5, "REDIS_WORKER_TIMEOUT": 5}, "REDIS_WORKER_TIMEOUT"),
    ({"GUBA_RUN_ID": "r1", "REDIS_RETRY_SECONDS": -1}, "REDIS_RETRY_SECONDS"),
])
def test_bad_run_settings_stop_the_start_naming_the_setting(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RedisAddon().update_settings(Settings({"REDIS_URL": "redis://127.0.0.1:1/0", **settings}))


def test_addon_changes_nothing_without_redis_url() -> None:
    settings = Settings({"GUBA_RUN_ID": ""})
    before = {k: settings[k] for k in ("SCHEDULER", "DUPEFILTER_CLASS", "SPIDER_MIDDLEWARES")}
    RedisAddon().update_settings(settings)
    assert {k: settings[k] for k in before} == before
    assert settings.get("SCHEDULER_QUEUE_KEY") is None


def test_addon_switches_to_per_run_keys_and_the_command_line_still_wins() -> None:
    settings = Settings({"REDIS_URL": "redis://127.0.0.1:1/0", "GUBA_RUN_ID": "202611230600",
                         "REDIS_KEY_PREFIX": "gb"})
    settings.set("SCHEDULER_QUEUE_CLASS", "scrapy_redis.queue.FifoQueue", priority="cmdline")
    RedisAddon().update_settings(settings)
    assert settings["SCHEDULER"] == "crawler.distributed.RunScheduler"
    assert settings["DUPEFILTER_CLASS"] == "crawler.distributed.RunDupeFilter"
    assert settings["SCHEDULER_QUEUE_KEY"] == "gb:202611230600:%(spider)s:requests"
    assert settings["SCHEDULER_DUPEFILTER_KEY"] == "gb:202611230600:%(spider)s:dupefilter"
    assert settings["SCHEDULER_SERIALIZER"] == "crawler.distributed"
    assert settings.getbool("SCHEDULER_PERSIST") is True
    assert settings["SCHEDULER_QUEUE_CLASS"] == "scrapy_redis.queue.FifoQueue"
    assert any("RunStartMiddleware" in str(k) for k in settings.getdict("SPIDER_MIDDLEWARES"))


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:s3cret@10.0.0.5:6379/0", "redis://10.0.0.5:6379/0"),
    ("rediss://user:pw@redis.example:6380/2", "rediss://redis.example:6380/2"),
    ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
])
def test_logged_redis_url_has_no_password(url: str, shown: str) -> None:
    assert safe_redis_url(url) == shown


def test_redis_outage_backs_off_counts_and_expires_after_its_window() -> None:
    now = [100.0]
    stats = StatsCollector(get_crawler(GubaSpider))
    outage = RedisOutage("redis://:s3cret@10.0.0.5:6379/0", 10.0, stats, clock=lambda: now[0])
    assert not outage.down and outage.may_try() and not outage.expired()
    outage.failed(redis.ConnectionError("refused"))
    assert outage.down and not outage.may_try()  # backing off: callers keep what they hold
    now[0] += 2.0  # longer than any backoff step
    assert outage.may_try()
    outage.failed(redis.ConnectionError("refused"))
    now[0] += 7.5
    assert not outage.expired()  # down for 9.5 s of 10
    now[0] += 1.0
    assert outage.expired() and outage.down_for() == pytest.approx(10.5)
    outage.recovered()
    assert not outage.down and outage.may_try() and not outage.expired()
    assert stats.get_value("guba/redis/retries") == 2 and stats.get_value("guba/redis/outages") == 1
    assert outage.url == "redis://10.0.0.5:6379/0"  # what the logs show: no password


# --- with redis-server ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    if not (shutil.which("redis-server") or os.path.exists("/usr/bin/redis-server")):
        pytest.skip("redis-server is not installed: `make system-deps` (apt-get install redis-server)")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()


def _ttls(client: redis.Redis, pattern: str) -> dict[str, int]:
    return {k.decode(): int(client.pttl(k)) for k in client.scan_iter(match=pattern)}


def test_dupefilter_is_shared_and_every_write_sets_an_expiry(redis_client: redis.Redis) -> None:
    key = "guba:r1:guba:dupefilter"
    a = RunDupeFilter(redis_client, key, ttl_ms=60_000)
    b = RunDupeFilter(redis_client, key, ttl_ms=60_000)
    first, other = Request("http://127.0.0.1:1/news,600519,1.html"), Request("http://127.0.0.1:1/news,600519,2.html")
    assert a.request_seen(first) is False
    assert b.request_seen(first) is True  # another worker of the run
    assert b.request_seen(other) is False
    assert 0 < redis_client.pttl(key) <= 60_000
    b.close("finished")  # one worker closing keeps the run's fingerprints
    assert redis_client.scard(key) == 2


def test_queue_scripts_are_safe_to_replay_after_a_lost_reply(redis_client: redis.Redis) -> None:
    enqueue, pop = redis_client.register_script(_ENQUEUE_LUA), redis_client.register_script(_POP_LUA)
    keys = ["guba:r1:guba:dupefilter", "guba:r1:guba:requests"]
    # A push whose reply was lost and is sent again: queued once, the replay finds it seen.
    assert enqueue(keys=keys, args=["fp1", 0, b"req-1", 60_000]) == 1
    assert enqueue(keys=keys, args=["fp1", 0, b"req-1", 60_000]) == 0
    assert enqueue(keys=keys, args=["fp2", -5, b"req-2", 60_000]) == 1  # a higher priority: lower score
    assert enqueue(keys=keys, args=["", 0, b"req-3", 60_000]) == 1  # dont_filter: not deduplicated
    assert redis_client.zcard(keys[1]) == 3 and redis_client.scard(keys[0]) == 2
    # A pop whose reply was lost, sent again with the same token: the same request, nothing else taken.
    popped = ["guba:r1:guba:requests", "guba:r1:guba:popped:w1"]
    assert pop(keys=popped, args=["a" * 32, 60_000]) == b"req-2"
    assert pop(keys=popped, args=["a" * 32, 60_000]) == b"req-2"
    assert redis_client.zcard(keys[1]) == 2
    assert pop(keys=popped, args=["b" * 32, 60_000]) in (b"req-1", b"req-3")
    assert redis_client.zcard(keys[1]) == 1
    assert 0 < redis_client.pttl(popped[1]) <= 60_000 and 0 < redis_client.pttl(keys[1]) <= 60_000


def _worker(spider: str, *, site: ReplaySite, mongo_uri: str, database: str, tmp_path: Path, name: str,
            args: dict[str, Any], settings: dict[str, Any]) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """Start ``scrapy crawl`` in the background; returns (process, stats file, log file)."""
    stats, log = tmp_path / f"stats-{name}.json", tmp_path / f"{name}.log"
    cmd = scrapy_cmd(spider, args, {**FAST_SETTINGS, **REDIS_FAST, "GUBA_STATS_FILE": stats, **settings})
    env = {**os.environ, "GUBA_BASE_URL": site.base_url, "MONGO_URI": mongo_uri, "MONGO_DATABASE": database,
           "PYTHONWARNINGS": "error::DeprecationWarning:scrapy"}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=out)
    return proc, stats, log


def _finish(proc: subprocess.Popen[bytes], stats: Path, log: Path, timeout: float = 240) -> dict[str, Any]:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"worker did not finish:\n{log.read_text(errors='replace')[-3000:]}") from None
    text = log.read_text(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    assert stats.exists(), text[-3000:]
    result: dict[str, Any] = json.loads(stats.read_text(encoding="utf-8"))
    return result


def _fetched_posts(site: ReplaySite) -> Counter[str]:
    """Post pages served with content (not a verification page or an injected error), by post id."""
    found: Counter[str] = Counter()
    for method, path, status, kind in site.requests:
        m = _POST_PATH.match(path)
        if m and method == "GET" and kind == "post" and status == 200:
            found[m.group(1)] += 1
    return found


@pytest.mark.e2e
def test_two_workers_share_one_crawl_each_post_fetched_once(start_site, mongo_server: MongoServer,
                                                          mongo_client, redis_server: RedisServer,
                                                          redis_client: redis.Redis, tmp_path: Path) -> None:
    model = SiteModel.generate(seed=21, boards={"600519": 170, "usBABA": 90})
    site = start_site(model)
    # Retries of blocked and failed requests travel through the shared queue too.
    site.faults.verification(path_contains="/news,", fraction=0.1, seed=3)
    site.faults.error(503, path_contains="/news,", fraction=0.05, seed=4)
    # Slow enough that neither worker can finish the crawl before the other has started.
    site.faults.slow(0.03, path_contains="/news,")
    common = {"REDIS_URL": redis_server.url, "GUBA_RUN_ID": "run-a", "CONCURRENT_REQUESTS": 4}
    workers = [
        _worker("guba", site=site, mongo_uri=mongo_server.uri, database="dist_two", tmp_path=tmp_path,
                name=f"w{i}", args={"boards": ",".join(BOARDS)}, settings=common)
        for i in (1, 2)
    ]
    results = [_finish(*w) for w in workers]

    want_posts = expected_posts(model, BOARDS)
    fetched = _fetched_posts(site)
    assert set(fetched) == want_posts
    assert {pid: n for pid, n in fetched.items() if n != 1} == {}  # each post page once in total
    lists = Counter(p for _, p, s, k in site.requests if k == "list" and s == 200)
    assert lists and set(lists.values()) == {1}  # start requests pushed by one worker only
    assert sorted(r.get("redis/start/seeded", 0) > 0 for r in results) == [False, True]

    db = mongo_client["dist_two"]
    assert {d["_id"] for d in db.posts.find({}, {"_id": 1})} == want_posts
    want_replies = expected_replies(model, want_posts)
    assert {d["_id"] for d in db.replies.find({}, {"_id": 1})} == want_replies
    assert sum(r.get("guba/posts", 0) for r in results) == len(want_posts)
    assert sum(r.get("guba/replies", 0) for r in results) == len(want_replies)
    for r in results:
        assert r["finish_reason"] == "finished"
        assert r.get("downloader/response_count", 0) > 0 and r.get("guba/posts", 0) > 0  # both did work
    assert sum(r.get("guba/blocked", 0) for r in results) > 0
    # The last worker out removed the run's keys.
    assert _ttls(redis_client, "guba:run-a:*") == {}


@pytest.mark.e2e
def test_scheduled_runs_refetch_and_leave_redis_bounded(start_site, mongo_server: MongoServer, mongo_client,
                                                        redis_server: RedisServer, redis_client: redis.Redis,
                                                        tmp_path: Path) -> None:
    model = SiteModel.generate(seed=22, boards={"600519": 60, "usBABA": 20})
    site = start_site(model)
    want_posts = expected_posts(model, BOARDS)
    sizes = []
    for n in (1, 2, 3):
        site.reset_log()
        result = run_crawl("guba", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=mongo_server.uri,
                           database="dist_sched", args={"boards": ",".join(BOARDS), "full": 1},
                           settings={**REDIS_FAST, "REDIS_URL": redis_server.url, "GUBA_RUN_ID": f"sched-{n}"})
        assert result.returncode == 0, result.log[-3000:]
        assert result.stats["finish_reason"] == "finished"
        # A new run id is a new dupefilter: every post is fetched again, once.
        assert Counter(_fetched_posts(site)) == Counter(dict.fromkeys(want_posts, 1))
        assert result.stat("redis/run_cleaned") == 1
        sizes.append(redis_client.dbsize())
    assert sizes == [0, 0, 0]
    assert {d["_id"] for d in mongo_client["dist_sched"].posts.find({}, {"_id": 1})} == want_posts


@pytest.mark.e2e
@pytest.mark.fault
def test_killed_worker_leaves_only_expiring_keys_and_the_run_resumes(start_site, mongo_server: MongoServer,
                                                                     mongo_client, redis_server: RedisServer,
                                                                     redis_client: redis.Redis,
                                                                     tmp_path: Path) -> None:
    model = SiteModel.generate(seed=23, boards={"600519": 120, "usBABA": 10})
    site = start_site(model)
    site.faults.slow(0.1, path_contains="/news,")
    ttl = 3600
    settings = {"REDIS_URL": redis_server.url, "GUBA_RUN_ID": "run-k", "REDIS_RUN_TTL": ttl,
                "CONCURRENT_REQUESTS": 2, "REDIS_WORKER_TIMEOUT": 2}
    kw: dict[str, Any] = {"site": site, "mongo_uri": mongo_server.uri, "database": "dist_kill",
                          "tmp_path": tmp_path, "args": {"boards": ",".join(BOARDS)}, "settings": settings}
    proc, _, log = _worker("guba", name="killed", **kw)
    deadline = time.monotonic() + 120
    while len(_fetched_posts(site)) < 10:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "the worker fetched no posts"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)

    keys = _ttls(redis_client, "guba:run-k:*")
    assert {"guba:run-k:guba:requests", "guba:run-k:guba:dupefilter", "guba:run-k:guba:start"} <= set(keys)
    assert all(0 < t <= ttl * 1000 for t in keys.values()), keys  # nothing stays forever

    # Same run id: the new worker does not seed again, it takes over the shared queue and finishes the run.
    result = _finish(*_worker("guba", name="resumed", **kw))
    assert result["finish_reason"] == "finished"
    assert result.get("redis/start/skipped", 0) == 2 and "redis/start/seeded" not in result
    assert result.get("guba/posts", 0) > 0
    assert set(_fetched_posts(site).values()) == {1}  # nothing fetched twice
    assert _ttls(redis_client, "guba:run-k:*") == {}



def _two_workers_through_a_redis_restart(site: ReplaySite, server: RedisServer, mongo_server: MongoServer,
                                         database: str, run_id: str, tmp_path: Path
                                         ) -> tuple[list[dict[str, Any]], list[str], int, dict[str, int]]:
    """Two workers share run ``run_id`` on ``server``; once 30 posts are fetched, redis-server is stopped
    (SIGTERM), left down for 3 s and started again on the same port. Returns the workers' stats and logs, how
    many posts were fetched before Redis came back, and the run's keys left in Redis afterwards (with ttls)."""
    settings = {"REDIS_URL": server.url, "GUBA_RUN_ID": run_id, "CONCURRENT_REQUESTS": 2}
    kw: dict[str, Any] = {"site": site, "mongo_uri": mongo_server.uri, "database": database,
                          "tmp_path": tmp_path, "args": {"boards": ",".join(BOARDS)}, "settings": settings}
    workers = [_worker("guba", name=f"{run_id}-w{i}", **kw) for i in (1, 2)]
    try:
        deadline = time.monotonic() + 120
        while len(_fetched_posts(site)) < 30:
            for proc, _, log in workers:
                assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the workers fetched no posts"
            time.sleep(0.05)
        server.stop()  # SIGTERM: redis-server writes its append-only file out (if it has one) and exits
        time.sleep(3)
        fetched_before = len(_fetched_posts(site))
        server.start()
        results = [_finish(*w) for w in workers]
        logs = [w[2].read_text(errors="replace") for w in workers]
        client = redis.Redis.from_url(server.url)
        try:
            left = _ttls(client, f"guba:{run_id}:*")
        finally:
            client.close()
    finally:
        for proc, _, _ in workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    return results, logs, fetched_before, left


def _assert_stored_once(model: SiteModel, db: Any, want_posts: set[str]) -> None:
    """Posts stored == ``want_posts``, each once, with every reply and nothing else; articles carry only them."""
    ids = [d["_id"] for d in db.posts.find({}, {"_id": 1})]
    assert len(ids) == len(set(ids))
    assert set(ids) == want_posts, {"missing": sorted(want_posts - set(ids))[:10],
                                    "extra": sorted(set(ids) - want_posts)[:10]}
    replies = [d["_id"] for d in db.replies.find({}, {"_id": 1})]
    assert len(replies) == len(set(replies))
    want_replies = expected_replies(model, want_posts)
    assert set(replies) == want_replies, {"missing": len(want_replies - set(replies)),
                                          "extra": len(set(replies) - want_replies)}
    carried: set[str] = set()
    for a in db.articles.find({}, {"post_ids": 1}):
        carried.update(a["post_ids"])
    assert carried == want_posts


@pytest.mark.e2e
@pytest.mark.fault
def test_redis_restarted_under_two_workers_every_post_stored_once(start_site, mongo_server: MongoServer,
                                                                  mongo_client, redis_server: RedisServer,
                                                                  tmp_path: Path) -> None:
    """redis-server with an append-only file (as in production) restarted mid-run: both workers wait for it,
    keep their requests, carry on and finish; every post is fetched once and stored once."""
    model = SiteModel.generate(seed=24, boards={"600519": 160, "usBABA": 60})
    site = start_site(model)
    site.faults.slow(0.1, path_contains="/news,")  # the crawl outlasts the outage by several seconds
    server = RedisServer(data_dir=tmp_path / "redis").start()
    try:
        results, logs, fetched_before, left = _two_workers_through_a_redis_restart(
            site, server, mongo_server, "dist_restart", "run-r", tmp_path)
    finally:
        server.stop()

    want_posts = expected_posts(model, BOARDS)
    assert fetched_before < len(want_posts)  # the restart happened mid-crawl
    for r, log in zip(results, logs, strict=True):
        assert r["finish_reason"] == "finished"
        assert r.get("guba/posts", 0) > 0  # both worked
        assert r.get("guba/redis/outages") == 1 and r.get("guba/redis/retries", 0) > 0, log[-3000:]
        assert "guba/redis/lost_requests" not in r and "guba/redis/data_lost" not in r
        assert f"Redis at {server.url} (REDIS_URL) is unreachable" in log
        assert "Traceback" not in log, log[-3000:]
    fetched = _fetched_posts(site)
    assert set(fetched) == want_posts
    assert {pid: n for pid, n in fetched.items() if n != 1} == {}  # no request lost or run twice
    _assert_stored_once(model, mongo_client["dist_restart"], want_posts)
    assert sum(r.get("guba/posts", 0) for r in results) == len(want_posts)  # each post page read once
    assert sum(r.get("guba/replies", 0) for r in results) == len(expected_replies(model, want_posts))
    assert left == {}  # the last worker out removed the run's keys (none left, with or without expiry)


@pytest.mark.e2e
@pytest.mark.fault
def test_redis_restarted_without_its_data_stops_the_run_and_the_next_run_completes(
        start_site, mongo_server: MongoServer, mongo_client, redis_server: RedisServer, tmp_path: Path) -> None:
    """redis-server without persistence restarted mid-run: the run's queue is gone, so both workers stop with
    reason redis_data_lost (not finished: watermarks stay), and the next run stores exactly what was missed."""
    model = SiteModel.generate(seed=25, boards={"600519": 160, "usBABA": 60})
    site = start_site(model)
    site.faults.slow(0.1, path_contains="/news,")
    server = RedisServer().start()
    try:
        results, logs, _, left = _two_workers_through_a_redis_restart(
            site, server, mongo_server, "dist_lost", "run-l", tmp_path)
        want_posts = expected_posts(model, BOARDS)
        for r, log in zip(results, logs, strict=True):
            assert r["finish_reason"] == "redis_data_lost", log[-3000:]
            assert r.get("guba/redis/data_lost") == 1
            assert "Run run-l lost its state in Redis" in log
        assert left == {}  # the last worker out removed what the workers wrote after the loss
        db = mongo_client["dist_lost"]
        stored = {d["_id"] for d in db.posts.find({}, {"_id": 1})}
        assert stored < want_posts  # the lost queue held posts

        site.reset_log()
        again = run_crawl("guba", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=mongo_server.uri,
                          database="dist_lost", args={"boards": ",".join(BOARDS)},
                          settings={**REDIS_FAST, "REDIS_URL": server.url, "GUBA_RUN_ID": "run-l2"})
    finally:
        server.stop()
    assert again.returncode == 0 and again.stats["finish_reason"] == "finished", again.log[-3000:]
    _assert_stored_once(model, db, want_posts)
    assert set(_fetched_posts(site)) >= want_posts - stored  # the next run fetched what was missed


@pytest.mark.e2e
@pytest.mark.fault
def test_redis_gone_for_good_stops_the_worker_naming_redis_url(start_site, mongo_server: MongoServer,
                                                               mongo_client, redis_server: RedisServer,
                                                               tmp_path: Path) -> None:
    """Redis down for longer than REDIS_RETRY_SECONDS: the worker stops (redis_unavailable, not finished),
    says which Redis, and what it fetched is stored once."""
    model = SiteModel.generate(seed=26, boards={"600519": 80, "usBABA": 10})
    site = start_site(model)
    site.faults.slow(0.1, path_contains="/news,")
    server = RedisServer().start()
    settings = {"REDIS_URL": server.url, "GUBA_RUN_ID": "run-g", "CONCURRENT_REQUESTS": 2,
                "REDIS_RETRY_SECONDS": 1}
    proc, stats, log = _worker("guba", name="gone", site=site, mongo_uri=mongo_server.uri, database="dist_gone",
                               tmp_path=tmp_path, args={"boards": ",".join(BOARDS)}, settings=settings)
    try:
        deadline = time.monotonic() + 120
        while len(_fetched_posts(site)) < 10:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the worker fetched no posts"
            time.sleep(0.05)
        server.stop()
        result = _finish(proc, stats, log, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        server.stop()
    text = log.read_text(errors="replace")
    assert result["finish_reason"] == "redis_unavailable"
    assert f"Redis at {server.url} (REDIS_URL) has not answered for" in text
    assert "REDIS_RETRY_SECONDS" in text
    assert result.get("guba/redis/retries", 0) > 1
    fetched = _fetched_posts(site)
    assert set(fetched.values()) == {1}
    ids = [d["_id"] for d in mongo_client["dist_gone"].posts.find({}, {"_id": 1})]
    assert len(ids) == len(set(ids)) and set(ids) == set(fetched)  # what was read is stored, once
    assert set(ids) < expected_posts(model, BOARDS)
