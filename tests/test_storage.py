"""Storage (schema v1) against a real wire-protocol server: completeness, idempotence, reposts, outages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymongo
import pytest

from pipelines.schema import iter_errors
from tests.conftest import expected_posts, expected_replies
from tests.crawl import FAST_SETTINGS, ROOT, run_crawl, scrapy_cmd, writer_processes
from tests.services import MongoServer
from tests.site import SiteModel

pytestmark = pytest.mark.e2e

ALL_BOARDS = ["600519", "usBABA", "hk09988", "bk0896"]
VOLATILE = {"counts", "fetched_at", "updated_at", "last_activity_at", "last_activity_at_raw"}


def _crawl(site: Any, tmp_path: Path, uri: str, db: str, **kw: Any) -> Any:
    return run_crawl("guba", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=uri, database=db,
                     args={"boards": ",".join(ALL_BOARDS), "full": 1}, **kw)


def _strip(doc: dict[str, Any], volatile: set[str]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in volatile}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, mongo_server) -> dict[str, Any]:
    """One crawl of four boards (reposts across US, HK and concept boards) shared by the read-only tests."""
    tmp = tmp_path_factory.mktemp("storage")
    model = SiteModel.generate(seed=11, boards={"600519": 120, "usBABA": 90, "hk09988": 80, "bk0896": 20})
    from tests.site import ReplaySite

    with ReplaySite(model) as site:
        result = _crawl(site, tmp, mongo_server.uri, "storage")
        assert result.returncode == 0, result.log[-3000:]
        first = result
        second = _crawl(site, tmp, mongo_server.uri, "storage_twice")
        client: pymongo.MongoClient = pymongo.MongoClient(mongo_server.uri, tz_aware=True)
        before = {c: {d["_id"]: d for d in client.storage_twice[c].find()} for c in ("posts", "replies", "articles")}
        client.close()
        third = _crawl(site, tmp, mongo_server.uri, "storage_twice")
    return {"model": model, "result": first, "second": second, "third": third, "before": before}


def test_every_post_reply_and_article_stored_once_and_valid(crawled, mongo_client):
    model: SiteModel = crawled["model"]
    db = mongo_client["storage"]
    posts = list(db.posts.find())
    want = expected_posts(model, ALL_BOARDS)
    assert {p["_id"] for p in posts} == want
    assert len(posts) == len(want)
    assert {r["_id"] for r in db.replies.find({}, {"_id": 1})} == expected_replies(model, want)
    # Each post's article exists and lists it; each article's posts point back at it.
    articles = {a["_id"]: a for a in db.articles.find()}
    for p in posts:
        assert p["_id"] in articles[p["article_id"]]["post_ids"]
    for a in articles.values():
        assert len(a["post_ids"]) == len(set(a["post_ids"]))
        assert a["repost_count"] == len(a["post_ids"]) - 1
    for coll, docs in (("posts", posts), ("articles", list(articles.values())),
                       ("replies", list(db.replies.find().limit(500)))):
        for doc in docs:
            assert iter_errors(coll, doc) == [], (coll, doc["_id"])


def test_reposts_on_three_boards_and_a_user_copy_are_one_article(crawled, mongo_client):
    model: SiteModel = crawled["model"]
    db = mongo_client["storage"]
    assert model.article_groups, "the replay site must generate reposted articles"
    for key, post_ids in model.article_groups.items():
        boards = {model.posts[p].bar_code for p in post_ids}
        assert len(boards) >= 3, key
        kinds = {model.posts[p].kind for p in post_ids}
        assert "article-user" in kinds  # the user's copy with a comment line
        article_ids = {db.posts.find_one({"_id": p})["article_id"] for p in post_ids}
        assert len(article_ids) == 1, (key, article_ids)
        article = db.articles.find_one({"_id": article_ids.pop()})
        assert sorted(article["post_ids"]) == sorted(post_ids)
        assert article["source"]["kind"] == "news"
        assert article["published_at"] == min(db.posts.find_one({"_id": p})["published_at"] for p in post_ids)
    # Nothing else was merged: every other article has exactly one post.
    grouped = {p for ids in model.article_groups.values() for p in ids}
    for a in db.articles.find():
        if not set(a["post_ids"]) & grouped:
            assert len(a["post_ids"]) == 1, a["post_ids"]


def test_one_liners_are_never_merged(crawled, mongo_client):
    model: SiteModel = crawled["model"]
    db = mongo_client["storage"]
    oneliners = [p for p in model.posts.values() if p.kind == "oneliner" and not p.deleted]
    texts = [p.content_html for p in oneliners]
    assert len(texts) > len(set(texts)), "the site must have identical one-liners"
    ids = [db.posts.find_one({"_id": p.post_id})["article_id"] for p in oneliners]
    assert len(ids) == len(set(ids))


def test_second_crawl_changes_only_counters_and_timestamps(crawled, mongo_client):
    db = mongo_client["storage_twice"]
    assert crawled["second"].returncode == 0 and crawled["third"].returncode == 0
    assert crawled["third"].stat("mongo/posts_new") == 0
    assert crawled["third"].stat("mongo/posts_updated") == 0
    assert crawled["third"].stat("mongo/posts_unchanged") == crawled["second"].stat("mongo/posts_new")
    before = crawled["before"]
    for coll, volatile in (("posts", VOLATILE), ("replies", {"fetched_at", "updated_at"}),
                           ("articles", {"updated_at"})):
        after = {d["_id"]: d for d in db[coll].find()}
        assert after.keys() == before[coll].keys(), coll
        for k, doc in after.items():
            assert _strip(doc, volatile) == _strip(before[coll][k], volatile), (coll, k)
            if "updated_at" in doc:
                assert doc["updated_at"] > before[coll][k]["updated_at"]
    # first_seen_at survives a recrawl.
    doc = db.posts.find_one()
    assert doc["first_seen_at"] < doc["updated_at"]


def test_unreachable_mongodb_stops_the_crawl_at_start_naming_the_setting(start_site, tmp_path):
    model = SiteModel.generate(seed=12, boards={"600519": 5, "usBABA": 5})
    site = start_site(model)
    uri = "mongodb://crawler:s3cret-pw@127.0.0.1:1/?serverSelectionTimeoutMS=500"
    result = run_crawl("guba", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=uri,
                       args={"boards": "600519"}, settings={"MONGO_CONNECT_TIMEOUT_MS": 500})
    assert "MONGO_URI" in result.log
    assert "s3cret-pw" not in result.log
    assert result.stats.get("item_scraped_count", 0) == 0
    assert site.count() <= 1


@pytest.mark.fault
def test_mongodb_stopped_mid_crawl_loses_nothing(start_site, tmp_path):
    model = SiteModel.generate(seed=13, boards={"600519": 120, "usBABA": 40})
    site = start_site(model)
    site.faults.slow(0.03)  # stretch the crawl to several seconds
    mongo = MongoServer(tmp_path / "mongo").start()
    try:
        _outage_crawl(site, model, mongo, tmp_path)
    finally:
        mongo.stop()


def _crawl_with_fault(site: Any, mongo: MongoServer, tmp_path: Path, database: str, settings: dict[str, Any],
                      fault: Callable[[subprocess.Popen[str]], None]) -> tuple[int, str, dict[str, Any]]:
    """``scrapy crawl guba`` of 600519 and usBABA; after 30 post pages ``fault(crawler process)`` runs. Returns
    exit status, log and stats."""
    stats_file = tmp_path / f"stats-{database}.json"
    settings = {**FAST_SETTINGS, "CONCURRENT_REQUESTS_PER_DOMAIN": 2, "MONGO_BATCH_SIZE": 20,
                **settings, "GUBA_STATS_FILE": str(stats_file)}
    env = {**os.environ, "GUBA_BASE_URL": site.base_url, "MONGO_URI": mongo.uri, "MONGO_DATABASE": database}
    proc = subprocess.Popen(scrapy_cmd("guba", {"boards": "600519,usBABA"}, settings), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while site.count(kind="post") < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        fault(proc)
        _, log = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, log, json.loads(stats_file.read_text()) if stats_file.exists() else {}


def _crawl_through_outage(site: Any, mongo: MongoServer, tmp_path: Path, database: str,
                          settings: dict[str, Any], down_for: float | None) -> tuple[int, str, dict[str, Any]]:
    """The crawl of :func:`_crawl_with_fault`; MongoDB is killed, and restarted ``down_for`` seconds later (never,
    when None)."""

    def outage(_: subprocess.Popen[str]) -> None:
        mongo.kill()
        if down_for is not None:
            time.sleep(down_for)
            mongo.start()

    return _crawl_with_fault(site, mongo, tmp_path, database, settings, outage)


def _assert_stored_once(mongo: MongoServer, model: SiteModel, database: str) -> None:
    """Every post and reply of 600519 and usBABA stored, each exactly once, each post with an article id."""
    client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
    try:
        db = client[database]
        want = expected_posts(model, ["600519", "usBABA"])
        posts = [d["_id"] for d in db.posts.find({}, {"_id": 1})]
        assert sorted(posts) == sorted(want)
        replies = [d["_id"] for d in db.replies.find({}, {"_id": 1})]
        assert sorted(replies) == sorted(expected_replies(model, want))
        assert all(d.get("article_id") for d in db.posts.find({}, {"article_id": 1}))
    finally:
        client.close()


def _outage_crawl(site: Any, model: SiteModel, mongo: MongoServer, tmp_path: Path) -> None:
    returncode, log, stats = _crawl_through_outage(site, mongo, tmp_path, "outage",
                                                   {"MONGO_CONNECT_TIMEOUT_MS": 1000}, down_for=3)
    assert returncode == 0, log[-3000:]
    assert stats.get("mongo/retry", 0) >= 1, "the outage must have been noticed"
    _assert_stored_once(mongo, model, "outage")


@pytest.mark.fault
def test_mongodb_down_for_good_spills_every_batch_and_the_next_run_stores_them(start_site, tmp_path):
    """MongoDB dies mid-crawl and stays down past MONGO_RETRY_SECONDS: the crawl finishes without waiting that
    long per batch, keeps every unwritten item on disk, and the next run (MongoDB back) writes them: every post
    and reply stored exactly once."""
    model = SiteModel.generate(seed=17, boards={"600519": 120, "usBABA": 40})
    site = start_site(model)
    site.faults.slow(0.03)
    mongo = MongoServer(tmp_path / "mongo").start()
    spill = tmp_path / "spill"
    settings = {"MONGO_MIN_BATCH_SIZE": 20, "MONGO_CONNECT_TIMEOUT_MS": 500, "MONGO_RETRY_SECONDS": 2,
                "MONGO_SPILL_DIR": str(spill), "GUBA_LOCK_ENABLED": False}
    try:
        _, log, stats = _crawl_through_outage(site, mongo, tmp_path, "down", settings, down_for=None)
        assert stats.get("mongo/spilled", 0) > 0, log[-3000:]
        assert list(spill.glob("spill-*.jsonl"))
        assert "Traceback" not in log, log[log.index("Traceback") - 1500:][:4000]

        mongo.start()
        second = run_crawl("guba", base_url=site.base_url, tmp_path=tmp_path / "second", mongo_uri=mongo.uri,
                           database="down", args={"boards": "600519,usBABA"},
                           settings={"MONGO_SPILL_DIR": str(spill), "GUBA_LOCK_ENABLED": False})
        assert second.returncode == 0, second.log[-3000:]
        assert second.stats.get("mongo/spill_replayed") == stats["mongo/spilled"]
        assert not list(spill.glob("spill-*.jsonl"))
        _assert_stored_once(mongo, model, "down")
    finally:
        mongo.stop()


def test_writer_inserts_documents_read_as_missing_and_replaces_one_raced_in(mongo_client):
    """A batch's read found none of its documents, so they are inserted; one that another process stored in
    between (duplicate key) is written as a replacement, the others are inserted, nothing is lost or doubled."""
    from pipelines.mongo import MongoWriter

    db = mongo_client["writer_insert_race"]
    db.replies.drop()
    db.replies.insert_one({"_id": "2", "text": "stored by another process"})
    writer = MongoWriter(db)
    try:
        docs = [{"_id": str(i), "text": f"reply {i}"} for i in range(1, 4)]
        writer._replace("replies", docs, stored=set())
    finally:
        writer.close()
    assert sorted((d["_id"], d["text"]) for d in db.replies.find()) == [
        ("1", "reply 1"), ("2", "reply 2"), ("3", "reply 3")]



@pytest.mark.fault
def test_writer_process_killed_mid_crawl_loses_nothing(start_site, tmp_path):
    """The MongoDB writer process (MONGO_WRITER_PROCESS) is killed with SIGKILL after 30 posts: the crawler starts
    a new one, retries the batch it was writing, and every post and reply is stored exactly once."""
    model = SiteModel.generate(seed=19, boards={"600519": 120, "usBABA": 40})
    site = start_site(model)
    site.faults.slow(0.03)
    mongo = MongoServer(tmp_path / "mongo").start()

    def kill_writer(crawler: subprocess.Popen[str]) -> None:
        writers = writer_processes(crawler.pid)
        assert len(writers) == 1, writers
        os.kill(writers[0], signal.SIGKILL)

    try:
        returncode, log, stats = _crawl_with_fault(site, mongo, tmp_path, "writer_kill",
                                                   {"MONGO_WRITER_PROCESS": True}, kill_writer)
        assert returncode == 0, log[-3000:]
        assert stats["finish_reason"] == "finished"
        assert stats.get("mongo/retry", 0) >= 1, "the lost writer must have been noticed"
        assert "writer process stopped" in log
        _assert_stored_once(mongo, model, "writer_kill")
    finally:
        mongo.stop()


def test_batches_reach_the_writer_process_without_raw_json_and_nothing_else_is_lost():
    import pickle

    from crawler.items import DeletedPostItem, RepliesDoneItem, ReplyItem
    from pipelines.mongo import Batch
    from pipelines.mongo_writer import from_wire, to_wire
    from tests.test_validate_stage import _post

    post = _post()
    post.raw = {"post_content": "<p>" + "x" * 5000 + "</p>"}
    post.article_id = "a1"
    post.replies_done = RepliesDoneItem(post_id=post.post_id, first_level=0, total=0, post_comments=0)
    reply = ReplyItem(reply_id="9", post_id=post.post_id, parent_id=None, quoted_reply_id=None, author_id="1",
                      author_name_raw="n", text_raw="好", published_raw="2026-03-07 20:54:56", likes=1,
                      ip_region=None, deleted=False, raw={"reply_text": "好" * 500})
    batch = Batch()
    for item in (post, reply, DeletedPostItem(post_id="7", bar_code="600519", url="u", reason="gone")):
        batch.add(item)
    sent = from_wire(pickle.loads(pickle.dumps(to_wire(batch))))
    for mine, theirs in ((batch.posts, sent.posts), (batch.replies, sent.replies)):
        assert mine.keys() == theirs.keys()
        for key, item in mine.items():
            assert theirs[key].raw == {}
            assert {k: v for k, v in vars(theirs[key]).items() if k != "raw"} == {
                k: v for k, v in vars(item).items() if k != "raw"}
    assert sent.deleted == batch.deleted and sent.replies_done == batch.replies_done
    assert post.raw and reply.raw  # the crawler's own items keep everything
