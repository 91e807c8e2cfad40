"""Board list pages (``list,{code},f_{n}.html``): ``var article_list={…}`` -> :class:`ListPage`.

Rows come in two schemas, sometimes mixed in one page (guba-site.md §2.4, §2.5, §6.2): the flat
"Articlelist" row (``user_nickname``, ``stockbar_code`` at top level) and the nested WAP
"WebArticleList" row (``post_user{…}``, ``post_guba{…}``). Each field is read from whichever is there.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from crawler.items import ListPage, ListRow
from crawler.pages.classify import PageKind, classify_page, raise_for_kind
from crawler.pages.embedded import extract_js_object, json_bool, json_dict, json_id, json_int, json_str
from crawler.pages.errors import ApiError, LayoutChanged, PostGone

# How many characters of the body stand in for a missing title: what the site itself shows for
# title-less posts (40-character titles in the real 601012/zssh000001 lists).
TITLE_FROM_BODY_CHARS = 40

_LIST_URL_CODE_RE = re.compile(r"/list,([A-Za-z0-9_]+)")
_TAG_RE = re.compile(r"<[^>]*>")
_WS_RE = re.compile(r"\s+")
# An inner bar code that is also a board code: plain letters, as in "cfhpl" (财富号评论吧, whose rows
# carry stockbar_code ""). Inner codes like "gs80329323" or "bk0896_4" are not URL codes.
_LETTER_CODE_RE = re.compile(r"[a-z]{2,12}")
_COUNT_RE = re.compile(r"(\d{1,20}(?:\.\d{1,10})?)\s*(万|亿)?\+?")
_UNITS = {None: 1, "万": 10_000, "亿": 100_000_000}


def parse_count(text: str) -> int | None:
    """A count as the list DOM shows it: ``"123"`` -> 123, ``"1.2万"`` -> 12000, ``"3亿"`` -> 300000000,
    ``"1,234"`` -> 1234, ``"10万+"`` -> 100000. ``"-"``, ``""`` and anything else -> None. Never raises."""
    if not isinstance(text, str):
        return None
    s = text.strip().replace(",", "").replace("，", "")
    m = _COUNT_RE.fullmatch(s)
    if m is None:
        return None
    return int(Decimal(m.group(1)) * _UNITS[m.group(2)])


def title_from_body(body: str | None) -> str:
    """The display title of a title-less post: the body's text (tags dropped, whitespace collapsed),
    cut to :data:`TITLE_FROM_BODY_CHARS` characters; "" for no body."""
    if not body:
        return ""
    text = _WS_RE.sub(" ", _TAG_RE.sub(" ", body)).strip()
    return text[:TITLE_FROM_BODY_CHARS]


def own_bar_code(obj: dict[str, Any]) -> str | None:
    """The bar a post belongs to, from a list row or a post_article: ``stockbar_code`` (flat) or
    ``post_guba.stockbar_code`` (nested); when both are empty, a letters-only
    ``post_guba.stockbar_inner_code`` (``cfhpl``: 财富号评论吧 rows carry ``stockbar_code ""``). None if
    the object names no bar."""
    guba = json_dict(obj.get("post_guba"))
    code = json_str(obj.get("stockbar_code")) or json_str(guba.get("stockbar_code"))
    if code:
        return code.strip() or None
    inner = json_str(guba.get("stockbar_inner_code"))
    if inner and _LETTER_CODE_RE.fullmatch(inner):
        return inner
    return None


def parse_row(row: dict[str, Any], *, page_bar_code: str) -> ListRow | None:
    """One ``article_list.re`` entry (either schema) -> :class:`ListRow`; None when it has no post id.

    Values of the wrong type become None (counts, times) or False (flags); the row dict is kept in
    ``raw`` as served.
    """
    post_id = json_id(row.get("post_id"))
    if post_id is None:
        return None
    user = json_dict(row.get("post_user"))
    guba = json_dict(row.get("post_guba"))
    title = json_str(row.get("post_title")) or title_from_body(json_str(row.get("post_content")))
    majia_value = row["user_is_majia"] if "user_is_majia" in row else user.get("user_is_majia")
    return ListRow(
        post_id=post_id,
        bar_code=own_bar_code(row) or page_bar_code,
        bar_name=json_str(row.get("stockbar_name")) or json_str(guba.get("stockbar_name")),
        title=title,
        author_id=json_id(row.get("user_id")) or json_id(user.get("user_id")),
        author_name=json_str(row.get("user_nickname")) or json_str(user.get("user_nickname")),
        author_is_majia=json_bool(majia_value),
        reads=json_int(row.get("post_click_count")),
        comments=json_int(row.get("post_comment_count")),
        forwards=json_int(row.get("post_forward_count")),
        likes=json_int(row.get("post_like_count")),
        published_raw=json_str(row.get("post_publish_time")),
        last_activity_raw=json_str(row.get("post_last_time")),
        post_type=json_int(row.get("post_type")),
        pinned=json_int(row.get("post_top_status")) == 1,
        source_id=json_id(row.get("post_source_id")),
        raw=row,
    )


def _page_bar_code(data: dict[str, Any], url: str) -> str:
    code = json_str(data.get("bar_code")) or json_str(json_dict(data.get("bar_info")).get("OuterCode"))
    if code:
        return code
    m = _LIST_URL_CODE_RE.search(url)
    return m.group(1) if m else ""


def parse_list_page(text: str, *, url: str = "") -> ListPage:
    """Parse a board list page.

    Raises Blocked (verification shell / login redirect), PostGone (the list URL landed on ``/error`` or
    the error404 shell: the board does not exist), LayoutChanged (no ``var article_list``, truncated or
    invalid JSON, ``re`` not a list), ApiError (``rc != 1``; the message is the site's ``me``).
    An empty ``re`` is a valid page with no rows (past the last page). Rows without a post id and
    entries that are not objects are skipped.
    """
    kind = classify_page(status=200, url=url, text=text)
    if kind is PageKind.DELETED:
        raise PostGone("board list landed on the error page: no such board", url=url)
    raise_for_kind(kind, url=url)
    data = extract_js_object(text, "article_list", url=url)
    if data is None:
        raise LayoutChanged("no article_list", url=url)
    if json_int(data.get("rc")) != 1:
        raise ApiError(f"article_list rc={data.get('rc')!r}: {json_str(data.get('me')) or ''}"[:300], url=url)
    rows_value = data.get("re")
    if not isinstance(rows_value, list):
        raise LayoutChanged(f"article_list.re is {type(rows_value).__name__}, not a list", url=url)
    bar_code = _page_bar_code(data, url)
    rows = []
    for entry in rows_value:
        if isinstance(entry, dict):
            row = parse_row(entry, page_bar_code=bar_code)
            if row is not None:
                rows.append(row)
    return ListPage(
        bar_code=bar_code,
        bar_name=json_str(data.get("bar_name")) or json_str(json_dict(data.get("bar_info")).get("ShortName")),
        count=json_int(data.get("count")),
        rows=rows,
        server_time_raw=json_str(data.get("time")),
    )
