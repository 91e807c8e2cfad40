from __future__ import annotations

from typing import Any

import pytest

from pipelines.normalize import normalize_author

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # (case, kwargs, expected subset)
    ("real-majia-news-account", {"user_id": "7344113638256342", "nickname": "贵州茅台资讯", "is_majia": True},
     {"id": "7344113638256342", "name": "贵州茅台资讯", "kind": "official"}),
    ("real-majia-qa-account", {"user_id": "3817004951661984", "nickname": "五粮液股友", "is_majia": True},
     {"kind": "official", "name": "五粮液股友"}),
    ("real-ordinary-user", {"user_id": "2828093978019996", "nickname": "老T哥洞察市场"},
     {"id": "2828093978019996", "name": "老T哥洞察市场", "kind": "user"}),
    ("real-default-nickname", {"user_id": "5294426842937618", "nickname": "股友K12239388L", "user_type": 0},
     {"kind": "user", "name": "股友K12239388L"}),
    ("bar-news-nickname-without-flag-is-user", {"user_id": "1", "nickname": "贵州茅台资讯"},
     {"kind": "user"}),
    ("bar-news-nickname-with-bar-name", {"user_id": "1", "nickname": "贵州茅台资讯", "bar_name": "贵州茅台吧"},
     {"kind": "official"}),
    ("other-bar-news-nickname-with-bar-name", {"user_id": "1", "nickname": "五粮液资讯", "bar_name": "贵州茅台"},
     {"kind": "user"}),
    ("eastmoney-official-exact", {"user_id": "6073396357519808", "nickname": "东方财富网"},
     {"kind": "official"}),
    ("eastmoney-lookalike-is-user", {"user_id": "2", "nickname": "东方财富网铁粉"}, {"kind": "user"}),
    ("deactivated-flag", {"user_id": "123", "nickname": "老股民", "deactivated": True},
     {"id": "123", "name": None, "kind": "deleted", "name_raw": "老股民"}),
    ("deleted-nickname", {"user_id": "123", "nickname": "该用户已注销"}, {"kind": "deleted", "name": None}),
    ("deleted-nickname-short", {"user_id": "123", "nickname": " 已注销 "}, {"kind": "deleted"}),
    ("deleted-beats-majia", {"user_id": "9", "nickname": "用户已注销", "is_majia": True}, {"kind": "deleted"}),
    ("no-id", {"user_id": None, "nickname": "老股民"}, {"id": None, "name": "老股民", "kind": "anonymous"}),
    ("zero-id", {"user_id": "0", "nickname": "老股民"}, {"id": None, "kind": "anonymous"}),
    ("empty-id", {"user_id": "", "nickname": None}, {"id": None, "name": None, "kind": "anonymous"}),
    ("anonymous-nickname", {"user_id": "55", "nickname": "匿名用户"}, {"id": None, "name": None, "kind": "anonymous"}),
    ("guest-nickname", {"user_id": None, "nickname": "游客"}, {"kind": "anonymous", "name": None}),
    ("guba-netizen-nickname", {"user_id": "0", "nickname": "股吧网友"}, {"kind": "anonymous"}),
    ("fullwidth-space-collapsed", {"user_id": "7", "nickname": "\u3000香樟\xa0桃桃 "},
     {"name": "香樟 桃桃", "name_raw": "\u3000香樟\xa0桃桃 ", "kind": "user"}),
    ("blank-nickname", {"user_id": "7", "nickname": "  "}, {"name": None, "kind": "user"}),
]


@pytest.mark.parametrize(("kwargs", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_normalize_author(kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    result = normalize_author(**kwargs)
    assert set(result) == {"id", "name", "kind", "name_raw"}
    assert result["name_raw"] == kwargs["nickname"]
    for key, value in expected.items():
        assert result[key] == value, key
