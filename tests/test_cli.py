"""``guba fetch`` as users run it: a subprocess against the replay site, one test per exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.crawl import ROOT
from tests.site import SiteModel

pytestmark = pytest.mark.e2e

GUBA = str(Path(sys.executable).with_name("guba"))
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "GUBA_BLOCK_BACKOFF_BASE=0.01", "-s", "GUBA_BLOCK_BACKOFF_MAX=0.05"]


def fetch(base_url: str, *args: str, mongo_uri: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GUBA_BASE_URL": base_url, "MONGO_URI": mongo_uri, "MONGO_DATABASE": "cli"}
    return subprocess.run([GUBA, "fetch", *args, *FAST], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def model() -> SiteModel:
    return SiteModel.generate(seed=21, boards={"600519": 40, "usBABA": 20})


def _post_with_replies(model: SiteModel) -> str:
    return next(p for p in model.board_post_ids("600519") if len(model.posts[p].replies) > 30)


def test_fetch_prints_the_normalised_post_with_all_replies(model, start_site):
    site = start_site(model)
    pid = _post_with_replies(model)
    post = model.posts[pid]
    url = f"https://guba.eastmoney.com/news,{post.bar_code},{pid}.html"
    proc = fetch(site.base_url, url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["_id"] == pid and doc["title"] == post.title
    assert doc["published_at_raw"] == post.publish_time
    assert doc["published_at"].endswith("+00:00")
    assert doc["author"]["kind"] in {"user", "official", "anonymous", "deleted"}
    assert {r["_id"] for r in doc["replies"]} == {r.reply_id for r in model.replies_of(pid)}
    assert doc["article_id"] is None  # not stored, not deduplicated


def test_fetch_store_writes_to_mongodb(model, start_site, mongo_server, mongo_client):
    site = start_site(model)
    pid = model.board_post_ids("usBABA")[0]
    url = f"{site.base_url}/news,{model.posts[pid].bar_code},{pid}.html"
    proc = fetch(site.base_url, url, "--store", mongo_uri=mongo_server.uri)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stored = mongo_client.cli.posts.find_one({"_id": pid})
    assert stored is not None and stored["title"] == model.posts[pid].title
    assert stored["article_id"]


@pytest.mark.parametrize("url", ["https://example.com/x.html", "news,600519,abc.html", "ftp://guba/news,1,2.html"])
def test_fetch_rejects_non_post_urls_with_status_2(url, model, start_site):
    site = start_site(model)
    proc = fetch(site.base_url, url)
    assert proc.returncode == 2
    assert "not a" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert site.count() == 0


def test_fetch_deleted_post_exits_3(start_site):
    model = SiteModel.generate(seed=22, boards={"600519": 10, "usBABA": 5})
    site = start_site(model)
    pid = model.board_post_ids("600519")[2]
    model.delete_post(pid)
    proc = fetch(site.base_url, f"{site.base_url}/news,600519,{pid}.html")
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert proc.stdout == ""


def test_fetch_blocked_exits_4(model, start_site):
    site = start_site(model)
    site.faults.verification(path_contains="/news,")
    pid = model.board_post_ids("600519")[0]
    proc = fetch(site.base_url, f"{site.base_url}/news,600519,{pid}.html", "-s", "GUBA_BLOCK_MAX_RETRIES=2")
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert "verification" in proc.stderr
    assert site.count(kind="verification") == 3


def test_fetch_other_failure_exits_5(model, start_site):
    site = start_site(model)
    site.faults.error(500, path_contains="/news,")
    pid = model.board_post_ids("600519")[0]
    proc = fetch(site.base_url, f"{site.base_url}/news,600519,{pid}.html", "-s", "RETRY_TIMES=1")
    assert proc.returncode == 5, proc.stderr[-2000:]


def test_fetch_without_store_writes_nothing_even_with_mongo_uri(model, start_site, mongo_server, mongo_client):
    site = start_site(model)
    pid = model.board_post_ids("600519")[1]
    db = mongo_client.cli
    runs_before = db.crawl_runs.count_documents({})
    proc = fetch(site.base_url, f"{site.base_url}/news,600519,{pid}.html", mongo_uri=mongo_server.uri)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["_id"] == pid
    assert db.posts.find_one({"_id": pid}) is None
    assert db.crawl_runs.count_documents({}) == runs_before
