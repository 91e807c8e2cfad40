"""Callbacks shared by the spiders: a post page, then all pages of its replies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.http import FormRequest, Request, Response
from twisted.python.failure import Failure

from crawler.items import DeletedPostItem, PostItem, RepliesDoneItem, ReplyPageItem
from crawler.middlewares import BlockedGiveUp
from crawler.pages import (
    ApiError,
    Blocked,
    LayoutChanged,
    PageError,
    PostGone,
    decode_body,
    parse_post_page,
    parse_replies,
)
from crawler.urls import (
    is_error_url,
    parse_post_url,
    post_url,
    replies_api_url,
    replies_form,
    replies_legacy_api_url,
)

# Scheduler priorities: finish what was started (replies, posts) before opening more list pages, so the
# queue stays short on long crawls.
PRIO_LIST = 0
PRIO_POST = 10
PRIO_REPLIES = 20

Outcome = str  # "ok" | "deleted" | "blocked" | "layout_changed" | "error"


class Outcomes(dict[str, Outcome]):
    """How fetching each post ended, for `guba fetch`'s exit status. Board crawls see hundreds of thousands of
    posts and need none of it: with ``keep=False`` nothing is stored, so memory stays flat on long runs."""

    def __init__(self, keep: bool = True) -> None:
        super().__init__()
        self.keep = keep

    def __setitem__(self, key: str, value: Outcome) -> None:
        if self.keep:
            super().__setitem__(key, value)

    def setdefault(self, key: str, default: Outcome) -> Outcome:
        return super().setdefault(key, default) if self.keep else default


class GubaBaseSpider(scrapy.Spider):
    """Post and replies callbacks. Subclasses decide where posts come from."""

    def __init__(self, *args: Any, replies: str | int = "1", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # `-a replies=0` skips the replies API (posts only).
        self.fetch_replies = str(replies).lower() not in ("0", "false", "no")
        # post id -> how fetching it ended; `guba fetch` reads this to choose its exit status.
        self.outcomes = Outcomes()

    @property
    def base_url(self) -> str:
        return str(self.settings.get("GUBA_BASE_URL")).rstrip("/")

    @property
    def reply_page_size(self) -> int:
        return self.settings.getint("GUBA_REPLY_PAGE_SIZE", 30)

    def inc(self, key: str, n: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key, n)

    # --- posts ------------------------------------------------------------------------------
    def post_request(
        self,
        bar: str,
        post_id: str,
        *,
        referer: str | None = None,
        list_bar: str | None = None,
        reply_start_page: int = 1,
    ) -> Request:
        return Request(
            post_url(self.base_url, bar, post_id),
            callback=self.parse_post,
            errback=self.on_error,
            priority=PRIO_POST,
            # Redirects are read here, not followed: every deleted post lands on the same /error URL.
            meta={
                "dont_redirect": True,
                "handle_httpstatus_list": [301, 302, 303, 307, 308, 404, 410],
                "guba_referer": referer,
                "guba_post_id": post_id,
                "guba_board": list_bar,
            },
            cb_kwargs={"post_id": post_id, "bar": bar, "list_bar": list_bar, "reply_start_page": reply_start_page},
        )

    def parse_post(
        self, response: Response, post_id: str, bar: str, list_bar: str | None, reply_start_page: int = 1
    ) -> Iterator[Request | PostItem | DeletedPostItem | RepliesDoneItem]:
        if 300 <= response.status < 400:
            location = urljoin(response.url, (response.headers.get(b"Location") or b"").decode("latin-1"))
            if is_error_url(location):
                yield from self._gone(post_id, bar, response.url, f"redirected to {location}")
                return
            yield from self._follow_post_redirect(response, location, post_id, list_bar, reply_start_page)
            return
        if response.status in (404, 410):
            yield from self._gone(post_id, bar, response.url, f"HTTP {response.status}")
            return
        text = decode_body(response.body, _content_type(response))
        try:
            post = parse_post_page(text, url=response.url, expected_post_id=post_id)
        except PostGone as exc:
            yield from self._gone(post_id, bar, response.url, exc.reason)
            return
        except PageError as exc:
            self.page_error(exc, response.url, post_id=post_id, board=list_bar)
            return
        post.list_bar_code = list_bar
        self.outcomes[post_id] = "ok"
        self.inc("guba/posts")
        has_replies = (post.comments or 0) > 0
        done = (
            RepliesDoneItem(post_id=post_id, first_level=0, total=0, post_comments=post.comments)
            if self.fetch_replies and not has_replies else None
        )
        # A 财富号 post whose page carries no body: its article page (a browser request) completes it.
        completion = self.complete_post_request(post, response.url)
        if completion is None:
            post.replies_done = done  # travels with the post
            yield post
        else:
            yield completion
            if done is not None:
                yield done
        if self.fetch_replies and has_replies:
            yield self.replies_request(
                post_id, post.bar_code, max(1, reply_start_page), referer=response.url,
                post_comments=post.comments, board=list_bar,
            )

    def _follow_post_redirect(
        self, response: Response, location: str, post_id: str, list_bar: str | None, reply_start_page: int
    ) -> Iterator[Request]:
        """A post page that redirects to the same post (another bar, a query string) is followed a few times;
        a loop, or a redirect anywhere else, is reported with its URL and stores nothing: only the site's
        error page says a post is gone."""
        hops = int(response.meta.get("guba_post_hops", 0)) + 1
        try:
            moved = parse_post_url(location)
        except ValueError:
            moved = None
        limit = self.settings.getint("REDIRECT_MAX_TIMES", 5)
        if moved is not None and moved.post_id == post_id and hops <= limit:
            request = self.post_request(moved.bar_code, post_id, list_bar=list_bar, reply_start_page=reply_start_page)
            request = request.replace(url=location, dont_filter=True)
            request.meta["guba_post_hops"] = hops
            yield request
            return
        self.inc("guba/redirect_loop" if moved is not None and moved.post_id == post_id else "guba/redirect_away")
        self.logger.error(
            "Post %s: %s redirects to %s (%d hops); not stored, the next run tries again",
            post_id, response.url, location, hops,
        )
        self.outcomes.setdefault(post_id, "error")
        if list_bar:
            self.board_failed(list_bar)

    def complete_post_request(self, post: PostItem, referer: str) -> Request | None:
        """A request that yields ``post`` completed from another page, or None when the post is complete."""
        return None

    def _gone(self, post_id: str, bar: str, url: str, reason: str) -> Iterator[DeletedPostItem]:
        self.outcomes[post_id] = "deleted"
        self.inc("guba/deleted")
        self.logger.info("Post %s is deleted or missing (%s): %s", post_id, reason, url)
        yield DeletedPostItem(post_id=post_id, bar_code=bar, url=post_url(self.base_url, bar, post_id), reason=reason)

    # --- replies ----------------------------------------------------------------------------
    def replies_request(
        self,
        post_id: str,
        bar: str,
        page: int,
        *,
        referer: str,
        legacy: bool = False,
        post_comments: int | None = None,
        board: str | None = None,
    ) -> FormRequest:
        url = replies_legacy_api_url(self.base_url) if legacy else replies_api_url(self.base_url, bar)
        return FormRequest(
            url,
            formdata=replies_form(post_id, page, self.reply_page_size),
            callback=self.parse_replies,
            errback=self.on_error,
            priority=PRIO_REPLIES,
            meta={"guba_referer": referer, "guba_post_id": post_id, "guba_board": board},
            cb_kwargs={
                "post_id": post_id,
                "bar": bar,
                "page": page,
                "legacy": legacy,
                "referer": referer,
                "post_comments": post_comments,
                "board": board,
            },
        )

    def parse_replies(
        self,
        response: Response,
        post_id: str,
        bar: str,
        page: int,
        legacy: bool,
        referer: str,
        post_comments: int | None = None,
        board: str | None = None,
    ) -> Iterator[Request | ReplyPageItem | RepliesDoneItem]:
        text = decode_body(response.body, _content_type(response))
        try:
            replies = parse_replies(text, post_id=post_id, page=page, url=response.url)
        except (ApiError, LayoutChanged) as exc:
            if not legacy:
                # The 2022 endpoint refused: the older one serves the same data.
                self.inc("guba/replies/fallback")
                yield self.replies_request(
                    post_id, bar, page, referer=referer, legacy=True, post_comments=post_comments, board=board
                )
                return
            self.page_error(exc, response.url, post_id=post_id, board=board)
            return
        except PageError as exc:
            self.page_error(exc, response.url, post_id=post_id, board=board)
            return
        self.inc("guba/pages/replies")
        self.inc("guba/replies", len(replies.replies))
        ps = self.reply_page_size
        if replies.first_level_ids:
            more = page * ps < replies.count if replies.count is not None else len(replies.first_level_ids) >= ps
        else:
            more = False
        done = None
        if not more:
            first_level = (
                replies.count if replies.count is not None else (page - 1) * ps + len(replies.first_level_ids)
            )
            done = RepliesDoneItem(
                post_id=post_id,
                first_level=first_level,
                total=replies.total_count if replies.total_count is not None else first_level,
                post_comments=post_comments,
            )
        if replies.replies:
            # The last page carries the "replies done" marker (one item less through Scrapy).
            yield ReplyPageItem(post_id=post_id, page=page, replies=replies.replies, done=done)
        elif done is not None:
            yield done
        if more:
            yield self.replies_request(
                post_id, bar, page + 1, referer=referer, legacy=legacy, post_comments=post_comments, board=board
            )

    # --- errors -----------------------------------------------------------------------------
    def page_error(
        self, exc: PageError, url: str, *, post_id: str | None = None, board: str | None = None
    ) -> None:
        if isinstance(exc, Blocked):
            # The middleware retries verification pages; one that slipped past it is still not content.
            self.inc("guba/blocked/late")
            self.logger.warning("Verification page reached a callback, not stored: %s", url)
            outcome = "blocked"
        elif isinstance(exc, ApiError):
            self.inc("guba/api_error")
            self.logger.error("Site answered an error for %s: %s", url, exc.reason)
            outcome = "error"
        else:
            self.inc("guba/layout_changed")
            self.logger.error("Layout changed? %s: %s", url, exc.reason)
            outcome = "layout_changed"
        if post_id is not None:
            self.outcomes.setdefault(post_id, outcome)
        if board is not None and outcome != "layout_changed":
            self.board_failed(board)

    def board_failed(self, board: str) -> None:
        """Something of this board's walk was not stored: its watermark must not move this run."""
        self.inc(f"guba/board_failed/{board}")

    def on_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        post_id = request.meta.get("guba_post_id") if request is not None else None
        if failure.check(BlockedGiveUp):
            outcome = "blocked"
        else:
            self.inc("guba/request_failed")
            self.logger.error("Request failed: %s: %s", url, failure.getErrorMessage())
            outcome = "error"
        if post_id is not None and self.outcomes.get(post_id) != "ok":
            self.outcomes[post_id] = outcome
        board = request.meta.get("guba_board") if request is not None else None
        if board:
            self.board_failed(board)


def _content_type(response: Response) -> str | None:
    value = response.headers.get(b"Content-Type")
    return value.decode("latin-1") if value else None
