from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.normalize import OUTLET_ALIASES, canonical_outlet, clean_body, normalize_source
from pipelines.normalize.source import caifuhao_name

FIXTURES = Path(__file__).parent / "fixtures" / "normalize"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("来源：中国新闻网", "中国新闻网"),  # real zw_header span text
        ("（文章来源：中国新闻网）", "中国新闻网"),  # real zw_footer text
        ("中国新闻网", "中国新闻网"),  # real extend.MediaName
        ("中新网", "中国新闻网"),
        ("来源: 中新网 ", "中国新闻网"),
        ("(文章来源:中新网)", "中国新闻网"),
        ("本文来源于:证券时报·e公司", "证券时报"),
        ("本文来自: 每经网", "每日经济新闻"),
        ("文章来源：南都", "南方都市报"),
        ("【来源：新华网】", "新华社"),
        ("来源：读创 记者 张三", "读创"),
        ("来源：第一财经 2024-05-22 15:34", "第一财经"),
        ("来源：上证报 作者：李四", "上海证券报"),
        ("来源：２１财经", "21世纪经济报道"),  # full-width digits
        ("来源：某某日报", "某某日报"),  # unknown outlets are kept, cleaned
        ("（来源：券商中国的财富号 2019-01-23 05:31）", "券商中国的财富号"),
        ("来源：", None),
        ("  ", None),
        ("", None),
        (None, None),
    ],
)
def test_canonical_outlet(raw: str | None, expected: str | None) -> None:
    assert canonical_outlet(raw) == expected


def test_alias_table_covers_the_required_outlets() -> None:
    required = {"新华社", "人民网", "央视新闻", "中国新闻网", "南方都市报", "第一财经", "财联社", "证券时报",
                "上海证券报", "中国证券报", "经济观察报", "21世纪经济报道", "每日经济新闻", "澎湃新闻", "界面新闻",
                "新浪财经", "网易财经", "读创", "东方财富网"}
    assert required <= set(OUTLET_ALIASES)
    for canonical, aliases in OUTLET_ALIASES.items():
        for alias in (canonical, *aliases):
            assert canonical_outlet(alias) == canonical, alias


def test_no_spelling_maps_to_two_outlets() -> None:
    owners: dict[str, str] = {}
    for canonical, aliases in OUTLET_ALIASES.items():
        for alias in (canonical, *aliases):
            assert owners.setdefault(alias, canonical) == canonical, alias


BASE: dict[str, Any] = {
    "post_type": 0, "client": "股吧网页版", "media_name": None, "header_source_raw": None,
    "footer_source_raw": None, "footer_url": None, "source_id": None, "forward_of": None,
}

