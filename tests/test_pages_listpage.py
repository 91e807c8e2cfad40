"""parse_list_page details the fixture cases do not pin down, and parse_count."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crawler.pages.errors import ApiError, LayoutChanged
from crawler.pages.listpage import parse_count, parse_list_page, title_from_body


def list_html(article_list: dict[str, Any]) -> str:
    return ('<html><head><title>x</title></head><body><script>var article_list='
            + json.dumps(article_list, ensure_ascii=False) + ';    var other_list={"re":[]};</script></body></html>')


@pytest.mark.parametrize(
    ("text", "want"),
    [("123", 123), ("0", 0), ("1.2万", 12000), ("3亿", 300_000_000), ("1.25亿", 125_000_000), ("10万+", 100_000),
     (" 1,234 ", 1234), ("-", None), ("", None), ("万", None), ("1.2.3", None), ("abc", None), ("-5", None)],
)
def test_parse_count(text: str, want: int | None) -> None:
    assert parse_count(text) == want


@pytest.mark.parametrize(
    ("body", "want"),
    [("", ""), (None, ""), ("短帖", "短帖"), ("a\n\nb<br>c", "a b c"), ("字" * 50, "字" * 40)],
)
def test_title_from_body(body: str | None, want: str) -> None:
    assert title_from_body(body) == want


@pytest.mark.parametrize(
    ("article_list", "error", "message"),
    [
        ({"re": [], "rc": 0, "me": "系统繁忙"}, ApiError, "系统繁忙"),
        ({"re": []}, ApiError, "rc=None"),
        ({"re": {"post_id": 1}, "rc": 1}, LayoutChanged, "not a list"),
        ({"re": None, "rc": 1}, LayoutChanged, "not a list"),
    ],
)
def test_errors(article_list: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_list_page(list_html(article_list), url="https://guba.eastmoney.com/list,600519,f.html")


def test_bar_code_falls_back_to_url_and_rows_to_page_bar() -> None:
    page = parse_list_page(list_html({"re": [{"post_id": "17", "post_title": "t"}], "rc": 1}),
                           url="https://guba.eastmoney.com/list,hk09988,f_3.html")
    assert page.bar_code == "hk09988"
    assert [(r.post_id, r.bar_code, r.author_is_majia, r.reads, r.pinned) for r in page.rows] == [
        ("17", "hk09988", False, None, False)]
    assert page.count is None and page.server_time_raw is None


def test_rows_keep_raw_and_skip_rows_without_id() -> None:
    rows = [{"post_id": 0}, {"post_id": ""}, {"post_title": "x"}, 5, {"post_id": 9, "post_title": "ok"}]
    page = parse_list_page(list_html({"re": rows, "rc": 1, "bar_code": "600519"}))
    assert [r.post_id for r in page.rows] == ["9"]
    assert page.rows[0].raw == rows[4]
