"""``scrapy crawl guba -a boards=600519,usBABA,hk09988 [-a pages=N] [-a sort=publish|reply] [-a since=DATE]``

Walks each board's list pages (newest posts first by default), follows every post to its own bar's post page,
fetches all its reply pages, and stops a board at ``pages``, at ``since``, at an empty page, or when a page
brings no new post ids (the site serving the same page for different page numbers). Each stop is logged with
its reason and counted under ``guba/board_stop/<reason>``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from scrapy.http import Request, Response

from crawler.items import DeletedPostItem, PostItem
from crawler.pages import PageError, PostGone, decode_body, parse_list_page
from crawler.spiders.base import PRIO_LIST, GubaBaseSpider, _content_type
from crawler.urls import board_list_url, parse_board_arg

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$")


@dataclass
class BoardState:
    code: str
    seen: set[str] = field(default_factory=set)
    pages: int = 0
    stop_reason: str | None = None


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


class GubaSpider(GubaBaseSpider):
    name = "guba"

    def __init__(
        self,
        boards: str | None = None,
        pages: str | int | None = None,
        sort: str = "publish",
        since: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        codes = [parse_board_arg(b) for b in _split(boards)]
        if not codes:
            raise ValueError("no boards: use -a boards=600519,usBABA,hk09988")
        self.boards = list(dict.fromkeys(codes))
        self.max_pages = int(pages) if pages not in (None, "") else None
        if sort not in ("publish", "reply"):
            raise ValueError(f"sort must be 'publish' or 'reply', got {sort!r}")
        self.sort = sort
        if since and not _DATE_RE.match(since.strip()):
            raise ValueError(f"since must look like 2026-03-01 or '2026-03-01 09:30', got {since!r}")
        # Guba times are Beijing wall-clock "YYYY-MM-DD HH:MM:SS" strings, so string order is time order.
        self.since = since.strip() if since else None
        self.state = {code: BoardState(code) for code in self.boards}

    async def start(self) -> AsyncIterator[Request]:
        if self.max_pages is None:
            self.max_pages = self.settings.getint("GUBA_MAX_PAGES") or None
        for code in self.boards:
            yield self.list_request(code, 1)

    def list_request(self, board: str, page: int) -> Request:
        return Request(
            board_list_url(self.base_url, board, page, self.sort),
            callback=self.parse_list,
            errback=self.on_error,
            priority=PRIO_LIST,
            cb_kwargs={"board": board, "page": page},
        )

    def parse_list(
        self, response: Response, board: str, page: int
    ) -> Iterator[Request | PostItem | DeletedPostItem]:
        state = self.state[board]
        try:
            listing = parse_list_page(decode_body(response.body, _content_type(response)), url=response.url)
        except PostGone:
            self.stop(state, page, "no_board", "no such board")
            return
        except PageError as exc:
            self.page_error(exc, response.url)
            self.stop(state, page, "unreadable", "list page unreadable")
            return
        state.pages += 1
        self.inc("guba/pages/list")
        new_rows = [r for r in listing.rows if r.post_id not in state.seen]
        state.seen.update(r.post_id for r in new_rows)
        for row in new_rows:
            if self.since and row.published_raw and row.published_raw < self.since:
                continue
            yield self.post_request(row.bar_code or board, row.post_id, referer=response.url, list_bar=board)
        if not listing.rows:
            self.stop(state, page, "empty_page", "empty page")
        elif not new_rows:
            self.inc("guba/tarpit_stops")
            self.stop(state, page, "tarpit", "page brought no new post ids (tarpit)")
        elif self.since and self._all_older(listing.rows):
            self.stop(state, page, "reached_since", f"reached since={self.since}")
        elif self.max_pages is not None and page >= self.max_pages:
            self.stop(state, page, "page_limit", f"page limit {self.max_pages}")
        else:
            yield self.list_request(board, page + 1)

    def _all_older(self, rows: list[Any]) -> bool:
        # Pinned rows keep their place whatever their age; only ordinary rows say how old the page is.
        dated = [r.published_raw for r in rows if not r.pinned and r.published_raw]
        assert self.since is not None
        return bool(dated) and all(d < self.since for d in dated)

    def stop(self, state: BoardState, page: int, key: str, reason: str) -> None:
        state.stop_reason = key
        self.inc(f"guba/board_stop/{key}")
        self.logger.info("Board %s: stopped after page %d: %s", state.code, page, reason)
