"""The replay site (tests/site): formats copied from real captures, pagination, replies, faults, CLI.

Pages are fetched over HTTP with urllib and parsed with ``json.JSONDecoder().raw_decode`` (not with
crawler.pages, so the site is checked independently of the parsers it exists to test).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from tests.site import ReplaySite, SiteModel
from tests.site.render import VERIFICATION_SHELL

REPO = Path(__file__).resolve().parent.parent
REPLY_PATH = "reply/api/Reply/ArticleNewReplyList"

# Key sets of the real 2026-07 captures (guba-real fixtures), which the site must reproduce exactly.
TOP_KEYS = {"bar_code", "bar_info", "bar_name", "bar_quot_code", "count", "me", "rc", "re", "ret_ad_type", "time"}
FLAT_ROW_KEYS = {
    "art_unique_url", "bullish_bearish", "cms_media_type", "grade_type", "institution", "media_type", "modules",
    "notice_type", "notice_type_code", "post_click_count", "post_comment_count", "post_display_time",
    "post_forward_count", "post_from_num", "post_has_pic", "post_has_video", "post_id", "post_ip",
    "post_last_time", "post_publish_time", "post_source_id", "post_state", "post_title", "post_top_status",
    "post_type", "qa", "spec_column", "stockbar_code", "stockbar_exchange", "stockbar_name", "stockbar_type",
    "user_extendinfos", "user_id", "user_is_majia", "user_nickname", "v_user_code", "zmt_article",
}
NESTED_ROW_KEYS = {
    "allow_likes_state", "ask_answer", "ask_question", "content_type", "disable_color", "extend", "media_type",
    "modules", "post_abstract", "post_address", "post_atuser", "post_checkState", "post_click_count",
    "post_comment_authority", "post_comment_count", "post_content", "post_display_time", "post_forward_count",
    "post_from", "post_from_num", "post_guba", "post_has_pic", "post_id", "post_ip", "post_is_collected",
    "post_is_hot", "post_is_like", "post_last_time", "post_like_count", "post_mod_time", "post_pic_url",
    "post_pic_url2", "post_publish_time", "post_source_id", "post_state", "post_status", "post_title",
    "post_top_status", "post_type", "post_user", "qa", "relate_topic", "reply_list", "repost_state",
    "reptile_state", "selected_post_code", "selected_post_name", "selected_relate_guba", "source_comment_count",
    "source_extend", "source_modules", "source_post_comment_count", "source_post_content", "source_post_from",
    "source_post_guba", "source_post_id", "source_post_ip", "source_post_like_count", "source_post_pic_url",
    "source_post_source_id", "source_post_state", "source_post_title", "source_post_type",
    "source_post_user_extendinfos", "source_post_user_id", "source_post_user_is_majia",
    "source_post_user_nickname", "source_post_user_type", "spec_column", "top_like_user", "zwpage_flag",
}
POST_KEYS = {
    "aitag", "allow_likes_state", "ask_answer", "ask_chairman_state", "ask_question", "code_name",
    "codepost_count", "comment_section", "digest_type", "disable_ad", "disable_color", "extend",
    "extend_version", "fp_code", "fundimgs", "gaitagswitch", "has_pic_not_include_content",
    "limit_reply_user_auth", "payauth", "post_abstract", "post_add_list", "post_add_time", "post_atuser",
    "post_checkState", "post_click_count", "post_comment_authority", "post_comment_count", "post_content",
    "post_display_time", "post_forward_count", "post_from", "post_from_num", "post_guba", "post_has_pic",
    "post_id", "post_inshare_count", "post_ip", "post_ip_address", "post_is_collected", "post_is_like",
    "post_last_time", "post_like_count", "post_loc", "post_mod_count", "post_mod_time", "post_mod_version",
    "post_modules", "post_pdf_url", "post_pic_url", "post_pic_url2", "post_publish_time", "post_source_id",
    "post_speccolumn", "post_state", "post_status", "post_tipstate", "post_title", "post_top_status",
    "post_type", "post_user", "post_video_url", "product_type", "qa", "qrcimgs", "relate_topic",
    "repost_state", "reptile_state", "selected_post_code", "selected_post_name", "selected_relate_guba",
    "source_aitag", "source_click_count", "source_comment_count", "source_extend", "source_forward_count",
    "source_fundimgs", "source_post_abstract", "source_post_atuser", "source_post_content", "source_post_guba",
    "source_post_id", "source_post_ip", "source_post_ip_address", "source_post_pic_url", "source_post_pic_url2",
    "source_post_source_id", "source_post_state", "source_post_title", "source_post_type",
    "source_post_user_id", "source_post_user_is_majia", "source_post_user_nickname", "source_post_user_type",
    "source_post_video_url", "source_publish_time", "source_qrcimgs", "source_stockimgs", "source_textsource",
    "source_user_is_majia", "stockimgs", "system_comment_authority", "textsource", "topiccirclesimple",
    "v_user_code",
}
POST_USER_KEYS = {
    "column_user_fans_count", "passport_medal_details", "user_age", "user_bizflag", "user_bizsubflag",
    "user_black_type", "user_extend", "user_extendinfos", "user_first_en_name", "user_id", "user_influ_level",
    "user_introduce", "user_is_majia", "user_level", "user_medal_details", "user_name", "user_nickname",
    "user_type", "user_v",
}
REPLY_KEYS = {
    "child_reply_count", "child_replys", "fake_child_replys", "links", "reply_ar", "reply_count", "reply_extend",
    "reply_from", "reply_god", "reply_hide", "reply_id", "reply_ip_address", "reply_is_amazing",
    "reply_is_author", "reply_is_follow", "reply_is_like", "reply_is_top", "reply_like_count", "reply_picture",
    "reply_publish_time", "reply_state", "reply_tag", "reply_text", "reply_time", "reply_user",
    "source_post_code", "source_post_id", "user_id",
}
CHILD_KEYS = {
    "links", "reply_ar", "reply_extend", "reply_from", "reply_god", "reply_hide", "reply_id", "reply_ip_address",
    "reply_is_author", "reply_is_like", "reply_is_top", "reply_like_count", "reply_picture",
    "reply_publish_time", "reply_state", "reply_text", "reply_time", "reply_user", "source_post_code",
    "source_post_id", "source_reply", "user_id",
}
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


# ---------------------------------------------------------------------------------------------- helpers
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, data: bytes | None = None, timeout: float = 10) -> tuple[int, Message, bytes]:
    """(status, headers, body) without following redirects; HTTP errors are returned, not raised."""
    try:
        with _OPENER.open(url, data=data, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def embedded(body: bytes, var: str, errors: str = "strict") -> tuple[dict[str, Any], str]:
    """The JSON after ``var {var}=`` and the text right after it."""
    text = body.decode("utf-8", errors)
    start = text.index(f"var {var}=") + len(f"var {var}=")
    obj, end = json.JSONDecoder().raw_decode(text, start)
    return obj, text[end:]


def list_page(site: ReplaySite, code: str, page: int = 1, sort: str = "publish") -> dict[str, Any]:
    f = ",f" if sort == "publish" else ""
    tail = f"{f}.html" if page == 1 else f"{f}_{page}.html"
    status, _, body = fetch(site.url(f"/list,{code}{tail}"))
    assert status == 200
    return embedded(body, "article_list")[0]


def row_id(row: dict[str, Any]) -> str:
    return str(row["post_id"])


def row_bar(row: dict[str, Any]) -> str:
    return str(row.get("stockbar_code") or row["post_guba"]["stockbar_code"])


def replies_form(post_id: str, page: int, size: int = 30) -> bytes:
    return urllib.parse.urlencode({
        "param": f"postid={post_id}&sort=1&sorttype=1&p={page}&ps={size}", "plat": "Web", "path": REPLY_PATH,
        "env": "2", "origin": "", "version": "2022", "product": "Guba",
    }).encode()


def replies_url(site: ReplaySite, endpoint: str, bar: str) -> str:
    if endpoint == "new":
        return site.url("/api/getData?" + urllib.parse.urlencode({"code": bar, "path": REPLY_PATH}))
    return site.url("/interface/GetData.aspx")


@pytest.fixture(scope="module")
def model() -> SiteModel:
    return SiteModel.generate(seed=1)


@pytest.fixture(scope="module")
def _running(model: SiteModel) -> Iterator[ReplaySite]:
    with ReplaySite(model) as site:
        yield site


@pytest.fixture
def site(_running: ReplaySite) -> Iterator[ReplaySite]:
    """The shared read-only site, with faults and log reset around each test."""
    _running.faults.clear()
    _running.reset_log()
    yield _running
    _running.faults.clear()


@pytest.fixture
def fresh() -> Iterator[ReplaySite]:
    """A private small site the test may mutate."""
    with ReplaySite(SiteModel.generate(seed=5, boards={"600519": 100, "usBABA": 40})) as s:
        yield s


# ---------------------------------------------------------------------------------------------- model
def test_model_ids_times_and_authors(model: SiteModel) -> None:
    posts = sorted(model.posts.values(), key=lambda p: int(p.post_id))
    assert all(re.fullmatch(r"[1-9]\d{9}", p.post_id) for p in posts)
    assert [p.publish_time for p in posts] == sorted(p.publish_time for p in posts)
    assert all(TIME_RE.match(p.publish_time) and TIME_RE.match(p.last_time) for p in posts)
    assert all(p.last_time >= p.publish_time for p in posts)
    assert all(re.fullmatch(r"[1-9]\d{15}", p.author.user_id) for p in posts)
    assert any(p.author.deactive for p in posts), "some cancelled accounts"
    assert {p.author.nickname for p in posts if p.author.is_majia} >= {"贵州茅台资讯", "阿里巴巴资讯", "阿里巴巴-W资讯"}
    assert Counter(p.bar_code for p in posts) == {"600519": 200, "usBABA": 120, "hk09988": 100, "bk0896": 8}
    assert {p.post_type for p in posts} == {0, 1, 20}
    forwards = [p for p in posts if p.source_post_id]
    assert forwards and all(p.title == "转发" and p.source_post_id in model.posts for p in forwards)


def test_model_content_kinds(model: SiteModel) -> None:
    posts = list(model.posts.values())
    one = Counter((p.content_html, p.bar_code) for p in posts if p.kind == "oneliner")
    by_text: dict[str, set[str]] = {}
    for text, bar in one:
        by_text.setdefault(text, set()).add(bar)
    assert any(len(bars) >= 2 for bars in by_text.values()), "identical one-liners on different boards"
    caifuhao = [p for p in posts if p.post_type == 20]
    assert caifuhao and all(re.fullmatch(r"\d{23}", p.source_id) for p in caifuhao)
    assert all(re.search(r"（来源：.+的财富号 \d{4}-\d{2}-\d{2} \d{2}:\d{2}）", p.content_html) for p in caifuhao)
    news = [p for p in posts if p.post_type == 1]
    assert all(re.fullmatch(r"\d{18}", p.source_id) and p.media_name and p.author.is_majia for p in news)
    boiler = [p for p in posts if p.kind == "boilerplate"]
    assert len({p.content_html for p in boiler}) == len(boiler) > 1
    assert any("$贵州茅台(SH600519)$" in p.content_html for p in posts)
    assert not any("<script" in p.content_html for p in posts)


def test_model_article_groups(model: SiteModel) -> None:
    assert len(model.article_groups) == 3
    for ids in model.article_groups.values():
        posts = [model.posts[i] for i in ids]
        assert {p.bar_code for p in posts} == {"usBABA", "hk09988", "bk0896"}
        news = [p for p in posts if p.post_type == 1]
        user = [p for p in posts if p.post_type == 0]
        assert len(news) == 3 and len(user) == 1 and user[0].bar_code == "usBABA"
        html = {p.bar_code: p.content_html for p in news}
        assert "K图 BABA_0" in html["usBABA"] and "K图 09988_0" in html["hk09988"]
        assert "来源：" in html["usBABA"] and "<span class='source'>来源:" in html["hk09988"]
        assert "郑重声明" in html["bk0896"]
        assert len({p.content_html for p in posts}) == 4


def test_model_replies_distribution(model: SiteModel) -> None:
    first = [p.first_level_count for p in model.posts.values()]
    assert sum(n > 30 for n in first) >= 3
    assert sum(n == 0 for n in first) >= len(first) // 4
    assert max(first) <= 70
    all_replies = [r for pid in model.posts for r in model.replies_of(pid)]
    assert len({r.reply_id for r in all_replies}) == len(all_replies)
    assert all(re.fullmatch(r"\d{10}", r.reply_id) for r in all_replies)
    assert any(r.deleted for r in all_replies) and any(r.parent_id for r in all_replies)


def test_hostile_bodies_carry_every_snippet() -> None:
    m = SiteModel.generate(seed=3, boards={"600519": 60}, hostile_bodies=True)
    bodies = "".join(p.content_html for p in m.posts.values())
    for needle in ("<script>", "<iframe", "onerror=", "<style>", "javascript:"):
        assert needle in bodies


def test_generate_is_deterministic() -> None:
    a, b = SiteModel.generate(seed=9), SiteModel.generate(seed=9)
    assert [(p.post_id, p.title, p.content_html, p.last_time) for p in a.iter_posts()] == \
        [(p.post_id, p.title, p.content_html, p.last_time) for p in b.iter_posts()]
    assert a.article_groups == b.article_groups
    assert [p.post_id for p in SiteModel.generate(seed=10).iter_posts()] != [p.post_id for p in a.iter_posts()]


@pytest.mark.parametrize(
    ("code", "kind", "name"),
    [("600519", "a_share", "贵州茅台"), ("002941", "a_share", "新疆交建"), ("zssh000001", "index", "上证指数"),
     ("hk09988", "hk", "阿里巴巴-W"), ("usBABA", "us", "阿里巴巴"), ("bk0896", "concept", "白酒")],
)
def test_board_kinds(code: str, kind: str, name: str) -> None:
    m = SiteModel.generate(seed=2, boards={code: 10})
    assert (m.boards[code].kind, m.boards[code].name) == (kind, name)


def test_unknown_code_gets_made_up_name() -> None:
    m = SiteModel.generate(seed=2, boards={"603999": 5})
    assert m.boards["603999"].name and m.boards["603999"].name == SiteModel.generate(
        seed=4, boards={"603999": 5}).boards["603999"].name
    with pytest.raises(ValueError):
        SiteModel.generate(boards={"nonsense!": 3})


# ---------------------------------------------------------------------------------------------- list pages
def test_list_page_shape(site: ReplaySite, model: SiteModel) -> None:
    status, headers, body = fetch(site.url("/list,600519,f.html"))
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    text = body.decode()
    assert "<title>贵州茅台(600519)股吧_贵州茅台怎么样_分析讨论社区—东方财富网</title>" in text
    assert "em_capt.js" in text
    data, after = embedded(body, "article_list")
    assert after.startswith(';    var other_list={"re":[]};</script>')
    assert set(data) == TOP_KEYS
    assert (data["rc"], data["me"], data["bar_code"], data["bar_name"]) == (1, "操作成功", "600519", "贵州茅台")
    assert data["bar_quot_code"] == "SH600519" and data["count"] == len(model.board_post_ids("600519"))
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}\+08:00", data["time"])
    pinned = model.pinned_ids("600519")
    assert len(pinned) == 2 and len(data["re"]) == 80 + len(pinned)
    assert [row_id(r) for r in data["re"][:2]] == pinned
    assert all(r["post_top_status"] == 1 for r in data["re"][:2])
    assert all(r["post_top_status"] == 0 for r in data["re"][2:])
    assert len(list_page(site, "600519", 2)["re"]) == 80


def test_list_rows_follow_real_schemas(site: ReplaySite) -> None:
    rows = [r for page in (1, 2, 3) for r in list_page(site, "600519", page)["re"]]
    flat = [r for r in rows if "post_user" not in r]
    nested = [r for r in rows if "post_user" in r]
    assert flat and nested
    assert all(set(r) == FLAT_ROW_KEYS for r in flat)
    assert all(set(r) == NESTED_ROW_KEYS for r in nested)
    for r in flat:
        assert isinstance(r["post_id"], int) and re.fullmatch(r"\d{16}", r["user_id"])
        assert TIME_RE.match(r["post_publish_time"]) and r["stockbar_name"].endswith("吧")
    assert {r["post_guba"]["stockbar_code"] for r in nested} >= {"bk0896"}, "cross-bar rows from bk0896"


def test_brace_title_round_trips(site: ReplaySite, model: SiteModel) -> None:
    post = next(p for p in model.posts.values() if p.kind == "brace-title")
    assert "};" in post.title
    found = []
    for page in range(1, 5):
        found += [r["post_title"] for r in list_page(site, post.bar_code, page)["re"] if row_id(r) == post.post_id]
    assert found == [post.title]


@pytest.mark.parametrize("sort", ["publish", "reply"])
@pytest.mark.parametrize("code", ["600519", "usBABA", "hk09988", "bk0896"])
def test_every_post_listed_exactly_once(site: ReplaySite, model: SiteModel, code: str, sort: str) -> None:
    seen: list[str] = []
    keys: list[str] = []
    page = 1
    while True:
        rows = [r for r in list_page(site, code, page, sort)["re"] if r["post_top_status"] == 0]
        if not rows:
            break
        seen += [row_id(r) for r in rows]
        keys += [r["post_publish_time" if sort == "publish" else "post_last_time"] for r in rows]
        page += 1
    assert page == -(-len(model.board_post_ids(code)) // 80) + 1
    assert len(seen) == len(set(seen))
    assert set(seen) == set(model.board_post_ids(code))
    assert keys == sorted(keys, reverse=True)


def test_unknown_board_redirects(site: ReplaySite) -> None:
    status, headers, _ = fetch(site.url("/list,600000,f.html"))
    assert status == 302 and headers["Location"] == "/error?type=1"


# ---------------------------------------------------------------------------------------------- post pages
@pytest.mark.parametrize("kind", ["user", "oneliner", "news", "caifuhao", "forward", "article-news", "article-user"])
def test_post_page_embeds_post(site: ReplaySite, model: SiteModel, kind: str) -> None:
    post = next(p for p in model.iter_posts() if p.kind == kind)
    status, headers, body = fetch(site.url(f"/news,{post.bar_code},{post.post_id}.html"))
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    data, after = embedded(body, "post_article")
    assert after.startswith(";</script><script>var img={};var imgs={};</script>")
    assert set(data) == POST_KEYS and set(data["post_user"]) == POST_USER_KEYS
    assert (str(data["post_id"]), data["post_title"], data["post_content"]) == \
        (post.post_id, post.title, post.content_html)
    assert data["post_guba"]["stockbar_code"] == post.bar_code
    assert data["post_comment_count"] == model.reply_counts(post.post_id)[1]
    board = model.boards[post.bar_code]
    assert f"<title>{post.title}_{board.name}({board.code})股吧_东方财富网股吧</title>" in body.decode()
    if kind == "forward":
        assert str(data["source_post_id"]) == post.source_post_id and data["source_post_title"]
    if post.post_type == 1:
        assert data["extend"]["MediaName"] == post.media_name


def test_news_body_has_real_wrapper(site: ReplaySite, model: SiteModel) -> None:
    post = next(p for p in model.iter_posts() if p.kind == "news" and p.bar_code == "600519")
    _, _, body = fetch(site.url(f"/news,600519,{post.post_id}.html"))
    content = embedded(body, "post_article")[0]["post_content"]
    pattern = (r"^<div id='zw_header' style='[^']+'><span class='source'>来源：[^<]+</span><span class='author'>"
               r"</span></div> <div id='zw_body' ><!-- EM_StockImg_Start -->.*alt=\"K图 600519_0\".*"
               r"<!-- EM_StockImg_End --><p>.*</p></div><div id='zw_footer'>（文章来源：[^）]+） <a href='http://"
               rf"finance.eastmoney.com/a/{post.source_id}.html' [^>]*><b>\[点击查看原文\]</b></a></div>$")
    assert re.match(pattern, content)


def test_hostile_script_does_not_end_the_data_script() -> None:
    m = SiteModel.generate(seed=3, boards={"600519": 60}, hostile_bodies=True)
    post = next(p for p in m.posts.values() if "<script>" in p.content_html)
    with ReplaySite(m) as s:
        _, _, body = fetch(s.url(f"/news,600519,{post.post_id}.html"))
    assert embedded(body, "post_article")[0]["post_content"] == post.content_html


@pytest.mark.parametrize("post_id", ["deleted", "1234567890"])
def test_deleted_or_unknown_post_redirects_to_error_shell(fresh: ReplaySite, post_id: str) -> None:
    if post_id == "deleted":
        post_id = fresh.model.board_post_ids("600519")[3]
        fresh.model.delete_post(post_id)
        assert post_id not in fresh.model.board_post_ids("600519")
        assert post_id not in [row_id(r) for r in list_page(fresh, "600519")["re"]]
    status, headers, _ = fetch(fresh.url(f"/news,600519,{post_id}.html"))
    assert status == 302 and headers["Location"] == "/error?type=2"
    with urllib.request.urlopen(fresh.url(f"/news,600519,{post_id}.html"), timeout=10) as resp:
        final, body = resp.url, resp.read().decode()
    assert final.endswith("/error?type=2") and 'class="error404_page"' in body and "error404.css" in body


def test_caifuhao_page_needs_a_browser(site: ReplaySite, model: SiteModel) -> None:
    post = next(p for p in model.iter_posts() if p.post_type == 20)
    status, _, body = fetch(site.url(f"/caifuhao/news/{post.source_id}"))
    text = body.decode()
    assert status == 200 and '<div class="article page-article"></div>' in text
    assert "JSON.parse(" in text and "innerHTML" in text
    first_sentence = re.search(r"<p>([^<]{6,})</p>", post.content_html)
    assert first_sentence and first_sentence.group(1) not in text


# ---------------------------------------------------------------------------------------------- replies
def _all_replies(site: ReplaySite, endpoint: str, bar: str, post_id: str, size: int) -> tuple[list[dict], int]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        status, headers, body = fetch(replies_url(site, endpoint, bar), replies_form(post_id, page, size))
        assert status == 200 and headers["Content-Type"] == "application/json; charset=utf-8"
        data = json.loads(body)
        assert data["rc"] == 1
        if not data["re"]:
            return rows, page
        assert len(data["re"]) <= size
        rows += data["re"]
        page += 1


@pytest.mark.parametrize("endpoint", ["new", "legacy"])
def test_reply_pages_add_up_to_model(site: ReplaySite, model: SiteModel, endpoint: str) -> None:
    big = [p for p in model.iter_posts() if p.first_level_count > 30][:3]
    assert len(big) == 3
    for post in big:
        rows, pages = _all_replies(site, endpoint, post.bar_code, post.post_id, 30)
        assert pages == -(-post.first_level_count // 30) + 1
        flat = [str(r["reply_id"]) for first in rows for r in (first, *first["child_replys"])]
        assert flat == [r.reply_id for r in model.replies_of(post.post_id)]
        times = [r["reply_time"] for r in rows]
        assert times == sorted(times), "sorttype=1: oldest first"
        assert all(set(r) == REPLY_KEYS for r in rows)
        assert all(set(c) == CHILD_KEYS for r in rows for c in r["child_replys"])
        assert all(str(r["source_post_id"]) == post.post_id for r in rows)


def test_reply_counts_and_deleted_state(site: ReplaySite, model: SiteModel) -> None:
    post = next(p for p in model.iter_posts() if any(r.deleted for r in p.replies) and
                any(r.children for r in p.replies))
    _, _, body = fetch(replies_url(site, "new", post.bar_code), replies_form(post.post_id, 1, 200))
    data = json.loads(body)
    assert (data["count"], data["reply_total_count"]) == model.reply_counts(post.post_id)
    deleted = [r for r in data["re"] if r["reply_state"] == 1]
    assert deleted and all(r["reply_text"] == "" for r in deleted)
    quoted = [c["source_reply"] for r in data["re"] for c in r["child_replys"]]
    assert quoted and all(len(q) == 1 for q in quoted)


def test_replies_of_post_without_replies(site: ReplaySite, model: SiteModel) -> None:
    post = next(p for p in model.iter_posts() if p.first_level_count == 0)
    _, _, body = fetch(replies_url(site, "new", post.bar_code), replies_form(post.post_id, 1))
    assert json.loads(body) == {"re": [], "count": 0, "reply_total_count": 0, "rc": 1, "me": "暂无更多评论，欢迎发表观点"}


# ---------------------------------------------------------------------------------------------- faults
def _is_shell(body: bytes) -> bool:
    return body == VERIFICATION_SHELL


def test_verification_shell_matches_real_shape() -> None:
    text = VERIFICATION_SHELL.decode()
    assert len(VERIFICATION_SHELL) == 2834
    for needle in ("<title>身份核实</title>", "fd_guba_validate/work/assets/validate.css",
                   "fd_guba_validate/work/assets/validate.js", "em_capt.js", '<div id="root"></div>'):
        assert needle in text
    assert "article_list" not in text and "post_article" not in text


def test_verification_count(site: ReplaySite) -> None:
    fault = site.faults.verification(path_contains="/list,600519", count=2)
    outcomes = [fetch(site.url("/list,600519,f.html"))[2] for _ in range(3)]
    assert [_is_shell(b) for b in outcomes] == [True, True, False]
    assert fetch(site.url("/list,usBABA,f.html"))[0] == 200
    assert fault.hits == 2 and site.count(kind="verification") == 2 and site.count(kind="list") == 2


def test_verification_fraction_is_seeded(site: ReplaySite) -> None:
    def run() -> list[bool]:
        site.faults.clear()
        site.faults.verification(fraction=0.5, seed=7)
        return [_is_shell(fetch(site.url("/list,hk09988.html"))[2]) for _ in range(40)]

    first = run()
    assert 5 < sum(first) < 35
    assert run() == first


def test_verification_for_seconds(site: ReplaySite) -> None:
    active = site.faults.verification(seconds=60)
    assert _is_shell(fetch(site.url("/list,600519.html"))[2])
    active.cancel()
    expired = site.faults.verification(seconds=0.05)
    time.sleep(0.3)
    assert not _is_shell(fetch(site.url("/list,600519.html"))[2]) and expired.hits == 0


def test_faults_apply_in_order_added(site: ReplaySite) -> None:
    first = site.faults.error(503, count=1)
    second = site.faults.verification(count=1)
    statuses = [fetch(site.url("/list,600519.html"))[0:3:2] for _ in range(3)]
    assert statuses[0][0] == 503 and _is_shell(statuses[1][1]) and not _is_shell(statuses[2][1])
    assert (first.hits, second.hits) == (1, 1)
    site.faults.error(500)
    site.faults.clear()
    assert fetch(site.url("/list,600519.html"))[0] == 200


@pytest.mark.parametrize("status", [403, 429, 500, 503])
def test_error_fault(site: ReplaySite, status: int) -> None:
    fault = site.faults.error(status, path_contains="/news,", count=1)
    post = site.model.board_post_ids("usBABA")[0]
    assert fetch(site.url(f"/news,usBABA,{post}.html"))[0] == status
    assert fetch(site.url(f"/news,usBABA,{post}.html"))[0] == 200
    assert fault.hits == 1 and site.count(kind="error") == 1


def test_tarpit_repeats_previous_page(site: ReplaySite) -> None:
    site.faults.tarpit("600519", from_page=2)
    page1 = [row_id(r) for r in list_page(site, "600519", 1)["re"]]
    page2 = [row_id(r) for r in list_page(site, "600519", 2)["re"]]
    page3 = [row_id(r) for r in list_page(site, "600519", 3)["re"]]
    assert page1 == page2 == page3
    assert len(list_page(site, "usBABA", 2)["re"]) == 40


def test_slow_fault_delays(site: ReplaySite) -> None:
    fault = site.faults.slow(2.0, path_contains="/list,", count=1)
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        fetch(site.url("/list,600519.html"), timeout=0.3)
    assert fault.hits == 1
    assert fetch(site.url("/list,600519.html"))[0] == 200


def test_truncate_fault(site: ReplaySite) -> None:
    full = fetch(site.url("/list,600519,f.html"))[2]
    site.faults.truncate(path_contains="/list,", count=1, at=0.5)
    status, headers, body = fetch(site.url("/list,600519,f.html"))
    assert status == 200 and len(body) == int(len(full) * 0.5) == int(headers["Content-Length"])
    with pytest.raises(json.JSONDecodeError):
        embedded(body, "article_list", errors="replace")  # the cut may split a UTF-8 sequence


@pytest.mark.parametrize(
    ("add", "content_type"),
    [(lambda f: f.no_charset("/list,"), "text/html"),
     (lambda f: f.wrong_charset("/list,"), "text/html; charset=iso-8859-1"),
     (lambda f: f.wrong_charset("/list,", charset="gbk"), "text/html; charset=gbk")],
)
def test_charset_faults(site: ReplaySite, add: Any, content_type: str) -> None:
    add(site.faults)
    status, headers, body = fetch(site.url("/list,600519,f.html"))
    assert status == 200 and headers["Content-Type"] == content_type
    assert embedded(body, "article_list")[0]["bar_name"] == "贵州茅台"


def test_redirect_loop(site: ReplaySite) -> None:
    site.faults.redirect_loop("/list,600519")
    status, headers, _ = fetch(site.url("/list,600519.html"))
    assert status == 302 and headers["Location"] == "/list,600519.html?_loop=1"
    status, headers, _ = fetch(site.url(headers["Location"]))
    assert status == 302 and headers["Location"] == "/list,600519.html"
    with pytest.raises(urllib.error.HTTPError, match="redirect"):
        urllib.request.urlopen(site.url("/list,600519.html"), timeout=10)


def test_huge_fault_keeps_page_valid(site: ReplaySite) -> None:
    normal = embedded(fetch(site.url("/list,600519,f.html"))[2], "article_list")[0]
    site.faults.huge("/list,600519", size_bytes=5_000_000)
    body = fetch(site.url("/list,600519,f.html"))[2]
    assert len(body) >= 5_000_000
    assert embedded(body, "article_list")[0] == normal


# ---------------------------------------------------------------------------------------------- mutations
def test_add_post_tops_the_lists(fresh: ReplaySite) -> None:
    m = fresh.model
    list_page(fresh, "600519")  # warm the cache: the mutation must invalidate it
    post = m.add_post("600519", title="新帖子")
    assert int(post.post_id) == max(int(i) for i in m.posts)
    for sort in ("publish", "reply"):
        rows = [r for r in list_page(fresh, "600519", 1, sort)["re"] if r["post_top_status"] == 0]
        assert (row_id(rows[0]), rows[0]["post_title"]) == (post.post_id, "新帖子")
    with pytest.raises(TypeError):
        m.add_post("600519", no_such_field=1)


def test_add_replies_resurfaces_post(fresh: ReplaySite) -> None:
    m = fresh.model
    old = m.sorted_ids("600519", "reply")[-1]
    before = m.reply_counts(old)
    new = m.add_replies(old, 3)
    assert len(new) >= 3 and m.reply_counts(old)[1] == before[1] + len(new)
    row = next(r for r in list_page(fresh, "600519", 1, "reply")["re"] if r["post_top_status"] == 0)
    assert row_id(row) == old and row["post_comment_count"] == before[1] + len(new)
    rows, _ = _all_replies(fresh, "new", "600519", old, 30)
    assert [str(r["reply_id"]) for r in rows][-3:] == [r.reply_id for r in new if r.parent_id is None][-3:]


def test_edit_post_changes_page(fresh: ReplaySite) -> None:
    pid = fresh.model.board_post_ids("600519")[5]
    fetch(fresh.url(f"/news,600519,{pid}.html"))
    fresh.model.edit_post(pid, content_html="<p>已编辑</p>")
    data = embedded(fetch(fresh.url(f"/news,600519,{pid}.html"))[2], "post_article")[0]
    assert data["post_content"] == "<p>已编辑</p>" and data["post_mod_count"] == 1
    assert TIME_RE.match(data["post_mod_time"])


# ---------------------------------------------------------------------------------------------- determinism, CLI
def test_same_seed_same_bytes() -> None:
    paths = ["/list,600519,f.html", "/list,usBABA_2.html", "/error?type=2"]
    bodies = []
    for _ in range(2):
        m = SiteModel.generate(seed=11, boards={"600519": 90, "usBABA": 100})
        with ReplaySite(m) as s:
            pid = m.board_post_ids("600519")[0]
            got = [fetch(s.url(p))[2] for p in [*paths, f"/news,600519,{pid}.html"]]
            busiest = max(m.posts.values(), key=lambda p: p.first_level_count)
            got.append(fetch(replies_url(s, "new", busiest.bar_code), replies_form(busiest.post_id, 1))[2])
        bodies.append(got)
    assert bodies[0] == bodies[1]


def test_request_log(site: ReplaySite) -> None:
    fetch(site.url("/list,600519.html"))
    fetch(site.url("/nope"))
    assert site.requests == [("GET", "/list,600519.html", 200, "list"), ("GET", "/nope", 404, "other")]
    assert site.count(path_contains="600519") == 1
    site.reset_log()
    assert site.requests == []


def test_stop_closes_keepalive_connections() -> None:
    import http.client

    s = ReplaySite(SiteModel.generate(seed=1, boards={"600519": 10})).start()
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
    conn.request("GET", "/list,600519.html")
    assert conn.getresponse().read()
    s.stop()
    s.stop()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/list,600519.html")
        conn.getresponse().read()


def test_run_alone_prints_url() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.site", "--port", "0", "--seed", "2", "--boards", "600519:30"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        status, _, body = fetch(url + "/list,600519,f.html")
        data = embedded(body, "article_list")[0]
        assert status == 200 and data["bar_code"] == "600519" and data["re"]
    finally:
        proc.terminate()
        code = proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert code == 0