SOURCE_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("real-news-repost", {
        "post_type": 1, "media_name": "中国新闻网", "header_source_raw": "来源：中国新闻网",
        "footer_source_raw": "（文章来源：中国新闻网）",
        "footer_url": "http://finance.eastmoney.com/a/202607153807346473.html", "source_id": "202607153807346473",
    }, {"kind": "news", "outlet": "中国新闻网", "url": "http://finance.eastmoney.com/a/202607153807346473.html"}),
    ("news-url-from-18-digit-source-id", {"post_type": 1, "media_name": "中新网", "source_id": "202607153807346473"},
     {"kind": "news", "outlet": "中国新闻网", "url": "http://finance.eastmoney.com/a/202607153807346473.html"}),
    ("news-without-outlet", {"post_type": 1}, {"kind": "news", "outlet": None, "url": None}),
    ("media-name-wins-over-header-and-footer", {
        "post_type": 1, "media_name": "新华社", "header_source_raw": "来源：人民网", "footer_source_raw": "（文章来源：央视新闻）",
    }, {"outlet": "新华社"}),
    ("header-wins-over-footer", {
        "post_type": 1, "header_source_raw": "来源：人民网", "footer_source_raw": "（文章来源：央视新闻）",
    }, {"outlet": "人民网"}),
    ("footer-only", {"post_type": 1, "footer_source_raw": "（文章来源：证券时报网）"}, {"outlet": "证券时报"}),
    ("outlet-evidence-makes-news", {"post_type": 0, "header_source_raw": "来源：财联社"},
     {"kind": "news", "outlet": "财联社"}),
    ("real-caifuhao-footer", {
        "post_type": 0, "footer_source_raw": "（来源：券商中国的财富号 2019-01-23 05:31）",
        "footer_url": "http://caifuhao.eastmoney.com/news/20190124053117311720040",
    }, {"kind": "caifuhao", "outlet": "券商中国的财富号",
        "url": "http://caifuhao.eastmoney.com/news/20190124053117311720040"}),
    ("real-caifuhao-post-type-20", {"post_type": 20, "client": "创作中心网页端", "source_id": "20260712115507055580370"},
     {"kind": "caifuhao", "outlet": None, "url": "https://caifuhao.eastmoney.com/news/20260712115507055580370",
      "client": "创作中心网页端"}),
    ("caifuhao-ignores-short-source-id", {"post_type": 20, "source_id": "202607153807346473"},
     {"kind": "caifuhao", "url": None}),
    ("forward", {"post_type": 0, "forward_of": "1743300821", "media_name": "中国新闻网"},
     {"kind": "forward", "outlet": None, "url": None}),
    ("forward-zero-is-not-a-forward", {"post_type": 0, "forward_of": "0"}, {"kind": "user"}),
    ("real-qa", {"post_type": 11, "client": None}, {"kind": "qa", "outlet": None, "client": None}),
    ("plain-user", {"post_type": 0, "body_text": "$新疆交建(SZ002941)$今天很猛，估计要涨停"},
     {"kind": "user", "outlet": None, "url": None, "client": "股吧网页版"}),
    ("user-pastes-news-laiyuan", {"post_type": 0, "body_text": "\n来源：读创 2024-05-22\n茅台今日发布公告……"},
     {"kind": "user", "outlet": "读创"}),
    ("user-pastes-news-zhuanzi", {"post_type": 0, "body_text": "转自网易财经：茅台今日发布公告"},
     {"kind": "user", "outlet": "网易财经"}),
    ("user-pastes-news-run-on", {"post_type": 0, "body_text": "来源：读创记者获悉，茅台今日发布公告"},
     {"kind": "user", "outlet": "读创"}),
    ("user-pastes-news-unknown-outlet", {"post_type": 0, "body_text": "来源：某某财经 今天"},
     {"kind": "user", "outlet": "某某财经"}),
    ("user-source-line-not-first", {"post_type": 0, "body_text": "我觉得不错\n来源：读创"},
     {"kind": "user", "outlet": None}),
    ("post-type-none", {"post_type": None}, {"kind": "user"}),
]


@pytest.mark.parametrize(("kwargs", "expected"), [c[1:] for c in SOURCE_CASES], ids=[c[0] for c in SOURCE_CASES])
def test_normalize_source(kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    result = normalize_source(**{**BASE, **kwargs})
    assert set(result) == {"kind", "outlet", "url", "client"}
    for key, value in expected.items():
        assert result[key] == value, key


def test_real_news_post_page_strings_agree() -> None:
    """The three outlet strings of the real 600519 news post canonicalise to one outlet."""
    html = (FIXTURES / "news_post_content_600519.html").read_text(encoding="utf-8")
    assert "<span class='source'>来源：中国新闻网</span>" in html
    assert "（文章来源：中国新闻网）" in html
    assert {canonical_outlet("中国新闻网"), canonical_outlet("来源：中国新闻网"), canonical_outlet("（文章来源：中国新闻网）")} == {
        "中国新闻网"
    }
    result = normalize_source(**{**BASE, "post_type": 1, "header_source_raw": "来源：中国新闻网",
                                 "footer_source_raw": "（文章来源：中国新闻网）", "body_text": clean_body(html)})
    assert result["outlet"] == "中国新闻网"


@pytest.mark.parametrize(
    ("footer", "expected"),
    [
        ("（来源：券商中国的财富号 2019-01-23 05:31）", "券商中国的财富号"),
        ("（来源：小汤同学的财富号 2024-05-22 15:34） [点击查看原文]", "小汤同学的财富号"),
        ("（文章来源：中国新闻网）", None),
        (None, None),
    ],
)
def test_caifuhao_name(footer: str | None, expected: str | None) -> None:
    assert caifuhao_name(footer) == expected
