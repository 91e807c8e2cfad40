"""End-to-end crawls of the replay site (``scrapy crawl`` subprocesses, real nx-27017 storage)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import expected_posts, expected_replies
from tests.crawl import crawl_boards, run_crawl
from tests.site import SiteModel

pytestmark = pytest.mark.e2e

BOARDS = ["600519", "usBABA"]




def _crawl(site: Any, tmp_path: Path, mongo_server: Any, db: str, **kw: Any) -> Any:
    return crawl_boards(site, tmp_path, mongo_server, db, BOARDS, **kw)


def _assert_complete(model: SiteModel, db: Any, result: Any) -> None:
    want_posts = expected_posts(model, BOARDS)
    stored = {d["_id"]: d for d in db.posts.find({}, {"title": 1, "deleted": 1, "board": 1})}
    assert set(stored) == want_posts
    # Exactly once: one post page fetched per post, one stored document per post.
    assert result.stat("guba/posts") == len(want_posts)
    for pid, doc in stored.items():
        assert doc["title"] == model.posts[pid].title, pid
        assert doc["board"]["code"] == model.posts[pid].bar_code
        assert doc["deleted"] is False
    want_replies = expected_replies(model, want_posts)
    assert {d["_id"] for d in db.replies.find({}, {"_id": 1})} == want_replies
    assert result.stat("guba/replies") == len(want_replies)


def test_two_boards_every_post_once_with_all_replies(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=3, boards={"600519": 170, "usBABA": 90})
    site = start_site(model)
    result = _crawl(site, tmp_path, mongo_server, "e2e_clean")
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["finish_reason"] == "finished"
    _assert_complete(model, mongo_client["e2e_clean"], result)
    # Several posts need more than one replies page; the stop reason of each board is logged.
    assert any(len(p.replies) > 30 for p in model.posts.values())
    assert result.stat("guba/board_stop/empty_page") == 2
    assert "Board 600519: stopped after page" in result.log
    # Every post's crawl state ("all replies fetched") is stored, with or without replies, and the marker rides
    # on the post (no replies) or on its last replies page: one item per post and per replies page, no more.
    db = mongo_client["e2e_clean"]
    want_posts = expected_posts(model, BOARDS)
    states = {d["_id"]: d for d in db.post_crawl_state.find()}
    assert set(states) == want_posts
    for pid in want_posts:
        assert states[pid]["replies_first_level"] == model.posts[pid].first_level_count, pid
    # Items: one per post, one per replies page, one per board walked (its watermark).
    assert result.stat("item_scraped_count") == len(want_posts) + result.stat("guba/pages/replies") + len(BOARDS)


def test_blocks_5xx_and_tarpit_lose_nothing_and_store_no_verification_page(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=4, boards={"600519": 170, "usBABA": 90})
    site = start_site(model)
    site.faults.verification(count=3)  # the very first requests, list page 1 included
    site.faults.verification(path_contains="/news,", fraction=0.15, seed=7)
    site.faults.verification(path_contains="/api/getData", fraction=0.1, seed=8)
    site.faults.error(503, path_contains="/news,", fraction=0.1)
    site.faults.error(502, path_contains="/list,", count=2)
    result = _crawl(site, tmp_path, mongo_server, "e2e_faults")
    assert result.returncode == 0, result.log[-3000:]
    assert result.stat("guba/blocked") >= 10
    assert result.stat("guba/blocked/gave_up") == 0
    assert site.count(kind="verification") == result.stat("guba/blocked")
    _assert_complete(model, mongo_client["e2e_faults"], result)


def test_tarpit_stops_the_board_and_says_why(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=5, boards={"600519": 250, "usBABA": 10})
    site = start_site(model)
    site.faults.tarpit("600519", from_page=3)
    result = _crawl(site, tmp_path, mongo_server, "e2e_tarpit", args={"boards": "600519", "sort": "publish"})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stat("guba/tarpit_stops") == 1
    assert "page brought no new post ids (tarpit)" in result.log
    # Pages 1 and 2 were real: their posts are all there; page 3 (a copy of page 2) added nothing.
    db = mongo_client["e2e_tarpit"]
    first_two_pages = set(model.board_post_ids("600519")[:160])
    stored = {d["_id"] for d in db.posts.find({}, {"_id": 1})}
    assert first_two_pages <= stored
    assert site.count(kind="list", path_contains="list,600519") == 3


def test_pages_and_since_limits(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=6, boards={"600519": 250, "usBABA": 10})
    site = start_site(model)
    result = _crawl(site, tmp_path, mongo_server, "e2e_pages", args={"boards": "600519", "pages": 1})
    assert result.returncode == 0
    assert site.count(kind="list") == 1
    assert result.stat("guba/board_stop/page_limit") == 1

    ids = model.board_post_ids("600519")
    since = model.posts[ids[100]].publish_time  # on page 2
    site.reset_log()
    result = _crawl(site, tmp_path, mongo_server, "e2e_since",
                    args={"boards": "600519", "since": since, "sort": "publish"})
    assert result.returncode == 0
    assert result.stat("guba/board_stop/reached_since") == 1
    stored = {d["_id"] for d in mongo_client["e2e_since"].posts.find({}, {"_id": 1})}
    newer = {i for i in ids if model.posts[i].publish_time >= since}
    assert newer <= stored
    assert not {i for i in stored if model.posts[i].publish_time < since and not model.posts[i].pinned}


def test_deleted_post_is_recorded_as_deleted_not_retried(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=7, boards={"600519": 30, "usBABA": 5})
    site = start_site(model)
    result = _crawl(site, tmp_path, mongo_server, "e2e_deleted", args={"boards": "600519"})
    assert result.returncode == 0
    victim = model.board_post_ids("600519")[5]
    model.delete_post(victim)
    site.reset_log()
    url = f"{site.base_url}/news,{model.posts[victim].bar_code},{victim}.html"
    result = run_crawl("guba_post", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=mongo_server.uri,
                       database="e2e_deleted", args={"url": url})
    assert result.returncode == 0
    assert result.stat("guba/deleted") == 1
    assert site.count(kind="post") == 1  # not retried, the /error page not even fetched
    doc = mongo_client["e2e_deleted"].posts.find_one({"_id": victim})
    assert doc["deleted"] is True
    assert doc["title"] == model.posts[victim].title  # what was stored before is kept


def test_guba_post_spider_takes_urls_and_a_file(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=8, boards={"600519": 10, "usBABA": 10})
    site = start_site(model)
    a, b, c = model.board_post_ids("600519")[:2] + model.board_post_ids("usBABA")[:1]
    real = [f"https://guba.eastmoney.com/news,{model.posts[i].bar_code},{i}.html" for i in (a, b, c)]
    urls_file = tmp_path / "urls.txt"
    urls_file.write_text(f"# posts\n{real[2]}\n\n", encoding="utf-8")
    result = run_crawl("guba_post", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=mongo_server.uri,
                       database="e2e_post", args={"urls": f"{real[0]},{real[1]}", "urls_file": urls_file})
    assert result.returncode == 0, result.log[-2000:]
    assert {d["_id"] for d in mongo_client["e2e_post"].posts.find()} == {a, b, c}


def test_truncated_and_charsetless_pages(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=9, boards={"600519": 60, "usBABA": 5})
    site = start_site(model)
    # One fault per request, first match wins: the two truncations, then every other page without charset.
    site.faults.truncate(path_contains="/news,", count=2)
    site.faults.no_charset()
    result = _crawl(site, tmp_path, mongo_server, "e2e_trunc", args={"boards": "600519"})
    assert result.returncode == 0
    # A truncated post page is a layout error reported with its URL, never an empty post.
    assert result.stat("guba/layout_changed") == 2
    assert result.log.count("Layout changed?") == 2
    db = mongo_client["e2e_trunc"]
    docs = list(db.posts.find())
    assert len(docs) == len(model.board_post_ids("600519")) - 2
    for d in docs:
        assert d["title"] == model.posts[d["_id"]].title  # decoded as UTF-8 despite no charset


def test_block_storm_stops_the_crawl_cleanly_and_says_what_to_do(start_site, mongo_server, mongo_client, tmp_path):
    model = SiteModel.generate(seed=10, boards={"600519": 30, "usBABA": 5})
    site = start_site(model)
    site.faults.verification(path_contains="/news,")
    result = _crawl(site, tmp_path, mongo_server, "e2e_storm", args={"boards": "600519"},
                    settings={"GUBA_BLOCK_MAX_CONSECUTIVE": 6})
    assert result.returncode == 0
    assert result.stats["finish_reason"] == "blocked"
    assert result.stat("guba/blocked/stopped") == 1
    assert "stopping the crawl (GUBA_BLOCK_MAX_CONSECUTIVE)" in result.log
    assert mongo_client["e2e_storm"].posts.count_documents({}) == 0
    # The board's watermark did not move: the next run fetches what this one could not.
    assert mongo_client["e2e_storm"].boards.count_documents({}) == 0


def _generator_methods() -> list[tuple[str, Any]]:
    import inspect

    from crawler.spiders.guba import GubaSpider
    from crawler.spiders.guba_post import GubaPostSpider

    found: dict[str, Any] = {}
    for cls in (GubaSpider, GubaPostSpider):
        for klass in cls.__mro__:
            if not klass.__module__.startswith("crawler."):
                continue
            for name, fn in vars(klass).items():
                if inspect.isgeneratorfunction(fn):
                    found[f"{klass.__name__}.{name}"] = fn
    return sorted(found.items())


def test_no_spider_callback_is_a_generator_with_a_return_value() -> None:
    """WARN_ON_GENERATOR_RETURN_VALUE is off (Scrapy's per-response check costs ~7 % CPU); this is the check,
    once, on every generator method of the project's spiders (a `return value` there silently drops output)."""
    from scrapy.utils.misc import is_generator_with_return_value

    def bad() -> Any:
        yield 1
        return 2

    assert is_generator_with_return_value(bad)  # the detector works here
    methods = _generator_methods()
    assert any(name.endswith(".parse_post") for name, _ in methods)
    assert any(name.endswith("._list_outputs") for name, _ in methods)
    offenders = [name for name, fn in methods if is_generator_with_return_value(fn)]
    assert offenders == []
