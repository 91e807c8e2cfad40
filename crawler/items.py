"""Items the spiders yield and the pipelines fill in.

Every item keeps the raw values exactly as Guba served them (``*_raw`` fields, ``body_html``, ``raw``)
next to the fields the pipelines normalise later (``author``, ``source``, ``published_at``, ``body``,
``stocks``, ...). Wrong normalisation can then be fixed by re-running the rules over stored data.

Parsers in :mod:`crawler.pages` fill only the raw side; normalised fields start as ``None`` / empty and
belong to :mod:`pipelines`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class StockMention:
    """One security mentioned in a post, as found in the page (not yet mapped to ``CODE.MARKET``).

    kind: ``kline`` (``alt="K图 600519_0"`` image, ``nid=1.600519`` in its src), ``cashtag``
    (``$贵州茅台(SH600519)$``), ``datacode`` (``data-code="600519|1|1"`` link).
    code: the code as written (``600519``, ``SH600519``, ``BABA``, ``BK0896``, ``09988``).
    market_hint: what the page says about the market, verbatim, if anything (``SH`` from a cashtag prefix,
    the quote market number ``1`` from ``nid=1.600519`` or ``600519|1|1``, ``116`` for HK, ``105`` for US).
    name: display name where given (``贵州茅台`` in a cashtag).
    """

    kind: str
    code: str
    market_hint: str | None = None
    name: str | None = None


@dataclass
class ListRow:
    """One row of a board list page (``article_list.re``); a value object, not a yielded item."""

    post_id: str
    bar_code: str  # the post's own bar (may differ from the list's bar)
    bar_name: str | None
    title: str
    author_id: str | None
    author_name: str | None
    author_is_majia: bool
    reads: int | None
    comments: int | None
    forwards: int | None
    likes: int | None
    published_raw: str | None
    last_activity_raw: str | None
    post_type: int | None
    pinned: bool
    source_id: str | None  # post_source_id
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class ListPage:
    """A parsed board list page."""

    bar_code: str
    bar_name: str | None
    count: int | None  # total posts in the bar (grows while you crawl)
    rows: list[ListRow]
    server_time_raw: str | None = None


@dataclass
class PostItem:
    """One Guba post (a post page). Raw fields from :func:`crawler.pages.post.parse_post_page`;
    normalised fields from the pipelines."""

    post_id: str
    url: str
    bar_code: str
    bar_name: str | None
    title: str
    body_html: str
    abstract: str
    author_id: str | None
    author_name_raw: str | None
    author_is_majia: bool
    author_deactivated: bool  # user_extendinfos.deactive == "1"
    author_user_type: int | None
    published_raw: str | None
    last_activity_raw: str | None
    modified_raw: str | None
    display_raw: str | None
    reads: int | None
    comments: int | None
    forwards: int | None
    likes: int | None
    post_type: int | None
    client: str | None  # post_from
    source_id: str | None  # post_source_id: finance article id (18 digits) or caifuhao id (23)
    media_name: str | None  # extend.MediaName
    header_source_raw: str | None  # text of <span class='source'> ("来源：中国新闻网")
    footer_source_raw: str | None  # "（文章来源：中国新闻网）" / "（来源：xx的财富号 2024-05-22 15:34）"
    footer_url: str | None  # the [点击查看原文] link
    forward_of: str | None  # source_post_id when this post forwards another ("0" -> None)
    forward_title: str | None
    forward_content_html: str | None
    forward_author_name: str | None
    ip_region: str | None
    stock_mentions: list[StockMention] = field(default_factory=list)
    list_bar_code: str | None = None  # the board list we came from, if any
    deleted: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    # A post without replies carries its "replies done" marker itself (one item less through Scrapy).
    replies_done: RepliesDoneItem | None = None
    # --- filled by pipelines ---
    author: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    published_at: datetime | None = None
    last_activity_at: datetime | None = None
    modified_at: datetime | None = None
    body: str | None = None
    stocks: list[str] = field(default_factory=list)
    article_id: str | None = None
    fetched_at: datetime | None = None


@dataclass
class ReplyItem:
    """One reply (first-level or child) from the replies API."""

    reply_id: str
    post_id: str
    parent_id: str | None  # None for first-level replies; the first-level reply id for child replies
    quoted_reply_id: str | None  # source_reply[0].source_reply_id (the reply being answered)
    author_id: str | None
    author_name_raw: str | None
    text_raw: str
    published_raw: str | None
    likes: int | None
    ip_region: str | None
    deleted: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    # --- filled by pipelines ---
    author: dict[str, Any] | None = None
    text: str | None = None
    published_at: datetime | None = None
    fetched_at: datetime | None = None


@dataclass
class ReplyPageItem:
    """The replies of one replies-API page, as one item: a post has ~10 replies, and Scrapy's cost per item is
    larger than the pipelines' cost per reply, so they travel together."""

    post_id: str
    page: int
    replies: list[ReplyItem]
    # Set on the post's last replies page: every page has been fetched (one item less through Scrapy).
    done: RepliesDoneItem | None = None


@dataclass
class DeletedPostItem:
    """A post the site says is gone (302 to ``/error?type=2``, the error404 shell)."""

    post_id: str
    bar_code: str
    url: str
    reason: str
    fetched_at: datetime | None = None


@dataclass
class RepliesDoneItem:
    """Every reply page of a post has been fetched in this run (the replies API said there are no more).

    Incremental runs read this back: a post whose replies were not all fetched (a killed run, a failed page)
    is fetched again. ``first_level`` / ``total`` are the API's ``count`` / ``reply_total_count``.
    """

    post_id: str
    first_level: int
    total: int
    post_comments: int | None  # the post's comment count when its page was fetched
    fetched_at: datetime | None = None


@dataclass
class BoardDoneItem:
    """A board's list walk ended normally in this run. ``watermark`` is the last-activity time (Beijing raw
    string) of the newest ordinary row seen on page 1; the next incremental run walks down to it. It is
    stored only when the whole run finishes cleanly (see pipelines/watermarks.py)."""

    board: str
    sort: str
    watermark: str | None
    stop_reason: str
    pages: int
