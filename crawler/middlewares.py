"""Downloader middlewares: block detection with domain-wide backoff, and browser-like Referers.

Guba blocks crawlers with an HTTP-200 verification page (身份核实) that carries no content. Scrapy's
AutoThrottle cannot see it (status 200, fast answer), so :class:`GubaBlockMiddleware` classifies every
response, never lets a verification page reach a callback, retries the request after a backoff that grows
with consecutive blocks and shrinks with successes, and stops (or pauses) the crawl after too many blocks in a
row with a log line that says what to do.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.defer import deferred_from_coro

from crawler.pages import PageKind, classify_page, decode_body
from crawler.urls import is_login_url

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# The verification shell is ~2.8 KB and its markers sit in <head>; classify on the head of large pages only.
_HEAD_BYTES = 16384


class BlockedGiveUp(IgnoreRequest):
    """A request kept getting the verification page and was given up (counted in ``guba/blocked/gave_up``)."""


class GubaBlockMiddleware:
    """Verification pages -> retry with domain-wide backoff; too many in a row -> stop or pause the crawl.

    Settings (see crawler/settings.py): GUBA_BLOCK_BACKOFF_BASE, GUBA_BLOCK_BACKOFF_MAX, GUBA_BLOCK_MAX_RETRIES,
    GUBA_BLOCK_MAX_CONSECUTIVE, GUBA_BLOCK_ACTION (stop|pause), GUBA_BLOCK_PAUSE_SECONDS.
    Stats: guba/pages/<kind>, guba/blocked, guba/blocked/retries, guba/blocked/gave_up, guba/blocked/stopped,
    guba/blocked/paused, guba/backoff_seconds_max.
    """

    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.backoff_base = s.getfloat("GUBA_BLOCK_BACKOFF_BASE")
        self.backoff_max = s.getfloat("GUBA_BLOCK_BACKOFF_MAX")
        self.max_retries = s.getint("GUBA_BLOCK_MAX_RETRIES")
        self.max_consecutive = s.getint("GUBA_BLOCK_MAX_CONSECUTIVE")
        self.action = s.get("GUBA_BLOCK_ACTION", "stop")
        if self.action not in ("stop", "pause"):
            raise NotConfigured(f"GUBA_BLOCK_ACTION must be 'stop' or 'pause', got {self.action!r}")
        self.pause_seconds = s.getfloat("GUBA_BLOCK_PAUSE_SECONDS")
        self.normal_delay = s.getfloat("DOWNLOAD_DELAY")
        self.consecutive = 0
        self.backoff = 0.0
        self.stopping = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GubaBlockMiddleware:
        o = cls(crawler)
        crawler.signals.connect(o._spider_closed, signal=signals.spider_closed)
        return o

    def _spider_closed(self) -> None:
        if self.stats.get_value("guba/blocked"):
            logger.info(
                "Blocks this run: %d verification pages, %d requests given up",
                self.stats.get_value("guba/blocked", 0),
                self.stats.get_value("guba/blocked/gave_up", 0),
            )

    # --- the domain-wide delay -----------------------------------------------------------------
    def _set_slot_delay(self, request: Request, delay: float) -> None:
        engine = self.crawler.engine
        if engine is None:
            return
        downloader = engine.downloader
        slot = downloader.slots.get(downloader.get_slot_key(request))
        if slot is not None:
            slot.delay = delay

    def process_response(self, request: Request, response: Response) -> Request | Response:
        head = decode_body(response.body[:_HEAD_BYTES], (response.headers.get(b"Content-Type") or b"").decode("latin-1"))
        kind = classify_page(status=response.status, url=response.url, text=head)
        if 300 <= response.status < 400 and is_login_url(
            urljoin(response.url, (response.headers.get(b"Location") or b"").decode("latin-1"))
        ):
            kind = PageKind.LOGIN
        self.stats.inc_value(f"guba/pages/{kind.name.lower()}")
        if kind is PageKind.CONTENT or kind is PageKind.DELETED:
            if response.status < 400:
                self._success(request)
            return response
        return self._blocked(request, response, kind)

    def _success(self, request: Request) -> None:
        if self.consecutive or self.backoff:
            self.consecutive = 0
            # Shrink, do not drop: the site just blocked us, so come back to the normal pace gradually.
            self.backoff = self.backoff / 2 if self.backoff / 2 > self.normal_delay else 0.0
            self._set_slot_delay(request, max(self.backoff, self.normal_delay))

    def _blocked(self, request: Request, response: Response, kind: PageKind) -> Request:
        self.consecutive += 1
        self.stats.inc_value("guba/blocked")
        self.stats.inc_value(f"guba/blocked/{kind.name.lower()}")
        grow = self.backoff_base * (2 ** (self.consecutive - 1))
        self.backoff = min(self.backoff_max, max(grow, self.backoff))
        self.stats.max_value("guba/backoff_seconds_max", self.backoff)
        self._set_slot_delay(request, self.backoff)
        logger.warning(
            "Verification page (%s) for %s: %d in a row, next request in ~%.1fs",
            kind.name.lower(), request.url, self.consecutive, self.backoff,
        )
        if self.consecutive >= self.max_consecutive:
            self._too_many()
        tries = request.meta.get("guba_block_retries", 0) + 1
        if tries > self.max_retries:
            self.stats.inc_value("guba/blocked/gave_up")
            logger.error(
                "Gave up %s after %d verification pages; it was not stored. Re-run later to fetch it.",
                request.url, tries - 1,
            )
            raise BlockedGiveUp(f"blocked {tries - 1} times: {request.url}")
        retry = request.copy()
        retry.meta["guba_block_retries"] = tries
        retry.dont_filter = True
        self.stats.inc_value("guba/blocked/retries")
        return retry

    def _too_many(self) -> None:
        engine = self.crawler.engine
        if engine is None or self.stopping:
            return
        if self.action == "pause":
            self.stats.inc_value("guba/blocked/paused")
            logger.error(
                "Guba answered %d verification pages in a row: pausing the crawl for %.0fs "
                "(GUBA_BLOCK_PAUSE_SECONDS). If this repeats, raise DOWNLOAD_DELAY or crawl from another address.",
                self.consecutive, self.pause_seconds,
            )
            import asyncio

            engine.pause()
            asyncio.get_running_loop().call_later(self.pause_seconds, engine.unpause)
            self.consecutive = 0
            return
        self.stopping = True
        self.stats.inc_value("guba/blocked/stopped")
        logger.error(
            "Guba answered %d verification pages in a row: stopping the crawl (GUBA_BLOCK_MAX_CONSECUTIVE). "
            "Nothing from those pages was stored. Wait (an hour is usually enough), raise DOWNLOAD_DELAY, then "
            "re-run; with the same JOBDIR the run resumes where it stopped.",
            self.consecutive,
        )
        if self.crawler.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason="blocked"))


class GubaRefererMiddleware:
    """Browser-like Referer/Origin headers: the board list for posts, the post page for the replies API.

    Spiders put the page a person would have come from in ``request.meta["guba_referer"]``.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GubaRefererMiddleware:
        return cls(crawler.settings.get("GUBA_BASE_URL"))

    def process_request(self, request: Request) -> None:
        ref = request.meta.get("guba_referer") or self.base_url + "/"
        request.headers.setdefault(b"Referer", ref)
        if request.method == "POST":
            request.headers.setdefault(b"Origin", self.base_url)
            request.headers.setdefault(b"X-Requested-With", "XMLHttpRequest")
        return None
