"""extract_js_object and the JSON value coercions."""

from __future__ import annotations

from typing import Any

import pytest

from crawler.pages.embedded import extract_js_object, json_bool, json_id, json_int, json_str
from crawler.pages.errors import LayoutChanged


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('<script>var article_list={"re":[],"rc":1};    var other_list={"re":[]};</script>', {"re": [], "rc": 1}),
        ('var article_list = {"a":1};', {"a": 1}),
        ('var  article_list\n=\t{"a":1}', {"a": 1}),
        # titles carrying the very text naive splitters cut at
        ('var article_list={"t":"};    var other_list={\\"re\\":[]};"};', {"t": '};    var other_list={"re":[]};'}),
        ('var article_list2={"b":2};var article_list={"a":1};', {"a": 1}),  # not fooled by a longer name
        ('var other={"x":1};', None),
        ("", None),
    ],
)
def test_extract(text: str, want: dict[str, Any] | None) -> None:
    assert extract_js_object(text, "article_list") == want


@pytest.mark.parametrize(
    "text",
    [
        'var article_list={"re":[{"post_id":1,"post_title":"cut here',  # truncated download
        "var article_list=;",
        "var article_list=null;",
        'var article_list=[{"a":1}];',
        'var article_list="x";',
        "var article_list={'a':1};",  # JS, not JSON
        "var article_list=" + "[" * 50_000,  # nesting beyond the recursion limit
        'var article_list={"n":' + "9" * 5000 + "}",  # beyond int() digit limit
    ],
)
def test_present_but_unusable_is_layout_changed(text: str) -> None:
    with pytest.raises(LayoutChanged) as info:
        extract_js_object(text, "article_list", url="https://guba.eastmoney.com/list,600519,f.html")
    assert info.value.url == "https://guba.eastmoney.com/list,600519,f.html"


@pytest.mark.parametrize(
    ("value", "as_int", "as_str", "as_id", "as_bool"),
    [
        (1743987733, 1743987733, "1743987733", "1743987733", False),
        ("1743987733", 1743987733, "1743987733", "1743987733", False),
        (0, 0, "0", None, False),
        ("", None, None, None, False),
        (None, None, None, None, False),
        (True, None, None, None, True),
        ("true", None, "true", "true", True),
        ("False", None, "False", "False", False),
        (1, 1, "1", "1", True),
        (3.0, 3, None, None, False),
        (float("nan"), None, None, None, False),
        (float("inf"), None, None, None, False),
        ("1.2万", None, "1.2万", "1.2万", False),
        ([1], None, None, None, False),
        ({"a": 1}, None, None, None, False),
    ],
)
def test_coercions(value: Any, as_int: int | None, as_str: str | None, as_id: str | None, as_bool: bool) -> None:
    assert json_int(value) == as_int
    assert json_str(value) == as_str
    assert json_id(value) == as_id
    assert json_bool(value) is as_bool
