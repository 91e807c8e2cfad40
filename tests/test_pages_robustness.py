"""Property tests: on any input, every parser returns a result or raises a PageError subclass —
never KeyError, TypeError, ValueError, JSONDecodeError, RecursionError, ... (the spiders catch only
PageError)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.pages import (
    LayoutChanged,
    PageError,
    classify_page,
    decode_body,
    extract_js_object,
    find_stock_mentions,
    is_verification_page,
    parse_count,
    parse_list_page,
    parse_post_page,
    parse_replies,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REAL = Path(__file__).parent / "fixtures" / "pages" / "real"
REAL_PAGES = sorted(p.read_bytes() for p in REAL.iterdir() if p.suffix in (".html", ".json"))
URLS = [
    "https://guba.eastmoney.com/news,600519,1743987733.html",
    "https://guba.eastmoney.com/list,600519,f.html",
    "https://guba.eastmoney.com/error?type=2",
    "https://passport2.eastmoney.com/pub/login",
    "http://[::1",
    "",
    "not a url",
]

# Pieces of real pages: random concatenations reach deep into the parsers (valid-looking vars,
# shells, JSON keys) far more often than uniform random text.
FRAGMENTS = [
    "var article_list=", "var post_article=", "var post_article = ", "var other_list=", ";", "    ",
    "{", "}", "[", "]", ",", ":", '"', "null", "true", "1", "0", "-1", "1e999", '"re":', '"rc":1', '"rc":0',
    '"me":"x"', '"post_id":', '"post_id":1743987733', '"post_content":', '"post_user":', '"post_guba":',
    '"stockbar_code":', '"source_post_id":', '"child_replys":', '"reply_id":', '"source_reply":',
    '"count":', '"post":', "<title>身份核实</title>", "<title>", "</title>", "validate.js", "emcaptcha",
    "fd_guba_validate", "em_capt.js", "error404_page", "很抱歉，您访问的帖子不存在", "<img alt=\"K图 600519_0\" ",
    'src="nid=1.600519"', 'data-code="600519|1|1"', ">", "<", "$贵州茅台(SH600519)$", "$", "(", ")",
    "（文章来源：", "）", "<a href='x'>[点击查看原文]</a>", "<span class='source'>", "</span>", "\x00", "\ud800",
    "\\ud800", "\\u0000", "</script>",
]
fuzz_text = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=40).map("".join),
)


@st.composite
def mutated_real(draw: st.DrawFn) -> bytes:
    """A real payload truncated at a random point and/or with random bytes overwritten."""
    data = bytearray(draw(st.sampled_from(REAL_PAGES)))
    if data and draw(st.booleans()):
        del data[draw(st.integers(0, len(data) - 1)):]
    for _ in range(draw(st.integers(0, 6))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


# Values the site might plausibly put where another type is expected.
EDGE_VALUES: list[Any] = [None, True, False, 0, -1, 2**70, 1.5, float("inf"), float("nan"), "", "0", "x", "1.2万",
                          "\ud800", [], [None], {}, {"a": None}]
json_values = st.recursive(
    st.sampled_from(EDGE_VALUES) | st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def _real_json(name: str, var: str | None) -> dict[str, Any]:
    text = (REAL / name).read_text(encoding="utf-8")
    data = json.loads(text) if var is None else extract_js_object(text, var)
    assert isinstance(data, dict)
    return data


REAL_LIST = _real_json("alphapulse_fixture_list_stock_600519_2026-07-15.html", "article_list")
REAL_POST = _real_json("alphapulse_fixture_post_detail_600519_1743987733_2026-07-15.html", "post_article")
REAL_REPLIES = _real_json("alphapulse_fixture_replies_ArticleNewReplyList_1743300821_2026-07-14.json", None)


def _scramble(obj: Any, draw: st.DrawFn, depth: int = 0) -> Any:
    """Replace random values of a real JSON object (at any depth) by random JSON values."""
    if isinstance(obj, dict):
        return {k: (draw(json_values) if draw(st.integers(0, 3)) == 0 else _scramble(v, draw, depth + 1))
                for k, v in obj.items()}
    if isinstance(obj, list) and depth < 6:
        return [_scramble(v, draw, depth + 1) for v in obj]
    return obj


@st.composite
def scrambled_pages(draw: st.DrawFn) -> tuple[str, str]:
    """(kind, text): a real list/post/replies payload, valid JSON, with wrongly typed values."""
    kind = draw(st.sampled_from(["list", "post", "replies"]))
    if kind == "list":
        return kind, "<script>var article_list=" + json.dumps(_scramble(REAL_LIST, draw)) + ";</script>"
    if kind == "post":
        return kind, "<script>var post_article=" + json.dumps(_scramble(REAL_POST, draw)) + ";</script>"
    return kind, json.dumps(_scramble(REAL_REPLIES, draw))


def _only_page_errors(call: Callable[[], object]) -> None:
    # Anything but a PageError propagates and fails the test.
    with contextlib.suppress(PageError):
        call()


def _all_parsers(text: str, url: str) -> None:
    _only_page_errors(lambda: parse_list_page(text, url=url))
    _only_page_errors(lambda: parse_post_page(text, url=url))
    _only_page_errors(lambda: parse_post_page(text, url=url, expected_post_id="1743987733"))
    _only_page_errors(lambda: parse_replies(text, post_id="1743300821", page=2, url=url))
    _only_page_errors(lambda: extract_js_object(text, "article_list", url=url))
    _only_page_errors(lambda: extract_js_object(text, "post_article", url=url))
    assert isinstance(classify_page(status=200, url=url, text=text).value, str)
    assert isinstance(is_verification_page(text), bool)
    assert isinstance(find_stock_mentions(text), list)
    parse_count(text)


@SETTINGS
@given(text=fuzz_text, url=st.sampled_from(URLS) | st.text(max_size=30))
def test_parsers_on_arbitrary_text(text: str, url: str) -> None:
    _all_parsers(text, url)


@SETTINGS
@given(body=mutated_real(), content_type=st.sampled_from([None, "text/html", "text/html; charset=utf-8",
                                                          "text/html; charset=gbk", "application/json"]))
def test_parsers_on_mutated_real_pages(body: bytes, content_type: str | None) -> None:
    text = decode_body(body, content_type)
    assert isinstance(text, str)
    _all_parsers(text, URLS[0])


@SETTINGS
@given(page=scrambled_pages())
def test_parsers_on_wrongly_typed_json(page: tuple[str, str]) -> None:
    kind, text = page
    if kind == "list":
        _only_page_errors(lambda: parse_list_page(text, url=URLS[1]))
    elif kind == "post":
        _only_page_errors(lambda: parse_post_page(text, url=URLS[0], expected_post_id="1743987733"))
    else:
        _only_page_errors(lambda: parse_replies(text, post_id="1743300821", url=URLS[0]))


@SETTINGS
@given(body=st.binary(), content_type=st.none() | st.text(max_size=40)
       | st.sampled_from(["text/html; charset=gb2312", "text/html; charset=\"UTF-8\"", "text/html;charset=idna",
                          "text/html; charset=base64", "text/html; charset=utf-16", "x; charset=latin-1"]))
def test_decode_never_raises(body: bytes, content_type: str | None) -> None:
    assert isinstance(decode_body(body, content_type), str)


@SETTINGS
@given(value=json_values)
def test_extract_js_object_of_any_json_value(value: Any) -> None:
    text = "<script>var article_list=" + json.dumps(value) + ";</script>"
    try:
        result = extract_js_object(text, "article_list")
    except PageError:
        assert not isinstance(value, dict)
    else:
        # Compare serialised: NaN never equals a new NaN.
        assert json.dumps(result) == json.dumps(value)


def _replace_each_value(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Copies of ``obj`` with one value (top level or one level down) replaced by each edge value."""
    for key, value in obj.items():
        for edge in EDGE_VALUES:
            yield {**obj, key: edge}
        if isinstance(value, dict):
            for inner in value:
                for edge in EDGE_VALUES:
                    yield {**obj, key: {**value, inner: edge}}


