"""parse_post_page details and find_stock_mentions (guba-site.md §3.2–§3.5)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crawler.items import StockMention
from crawler.pages.errors import ApiError, LayoutChanged
from crawler.pages.post import find_stock_mentions, parse_post_page

URL = "https://guba.eastmoney.com/news,600519,1758300003.html"


def post_html(article: Any, spaces: bool = False) -> str:
    eq = " = " if spaces else "="
    return (f"<html><head><title>t</title></head><body><script>var post_article{eq}"
            + json.dumps(article, ensure_ascii=False) + ";</script><script>var img={};var imgs={};</script></body></html>")


K = StockMention


@pytest.mark.parametrize(
    ("html", "want"),
    [
        ('<img src="https://webquoteklinepic.eastmoney.com/GetPic.aspx?nid=1.600519&amp;imageType=k" alt="K图 600519_0">',
         [K("kline", "600519", "1")]),
        ("<img alt='K图 BABA_0' data-code='K BABA|106|1'>", [K("kline", "BABA", "106")]),
        ('<img alt="K图 09988_0">', [K("kline", "09988", None)]),
        ('<img alt="行情图">', []),
        ('<a href="#" data-code="600519|1|1" data-code2="600519|1|2|">茅台</a>', [K("datacode", "600519", "1")]),
        ('<span data-code="601818,1,1" data-type="1" class="zwstock">光大银行</span>', [K("datacode", "601818", "1")]),
        ('<a data-code2="600519|1|2|">x</a>', []),
        ("$贵州茅台(SH600519)$", [K("cashtag", "600519", "SH", "贵州茅台")]),
        ("$贵州茅台（sh600519）$", [K("cashtag", "600519", "SH", "贵州茅台")]),
        ("$白酒(BK0896)$", [K("cashtag", "BK0896", "BK", "白酒")]),
        ("$腾讯控股(HK|00700)$", [K("cashtag", "00700", "HK", "腾讯控股")]),
        ("$阿里巴巴(US|BABA)$", [K("cashtag", "BABA", "US", "阿里巴巴")]),
        ("$阿里巴巴(BABA)$", [K("cashtag", "BABA", None, "阿里巴巴")]),
        ("$Shopify(SHOP)$", [K("cashtag", "SHOP", None, "Shopify")]),  # a ticker, not SH + "OP"
        ("$小米集团-W(01810.HK)$", [K("cashtag", "01810", "HK", "小米集团-W")]),
        ("$不是代码$ $(空)$ $1800(元)$ $$", []),
        ("先$五粮液(SZ000858)$后<img alt=\"K图 600519_0\" src=\"nid=1.600519\">再$茅台(SH600519)$",
         [K("cashtag", "000858", "SZ", "五粮液"), K("kline", "600519", "1"), K("cashtag", "600519", "SH", "茅台")]),
    ],
)
def test_find_stock_mentions(html: str, want: list[StockMention]) -> None:
    assert find_stock_mentions(html) == want


@pytest.mark.parametrize(
    "content", ["", "   ", "<", "<<<>>>", "\x00\x01", "\ud800", "<div id='zw_footer'>（文章来源：", "]]>", "<?xml?>"],
)
def test_odd_bodies_give_empty_sources(content: str) -> None:
    post = parse_post_page(post_html({"post_id": 1758300003, "post_content": content}), url=URL)
    assert (post.header_source_raw, post.footer_source_raw, post.footer_url) == (None, None, None)
    assert post.body_html == content


def test_minimal_post_article_fills_defaults_quietly() -> None:
    post = parse_post_page(post_html({"post_id": "1758300003"}), url=URL, expected_post_id="1758300003")
    assert (post.post_id, post.bar_code, post.title, post.body_html, post.abstract) == ("1758300003", "600519", "", "", "")
    assert post.author_id is None and post.reads is None and post.forward_of is None and post.stock_mentions == []
    assert post.raw == {"post_id": "1758300003"}


def test_forward_fields_only_when_forwarding() -> None:
    post = parse_post_page(post_html({"post_id": 5, "source_post_id": "0", "source_post_title": "leftover"}), url=URL)
    assert (post.forward_of, post.forward_title) == (None, None)


@pytest.mark.parametrize(
    ("article", "error", "message"),
    [
        ({"post_title": "no id"}, LayoutChanged, "no post_id"),
        ({"post_id": 0}, LayoutChanged, "no post_id"),
        ({"post": {"post_id": 1}, "rc": 0, "me": "帖子不存在"}, ApiError, "帖子不存在"),
        ({"post": "x", "rc": 1}, LayoutChanged, "no post_id"),
        ({"post_id": 1758000000}, LayoutChanged, "!= requested 1758300003"),
    ],
)
def test_errors(article: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_post_page(post_html(article, spaces=True), url=URL, expected_post_id="1758300003")


def test_missing_post_article() -> None:
    with pytest.raises(LayoutChanged, match="no post_article"):
        parse_post_page("<html><head><title>贵州茅台吧</title></head><body></body></html>", url=URL)
