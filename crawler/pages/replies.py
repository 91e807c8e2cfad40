"""The replies API (``reply/api/Reply/ArticleNewReplyList``) JSON -> :class:`ReplyPage`
(guba-site.md §4.2)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from crawler.items import ReplyItem
from crawler.pages.classify import is_verification_page
from crawler.pages.embedded import json_dict, json_id, json_int, json_str
from crawler.pages.errors import ApiError, Blocked, LayoutChanged
from crawler.urls import is_login_url


@dataclass
class ReplyPage:
    """One page of replies to ``post_id``.

    replies: first-level replies, each followed by its child replies. count: first-level replies of
    the post as the API reports it (``count``); total_count: all replies (``reply_total_count``).
    first_level_ids: ids of the first-level replies on this page, in order.
    """

    post_id: str
    page: int
    count: int | None
    total_count: int | None
    replies: list[ReplyItem]
    first_level_ids: list[str]


def _reply(entry: dict[str, Any], *, post_id: str, parent_id: str | None) -> ReplyItem | None:
    reply_id = json_id(entry.get("reply_id"))
    if reply_id is None:
        return None
    user = json_dict(entry.get("reply_user"))
    quoted = entry.get("source_reply")
    quoted_id = None
    if isinstance(quoted, list) and quoted and isinstance(quoted[0], dict):
        quoted_id = json_id(quoted[0].get("source_reply_id"))
    state = json_int(entry.get("reply_state"))
    return ReplyItem(
        reply_id=reply_id,
        post_id=json_id(entry.get("source_post_id")) or post_id,
        parent_id=parent_id,
        quoted_reply_id=quoted_id,
        author_id=json_id(user.get("user_id")) or json_id(entry.get("user_id")),
        author_name_raw=json_str(user.get("user_nickname")),
        text_raw=json_str(entry.get("reply_text")) or "",
        published_raw=json_str(entry.get("reply_publish_time")) or json_str(entry.get("reply_time")),
        likes=json_int(entry.get("reply_like_count")),
        ip_region=json_str(entry.get("reply_ip_address")),
        # An absent state is not evidence of deletion; only a non-zero one is.
        deleted=state is not None and state != 0,
        raw={k: v for k, v in entry.items() if k != "child_replys"},
    )


def parse_replies(text: str, *, post_id: str, page: int = 1, url: str = "") -> ReplyPage:
    """Parse one replies-API answer.

    Raises Blocked (the verification shell came back instead of JSON, or ``url`` is a login URL),
    LayoutChanged (not JSON, not an object, ``re`` neither a list nor absent/null), ApiError
    (``rc != 1``; message = ``me``). ``rc == 1`` with an empty or absent ``re`` is a page with no
    replies. Entries without a ``reply_id`` (and non-object entries) are skipped.
    """
    stripped = text.lstrip("\ufeff \t\r\n")
    try:
        login = bool(url) and is_login_url(url)
    except ValueError:
        login = False
    if login:
        raise Blocked("replies request redirected to login", url=url, kind="login")
    # A JSON answer is never the shell, whatever its reply texts say; only check non-JSON bodies.
    if not stripped.startswith("{") and is_verification_page(text):
        raise Blocked("verification page (身份核实) instead of replies", url=url, kind="verification")
    try:
        data = json.loads(stripped)
    except (ValueError, RecursionError) as exc:
        raise LayoutChanged(f"replies answer is not JSON ({type(exc).__name__})", url=url) from None
    if not isinstance(data, dict):
        raise LayoutChanged(f"replies answer is a {type(data).__name__}, not an object", url=url)
    if json_int(data.get("rc")) != 1:
        raise ApiError(f"replies rc={data.get('rc')!r}: {json_str(data.get('me')) or ''}"[:300], url=url)
    entries = data.get("re")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise LayoutChanged(f"replies re is {type(entries).__name__}, not a list", url=url)

    replies: list[ReplyItem] = []
    first_level_ids: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        first = _reply(entry, post_id=post_id, parent_id=None)
        if first is None:
            continue
        replies.append(first)
        first_level_ids.append(first.reply_id)
        children = entry.get("child_replys")
        for child in children if isinstance(children, list) else []:
            if isinstance(child, dict):
                item = _reply(child, post_id=post_id, parent_id=first.reply_id)
                if item is not None:
                    replies.append(item)
    return ReplyPage(
        post_id=post_id,
        page=page,
        count=json_int(data.get("count")),
        total_count=json_int(data.get("reply_total_count")),
        replies=replies,
        first_level_ids=first_level_ids,
    )
