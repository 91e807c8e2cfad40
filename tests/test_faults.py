"""Fault tolerance against a misbehaving site: 5xx bursts, truncated bodies, wrong or missing charsets, redirect
loops, a 5 MB page and hostile post bodies. Each test crawls the replay site into a real nx-27017 and checks that
every post that could be read is stored exactly once, with its replies, and that nothing else is stored.

Covered elsewhere, not repeated here: MongoDB killed mid-crawl (tests/test_storage.py); the crawler killed with
SIGKILL and resumed, and Redis restarted under two workers (tests/test_distributed.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from crawler.urls import board_list_url
from pipelines.normalize import clean_reply_text
from tests.conftest import expected_posts, expected_replies
from tests.crawl import CrawlResult, run_crawl
from tests.site import ReplaySite, SiteModel

pytestmark = [pytest.mark.fault, pytest.mark.e2e]

BOARDS = ["600519", "usBABA"]
SMALL = {"600519": 100, "usBABA": 30}
VERIFICATION_MARKERS = ("身份核实", "安全验证")


def _crawl(site: ReplaySite, tmp_path: Any, mongo_server: Any, db: str, boards: list[str] = BOARDS,
           **settings: Any) -> CrawlResult:
    return run_crawl("guba", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=mongo_server.uri,
                     database=db, args={"boards": ",".join(boards)}, settings=settings)


def _list_path(board: str, page: int) -> str:
    """The list page the guba spider asks for: with MongoDB configured it walks boards by last activity."""
    return board_list_url("", board, page, "reply")


def _post_path(model: SiteModel, post_id: str) -> str:
    return f"/news,{model.posts[post_id].bar_code},{post_id}.html"


def _assert_stored_exactly(model: SiteModel, db: Any, result: CrawlResult, want: set[str]) -> None:
    """Posts stored == ``want`` (each once, live, with the site's title and a non-empty body), their replies and
    nothing else; every article points only at stored posts; no verification page text anywhere."""
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats.get("finish_reason") == "finished", result.stats.get("finish_reason")
    docs = list(db.posts.find())
    ids = [d["_id"] for d in docs]
    assert len(ids) == len(set(ids))
    assert set(ids) == want, {"missing": sorted(want - set(ids))[:10], "extra": sorted(set(ids) - want)[:10]}
    assert result.stat("guba/posts") == len(want)  # each post page read once
    for d in docs:
        post = model.posts[d["_id"]]
        assert d["deleted"] is False, d["_id"]
        assert d["title"] == post.title, d["_id"]
        assert d["body"].strip() or d.get("forward_of"), d["_id"]
        for marker in VERIFICATION_MARKERS:
            assert marker not in d["title"] and marker not in d["body"], d["_id"]
    replies = [r["_id"] for r in db.replies.find({}, {"_id": 1})]
    assert len(replies) == len(set(replies))
    assert set(replies) == expected_replies(model, want)
    carried: set[str] = set()
    for a in db.articles.find({}, {"post_ids": 1}):
        carried.update(a["post_ids"])
    assert carried == want


def test_5xx_bursts_are_retried_and_lose_nothing(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=201, boards=SMALL)
    site = start_site(model)
    # One fault per request, first match wins: the opening requests (list page 1 included) all fail, then a
    # burst on post pages, a burst on the replies API and one on list page 2.
    opening = site.faults.error(500, count=6)
    posts = site.faults.error(503, path_contains="/news,", count=10)
    replies = site.faults.error(502, path_contains="/api/getData", count=8)
    list2 = site.faults.error(504, path_contains=_list_path("600519", 2), count=3)
    result = _crawl(site, tmp_path, mongo_server, "fault_5xx")
    assert (opening.hits, posts.hits, replies.hits, list2.hits) == (6, 10, 8, 3)
    assert result.stat("retry/count") == 27
    assert result.stat("retry/max_reached") == 0
    _assert_stored_exactly(model, mongo_client["fault_5xx"], result, expected_posts(model, BOARDS))


def test_a_5xx_outage_of_a_second_and_a_half_loses_nothing(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=208, boards={"600519": 60, "usBABA": 10})
    site = start_site(model)
    # Added first (first match wins) but idle until armed: count 0 means "not live".
    outage = site.faults.error(503, count=0)
    site.faults.slow(0.01)  # let the crawl last a few seconds

    def arm_once_posts_flow() -> None:
        deadline = time.monotonic() + 60
        while site.count(kind="post") < 15 and time.monotonic() < deadline:
            time.sleep(0.01)
        # Everything answers 503 for 1.5 s: ~30 requests at this pace, so a request can meet several 503s.
        outage.until = time.monotonic() + 1.5
        outage.count = None

    thread = threading.Thread(target=arm_once_posts_flow, daemon=True)
    thread.start()
    result = _crawl(site, tmp_path, mongo_server, "fault_outage", DOWNLOAD_DELAY=0.05,
                    CONCURRENT_REQUESTS_PER_DOMAIN=2)
    thread.join(5)
    assert outage.hits >= 5
    _assert_stored_exactly(model, mongo_client["fault_outage"], result, expected_posts(model, BOARDS))


def test_truncated_post_pages_are_reported_not_stored(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=202, boards=SMALL)
    site = start_site(model)
    listed = sorted(expected_posts(model, BOARDS))
    cut = {listed[3], listed[40], listed[77]}
    for pid in cut:
        site.faults.truncate(path_contains=_post_path(model, pid), at=0.5)
    # A truncated replies page falls back to the older endpoint, which answers in full.
    replies_cut = site.faults.truncate(path_contains="/api/getData", count=2, at=0.6)
    result = _crawl(site, tmp_path, mongo_server, "fault_truncate")
    # base.py: a post page that does not parse is a LayoutChanged, reported with its URL, never an empty post.
    assert result.stat("guba/layout_changed") == len(cut)
    for pid in cut:
        assert f"Layout changed? {site.base_url}{_post_path(model, pid)}" in result.log
    assert replies_cut.hits == 2
    assert result.stat("guba/replies/fallback") == 2
    _assert_stored_exactly(model, mongo_client["fault_truncate"], result, expected_posts(model, BOARDS) - cut)


@pytest.mark.parametrize(
    ("name", "faults"),
    [
        ("missing", [("no_charset", "/news,"), ("no_charset", "/list,"), ("no_charset", "/api/getData")]),
        ("latin1", [("wrong_charset:iso-8859-1", "/news,"), ("wrong_charset:windows-1252", "/list,"),
                    ("wrong_charset:iso-8859-1", "/api/getData")]),
        ("gbk", [("wrong_charset:gbk", "/news,"), ("wrong_charset:gb2312", "/list,"),
                 ("wrong_charset:gbk", "/api/getData")]),
    ],
)
def test_wrong_or_missing_charsets_store_correct_chinese(name, faults, start_site, mongo_server, mongo_client,
                                                         tmp_path):
    model = SiteModel.generate(seed=203, boards={"600519": 60, "usBABA": 20})
    site = start_site(model)
    fired = [
        site.faults.no_charset(path_contains=path) if kind == "no_charset"
        else site.faults.wrong_charset(path_contains=path, charset=kind.split(":", 1)[1])
        for kind, path in faults
    ]
    result = _crawl(site, tmp_path, mongo_server, f"fault_charset_{name}")
    assert all(f.hits > 0 for f in fired)
    db = mongo_client[f"fault_charset_{name}"]
    want = expected_posts(model, BOARDS)
    _assert_stored_exactly(model, db, result, want)
    # Titles match above; board names, author names and reply texts are Chinese too.
    for d in db.posts.find({}, {"board": 1, "author": 1}):
        board = model.boards[d["board"]["code"]]
        assert d["board"]["name"] in (board.name, board.bar_name), d["_id"]  # concept bars show "白酒吧"
        assert d["author"]["name_raw"] == model.posts[d["_id"]].author.nickname, d["_id"]
    texts = {r.reply_id: clean_reply_text(r.text) for pid in want for r in model.replies_of(pid)}
    for r in db.replies.find({"deleted": False}, {"text": 1}):
        assert r["text"] == texts[r["_id"]], r["_id"]


def test_redirect_loop_on_a_post_is_reported_and_the_rest_stored(start_site, mongo_server, mongo_client,
                                                                 tmp_path):
    model = SiteModel.generate(seed=204, boards=SMALL)
    site = start_site(model)
    victim = sorted(expected_posts(model, BOARDS))[10]
    loop = site.faults.redirect_loop(_post_path(model, victim))
    result = _crawl(site, tmp_path, mongo_server, "fault_redirect_post")
    assert loop.hits >= 2  # followed a few times, then reported
    assert result.stat("guba/redirect_loop") == 1
    assert result.stat("guba/deleted") == 0
    assert _post_path(model, victim) in result.log
    # The post is not gone: a page that redirects to itself says nothing about the post, so no "deleted" stub.
    _assert_stored_exactly(model, mongo_client["fault_redirect_post"], result,
                           expected_posts(model, BOARDS) - {victim})


def test_redirect_loop_on_a_list_page_stops_that_board_only(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=205, boards=SMALL)
    site = start_site(model)
    loop = site.faults.redirect_loop(_list_path("usBABA", 1))
    result = _crawl(site, tmp_path, mongo_server, "fault_redirect_list")
    assert loop.hits >= 2  # followed, not given up at once
    assert loop.hits <= 12  # ... but not forever: REDIRECT_MAX_TIMES
    assert _list_path("usBABA", 1) in result.log
    _assert_stored_exactly(model, mongo_client["fault_redirect_list"], result, expected_posts(model, ["600519"]))


@pytest.mark.parametrize("where", [_list_path("600519", 1), "/news,"])
def test_5mb_pages_are_parsed(where, start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=206, boards={"600519": 100, "usBABA": 10})
    site = start_site(model)
    huge = site.faults.huge(where, size_bytes=5_000_000, count=1 if "/list," in where else 3)
    db_name = "fault_huge_list" if "list" in where else "fault_huge_post"
    result = _crawl(site, tmp_path, mongo_server, db_name)
    assert huge.hits == (1 if "list" in where else 3)
    assert result.stat("downloader/response_bytes") > 5_000_000 * huge.hits
    _assert_stored_exactly(model, mongo_client[db_name], result, expected_posts(model, BOARDS))


def test_hostile_post_bodies_are_stored_clean(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=207, boards={"600519": 120, "usBABA": 40}, hostile_bodies=True)
    hostile = {p.post_id for p in model.posts.values() if p.kind == "hostile"}
    site = start_site(model)
    result = _crawl(site, tmp_path, mongo_server, "fault_hostile")
    db = mongo_client["fault_hostile"]
    want = expected_posts(model, BOARDS)
    assert len(hostile & want) >= 5  # every snippet kind at least once
    _assert_stored_exactly(model, db, result, want)
    forbidden = ("<script", "<iframe", "onerror", "javascript:", "<style",
                 "alert(", "xss", "display:none", "body{", "document.cookie", "evil.example")
    for d in db.posts.find({}, {"body": 1, "abstract": 1}):
        for text in (d["body"], d.get("abstract") or ""):
            low = text.lower()
            assert not [f for f in forbidden if f in low], (d["_id"], text[:300])
    # The visible text of a hostile link survives; only the markup is gone.
    link = next(p for p in model.posts.values() if p.kind == "hostile" and "javascript:" in p.content_html)
    assert "点我看内幕" in db.posts.find_one({"_id": link.post_id})["body"]
