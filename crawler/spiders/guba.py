"""``scrapy crawl guba -a boards=600519,usBABA,hk09988 [-a pages=N] [-a sort=publish|reply] [-a since=DATE]
[-a full=1]``

Walks each board's list pages, follows every post to its own bar's post page, fetches its reply pages, and stops
a board at ``pages``, at ``since``, at an empty page, or when a page brings no new post ids (the site serving the
same page for different page numbers). Each stop is logged with its reason and counted under
``guba/board_stop/<reason>``.

With MongoDB configured (``MONGO_URI``) runs are incremental: the board is walked by last activity (``sort=reply``
unless given) down to the watermark of the last run that completed, and only new posts, posts whose comment count
or last-activity time moved, and posts whose replies were never all fetched are requested, their replies from the
first page not yet stored. ``-a full=1`` ignores what is stored. Without MongoDB, or with ``full=1``, the default
sort is ``publish`` (newest posts first).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from scrapy.http import Request, Response

from crawler.incremental import Known, KnownPostsStore, decide
from crawler.items import BoardDoneItem, DeletedPostItem, ListRow, PostItem
from crawler.pages import PageError, PostGone, decode_body, parse_list_page
from crawler.spiders.base import PRIO_LIST, GubaBaseSpider, Outcomes, _content_type
from crawler.spiders.caifuhao import CaifuhaoMixin
from crawler.urls import board_list_url, parse_board_arg

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$")


@dataclass
class BoardState:
    code: str
    pages: int = 0
    stop_reason: str | None = None


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


class GubaSpider(CaifuhaoMixin, GubaBaseSpider):
    name = "guba"

    def __init__(
        self,
        boards: str | None = None,
        pages: str | int | None = None,
        sort: str | None = None,
        since: str | None = None,
        full: str | int | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes = Outcomes(keep=False)
        codes = [parse_board_arg(b) for b in _split(boards)]
        if not codes:
            raise ValueError("no boards: use -a boards=600519,usBABA,hk09988")
        self.boards = list(dict.fromkeys(codes))
        self.max_pages = int(pages) if pages not in (None, "") else None
        if sort not in (None, "", "publish", "reply"):
            raise ValueError(f"sort must be 'publish' or 'reply', got {sort!r}")
        self.requested_sort = sort or None
        self.sort = sort or "publish"
        if since and not _DATE_RE.match(since.strip()):
            raise ValueError(f"since must look like 2026-03-01 or '2026-03-01 09:30', got {since!r}")
        # Guba times are Beijing wall-clock "YYYY-MM-DD HH:MM:SS" strings, so string order is time order.
        self.since = since.strip() if since else None
        self.full = str(full or "0").lower() in ("1", "true", "yes")
        # Set by pipelines.watermarks.WatermarkExtension when MongoDB is configured (None: every run is full).
        self.known_posts: KnownPostsStore | None = None
        self.incremental = False
        self.watermarks: dict[str, str | None] = {}
        self.state = {code: BoardState(code) for code in self.boards}

    async def start(self) -> AsyncIterator[Request]:
        if self.max_pages is None:
            self.max_pages = self.settings.getint("GUBA_MAX_PAGES") or None
        if self.known_posts is not None and not self.full:
            self.incremental = True
            # Incremental runs walk by last activity: new posts and posts with new replies come first, so a
            # board is done at the first page whose rows are all older than the last complete run.
            self.sort = self.requested_sort or "reply"
            self.watermarks = {b: self.known_posts.watermark(b, self.sort) for b in self.boards}
            self.logger.info("Incremental run (sort=%s); watermarks: %s", self.sort, self.watermarks)
        for code in self.boards:
            yield self.list_request(code, 1)

    def list_request(
        self, board: str, page: int, prev_ids: list[str] | None = None, watermark: str | None = None
    ) -> Request:
        return Request(
            board_list_url(self.base_url, board, page, self.sort),
            callback=self.parse_list,
            errback=self.on_error,
            priority=PRIO_LIST,
            # Every scheduled run (and a resumed one) walks the same list URLs again.
            dont_filter=True,
            meta={"guba_board": board},
            # What later pages need travels with the request, so any process (scrapy-redis) can walk on.
            cb_kwargs={"board": board, "page": page, "prev_ids": prev_ids or [], "watermark": watermark},
        )

    async def parse_list(
        self,
        response: Response,
        board: str,
        page: int,
        prev_ids: list[str] | None = None,
        watermark: str | None = None,
    ) -> AsyncIterator[Request | PostItem | DeletedPostItem | BoardDoneItem]:
        read = self._read_list(response, board, page, prev_ids)
        if read is None:
            return
        state, rows, fresh = read
        known: dict[str, Known] = {}
        if self.incremental and self.known_posts is not None:
            # A database round trip: off the reactor thread, which keeps downloading and parsing meanwhile.
            known = await asyncio.to_thread(self.known_posts.lookup, [r.post_id for r in fresh])
        for out in self._list_outputs(response, state, board, page, rows, fresh, known, watermark):
            yield out

    def _read_list(
        self, response: Response, board: str, page: int, prev_ids: list[str] | None
    ) -> tuple[BoardState, list[ListRow], list[ListRow]] | None:
        """The page's rows and those not on the previous page; None (the board stopped) when unreadable."""
        state = self.state.setdefault(board, BoardState(board))
        try:
            listing = parse_list_page(decode_body(response.body, _content_type(response)), url=response.url)
        except PostGone:
            self.stop(state, page, "no_board", "no such board")
            return None
        except PageError as exc:
            self.page_error(exc, response.url, board=board)
            self.stop(state, page, "unreadable", "list page unreadable")
            return None
        state.pages += 1
        self.inc("guba/pages/list")
        rows = listing.rows
        # The tarpit guard only compares with the previous page, so it needs no state across processes.
        previous = set(prev_ids or ())
        return state, rows, [r for r in rows if r.post_id not in previous]

    def _list_outputs(
        self,
        response: Response,
        state: BoardState,
        board: str,
        page: int,
        rows: list[ListRow],
        fresh: list[ListRow],
        known: dict[str, Known],
        watermark: str | None,
    ) -> Iterator[Request | PostItem | DeletedPostItem | BoardDoneItem]:
        if page == 1 and self.sort == "reply":
            # This run's watermark: the newest activity it saw at the top of the board.
            newest = [r.last_activity_raw for r in rows if not r.pinned and r.last_activity_raw]
            watermark = max(newest) if newest else None
        ps = self.reply_page_size
        for row in fresh:
            if self.since and row.published_raw and row.published_raw < self.since:
                continue
            if self.incremental:
                d = decide(comments=row.comments, last_activity_raw=row.last_activity_raw,
                           known=known.get(row.post_id), reply_page_size=ps)
                self.inc(f"guba/incremental/{d.reason}")
                if not d.fetch:
                    continue
                start_page = d.reply_start_page
            else:
                start_page = 1
            yield self.post_request(row.bar_code or board, row.post_id, referer=response.url, list_bar=board,
                                    reply_start_page=start_page)
        ids = [r.post_id for r in rows]
        if not rows:
            yield from self.done(state, page, watermark, "empty_page", "empty page")
        elif not fresh:
            self.inc("guba/tarpit_stops")
            self.stop(state, page, "tarpit", "page brought no new post ids (tarpit)")
        elif self.incremental and self._reached_watermark(board, rows):
            yield from self.done(state, page, watermark, "reached_watermark",
                                 f"reached the last run's {self.watermarks[board]}")
        elif self.since and self._all_older(rows):
            yield from self.done(state, page, watermark, "reached_since", f"reached since={self.since}")
        elif self.max_pages is not None and page >= self.max_pages:
            yield from self.done(state, page, watermark, "page_limit", f"page limit {self.max_pages}")
        else:
            yield self.list_request(board, page + 1, ids, watermark)

    def _reached_watermark(self, board: str, rows: list[ListRow]) -> bool:
        mark = self.watermarks.get(board)
        if not mark or self.sort != "reply":
            return False
        times = [r.last_activity_raw for r in rows if not r.pinned and r.last_activity_raw]
        return bool(times) and min(times) <= mark

    def _all_older(self, rows: list[ListRow]) -> bool:
        # Pinned rows keep their place whatever their age; only ordinary rows say how old the page is.
        dated = [r.published_raw for r in rows if not r.pinned and r.published_raw]
        assert self.since is not None
        return bool(dated) and all(d < self.since for d in dated)

    def done(
        self, state: BoardState, page: int, watermark: str | None, key: str, reason: str
    ) -> Iterator[BoardDoneItem]:
        """The walk ended normally: hand the board's new watermark to the store (kept only if the run ends well)."""
        self.stop(state, page, key, reason)
        yield BoardDoneItem(board=state.code, sort=self.sort, watermark=watermark, stop_reason=key, pages=page)

    def stop(self, state: BoardState, page: int, key: str, reason: str) -> None:
        state.stop_reason = key
        self.inc(f"guba/board_stop/{key}")
        self.logger.info("Board %s: stopped after page %d: %s", state.code, page, reason)
