"""parse_replies details the real fixture does not pin down (guba-site.md §4.2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crawler.pages.errors import ApiError, Blocked, LayoutChanged
from crawler.pages.replies import parse_replies

API = "https://guba.eastmoney.com/api/getData?code=600519&path=reply%2Fapi%2FReply%2FArticleNewReplyList"


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", LayoutChanged, "not JSON"),
        ('{"re": [', LayoutChanged, "not JSON"),
        ("<html><body>502 Bad Gateway</body></html>", LayoutChanged, "not JSON"),
        ("[1, 2]", LayoutChanged, "not an object"),
        ('{"re": {"reply_id": 1}, "rc": 1}', LayoutChanged, "not a list"),
        ('{"re": [], "rc": 0, "me": "系统繁忙"}', ApiError, "系统繁忙"),
        ('{"re": []}', ApiError, "rc=None"),
        ("<html><head><title>身份核实</title><script src='/fd_guba_validate/validate.js'></script></head></html>",
         Blocked, "verification"),
    ],
)
def test_errors(text: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as info:
        parse_replies(text, post_id="1", url=API)
    assert info.value.url == API  # type: ignore[attr-defined]


def test_login_url_is_blocked() -> None:
    with pytest.raises(Blocked) as info:
        parse_replies('{"rc": 1}', post_id="1", url="https://passport2.eastmoney.com/pub/login")
    assert info.value.kind == "login"


def test_json_whose_text_mentions_the_shell_is_still_json() -> None:
    text = json.dumps({"re": [{"reply_id": 7, "reply_text": "<title>身份核实</title> validate.js"}], "rc": 1})
    assert parse_replies(text, post_id="1").first_level_ids == ["7"]


@pytest.mark.parametrize("re_value", [None, [], "absent"])
def test_no_replies(re_value: Any) -> None:
    data: dict[str, Any] = {"rc": 1, "me": "暂无评论"}
    if re_value != "absent":
        data["re"] = re_value
    page = parse_replies(json.dumps(data), post_id="42", page=3)
    assert (page.post_id, page.page, page.replies, page.first_level_ids, page.count) == ("42", 3, [], [], None)


def test_odd_entries() -> None:
    data = {"rc": 1, "count": "2", "reply_total_count": 5, "re": [
        "junk",
        {"reply_text": "no id"},
        {"reply_id": 11, "user_id": 99, "reply_time": "2026-07-14 14:32:15", "reply_text": None,
         "child_replys": [{"reply_id": 12, "reply_state": 1, "source_reply": [{"source_reply_id": 11}]}, {"x": 1}, 3],
         "source_reply": "garbage"},
    ]}
    page = parse_replies(json.dumps(data), post_id="1743300821")
    assert page.count == 2 and page.total_count == 5 and page.first_level_ids == ["11"]
    first, child = page.replies
    assert (first.reply_id, first.post_id, first.parent_id, first.author_id, first.text_raw, first.published_raw,
            first.deleted, first.quoted_reply_id) == ("11", "1743300821", None, "99", "", "2026-07-14 14:32:15",
                                                      False, None)
    assert "child_replys" not in first.raw
    assert (child.reply_id, child.parent_id, child.quoted_reply_id, child.deleted) == ("12", "11", "11", True)