def test_every_field_of_real_payloads_with_every_edge_value() -> None:
    """Deterministic complement to the property tests: each field, each odd value."""
    row = REAL_LIST["re"][1]
    for bad_row in _replace_each_value(row):
        _only_page_errors(lambda r=bad_row: parse_list_page(  # type: ignore[misc]
            "var article_list=" + json.dumps({**REAL_LIST, "re": [r]}), url=URLS[1]))
    for bad_list in _replace_each_value({k: v for k, v in REAL_LIST.items() if k != "re"}):
        _only_page_errors(lambda a=bad_list: parse_list_page(  # type: ignore[misc]
            "var article_list=" + json.dumps({**a, "re": REAL_LIST["re"]}), url=URLS[1]))
    for bad_post in _replace_each_value(REAL_POST):
        _only_page_errors(lambda p=bad_post: parse_post_page(  # type: ignore[misc]
            "var post_article=" + json.dumps(p), url=URLS[0], expected_post_id="1743987733"))
    first = REAL_REPLIES["re"][0]
    for bad_reply in [*_replace_each_value(first), *_replace_each_value(first["child_replys"][0])]:
        _only_page_errors(lambda r=bad_reply: parse_replies(  # type: ignore[misc]
            json.dumps({**REAL_REPLIES, "re": [r, {**first, "child_replys": [r]}]}), post_id="1743300821"))


@pytest.mark.parametrize(
    "call",
    [
        lambda: extract_js_object("var article_list=" + "[" * 200_000, "article_list"),
        lambda: parse_list_page("var article_list=" + '{"re":' * 200_000),
        lambda: parse_post_page("var post_article=" + '{"a":' * 200_000, url=URLS[0]),
        lambda: parse_replies('{"re":' + "[" * 200_000, post_id="1"),
    ],
    ids=["extract", "list", "post", "replies"],
)
def test_deep_nesting_is_layout_changed_not_recursion_error(call: Callable[[], object]) -> None:
    with pytest.raises(LayoutChanged):
        call()
