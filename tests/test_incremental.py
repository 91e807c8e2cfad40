"""Scheduled runs: incremental walks, resume after SIGKILL, the board lock, run records and monitors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import expected_posts, expected_replies
from tests.crawl import (
    FAST_SETTINGS,
    ROOT,
    crawl_boards,
    process_alive,
    run_crawl,
    scrapy_cmd,
    writer_processes,
)
from tests.site import SiteModel

pytestmark = pytest.mark.e2e

BOARDS = ["600519", "usBABA"]


def _crawl(site: Any, tmp_path: Path, mongo_server: Any, db: str, **kw: Any) -> Any:
    return crawl_boards(site, tmp_path, mongo_server, db, BOARDS, **kw)


def _stored(db: Any) -> tuple[set[str], set[str]]:
    return ({d["_id"] for d in db.posts.find({}, {"_id": 1})}, {d["_id"] for d in db.replies.find({}, {"_id": 1})})


def test_unchanged_board_costs_one_request(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=31, boards={"600519": 200, "usBABA": 60})
    site = start_site(model)
    first = _crawl(site, tmp_path, mongo_server, "inc_same")
    assert first.returncode == 0, first.log[-2000:]
    site.reset_log()
    second = _crawl(site, tmp_path, mongo_server, "inc_same")
    assert second.returncode == 0
    assert [r[1] for r in site.requests] == ["/list,600519.html", "/list,usBABA.html"] or sorted(
        r[1] for r in site.requests) == ["/list,600519.html", "/list,usBABA.html"]
    assert second.stat("guba/board_stop/reached_watermark") == 2
    # full=1 ignores the watermarks and walks everything again.
    site.reset_log()
    third = _crawl(site, tmp_path, mongo_server, "inc_same", args={"full": 1})
    assert third.returncode == 0
    assert site.count(kind="post") == len(expected_posts(model, BOARDS))


def test_changed_board_fetches_exactly_new_and_changed_posts_and_new_replies(
    start_site, mongo_server, mongo_client, tmp_path
):
    model = SiteModel.generate(seed=32, boards={"600519": 200, "usBABA": 60})
    site = start_site(model)
    assert _crawl(site, tmp_path, mongo_server, "inc_changed").returncode == 0

    new_posts = [model.add_post("600519").post_id for _ in range(100)]
    with_replies = next(p for p in model.board_post_ids("600519") if len(model.posts[p].replies) > 45)
    quiet = [p for p in model.board_post_ids("usBABA") if not model.posts[p].replies and p not in new_posts][:2]
    changed = [with_replies, *quiet]
    new_reply_ids = {r.reply_id for pid in changed for r in model.add_replies(pid, 3)}
    site.reset_log()
    result = _crawl(site, tmp_path, mongo_server, "inc_changed")
    assert result.returncode == 0, result.log[-2000:]

    fetched = {path.split(",")[2].split(".")[0] for _, path, _, kind in site.requests if kind == "post"}
    assert fetched == set(new_posts) | set(changed)
    # Replies: only from the page that holds the first new reply (oldest first, 30 a page).
    first_level_before = len(model.posts[with_replies].replies) - 3
    reply_pages = site.reply_pages_requested(with_replies)
    assert min(reply_pages) == first_level_before // 30 + 1
    # New list pages: ceil(103 / 80) + the page that reaches the watermark, at most.
    assert site.count(kind="list", path_contains="600519") <= 3
    db = mongo_client["inc_changed"]
    posts, replies = _stored(db)
    assert posts == expected_posts(model, BOARDS)
    assert new_reply_ids <= replies
    assert replies == expected_replies(model, posts)


@pytest.mark.fault
def test_sigkill_then_resume_with_the_same_jobdir_loses_and_duplicates_nothing(start_site, mongo_server,
                                                                                mongo_client, tmp_path):
    model = SiteModel.generate(seed=33, boards={"600519": 200, "usBABA": 80})
    site = start_site(model)
    slow = site.faults.slow(0.05)
    jobdir = tmp_path / "job"
    settings = {**FAST_SETTINGS, "CONCURRENT_REQUESTS_PER_DOMAIN": 2, "JOBDIR": str(jobdir),
                "MONGO_BATCH_SIZE": 25}
    env = {**os.environ, "GUBA_BASE_URL": site.base_url, "MONGO_URI": mongo_server.uri, "MONGO_DATABASE": "inc_kill"}
    proc = subprocess.Popen(scrapy_cmd("guba", {"boards": ",".join(BOARDS)}, settings), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while site.count(kind="post") < 80 and time.monotonic() < deadline:
        time.sleep(0.02)
    writers = writer_processes(proc.pid)
    assert writers, "the crawler writes to MongoDB from a child process"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    # The writer process dies with the crawler (nothing is left running, nothing writes behind the next run).
    deadline = time.monotonic() + 10
    while any(map(process_alive, writers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(process_alive, writers))
    db = mongo_client["inc_kill"]
    posts_before, _ = _stored(db)
    assert 0 < len(posts_before) < len(expected_posts(model, BOARDS)), "the kill must land mid-crawl"
    assert (jobdir / "guba-running").exists()

    slow.cancel()
    result = run_crawl("guba", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=mongo_server.uri,
                       database="inc_kill", args={"boards": ",".join(BOARDS)}, settings={"JOBDIR": str(jobdir)})
    assert result.returncode == 0, result.log[-3000:]
    assert "did not stop cleanly" in result.log
    assert result.stats["finish_reason"] == "finished"
    posts, replies = _stored(db)
    want = expected_posts(model, BOARDS)
    assert posts == want
    assert replies == expected_replies(model, want)
    assert db.posts.count_documents({}) == len(want)  # nothing duplicated
    assert not (jobdir / "guba-running").exists()
    # The resumed run did not refetch what the killed run had stored completely.
    assert result.stat("guba/posts") < len(want)


def test_lock_stops_an_overlapping_run(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=34, boards={"600519": 150, "usBABA": 20})
    site = start_site(model)
    site.faults.slow(0.03)
    settings = {**FAST_SETTINGS, "CONCURRENT_REQUESTS_PER_DOMAIN": 1}
    env = {**os.environ, "GUBA_BASE_URL": site.base_url, "MONGO_URI": mongo_server.uri, "MONGO_DATABASE": "inc_lock"}
    first = subprocess.Popen(scrapy_cmd("guba", {"boards": "600519"}, settings), cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while mongo_client["inc_lock"].locks.count_documents({}) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        second = run_crawl("guba", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=mongo_server.uri,
                           database="inc_lock", args={"boards": "usBABA,600519"})
        assert second.stats["finish_reason"].startswith("locked")
        assert "board:600519 is being crawled by run" in second.log
        assert second.stat("guba/posts") == 0
    finally:
        first.terminate()
        first.wait(30)
    # A graceful stop releases the lock.
    assert mongo_client["inc_lock"].locks.count_documents({}) == 0


def test_crawl_runs_document_summary_and_monitors(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=35, boards={"600519": 60, "usBABA": 20})
    site = start_site(model)
    clean = _crawl(site, tmp_path, mongo_server, "inc_runs")
    assert clean.returncode == 0
    assert clean.stat("guba/monitors/passed") == 1
    assert "monitors: passed" in clean.log
    runs = list(mongo_client["inc_runs"].crawl_runs.find())
    assert len(runs) == 1
    run = runs[0]
    assert run["finish_reason"] == "finished" and run["boards"] == BOARDS
    assert run["posts"]["new"] == len(expected_posts(model, BOARDS))
    assert run["pages"]["list"] >= 2 and run["monitors"]["passed"] is True

    # A block storm: most pages answer the verification page; the monitors fail and say why.
    site.faults.verification(fraction=0.6, seed=3)
    storm = _crawl(site, tmp_path, mongo_server, "inc_runs", args={"full": 1},
                   settings={"GUBA_BLOCK_MAX_CONSECUTIVE": 1000, "GUBA_BLOCK_MAX_RETRIES": 50})
    assert storm.stat("guba/monitors/failed") == 1
    failures = storm.stats["guba/monitors/failures"]
    assert any("block rate" in f for f in failures), failures
    assert "Monitor failed" in storm.log
    doc = mongo_client["inc_runs"].crawl_runs.find_one({"_id": {"$ne": run["_id"]}})
    assert doc["monitors"]["passed"] is False and doc["blocks"] > 0
    assert json.dumps(doc["monitors"]["failures"], ensure_ascii=False)
