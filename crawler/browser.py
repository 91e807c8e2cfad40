"""Browser fallback: Debian's chromium through scrapy-playwright, for the few requests that need JavaScript.

Who uses the browser:

* 财富号 article pages (:mod:`crawler.spiders.caifuhao`): their body is built by a script at load time.
* With ``GUBA_BROWSER_ON_BLOCK``, a GET page that came back as the verification page (身份核实) is fetched
  once more through the browser (:class:`BrowserFallbackMiddleware`); the browser context's cookies are then
  copied into Scrapy's cookie jar so the plain requests that follow carry them.

Everything else (lists, posts, the replies API) keeps Scrapy's own HTTP client: the handler installed here
hands every request without ``meta["playwright"]`` to Scrapy's HTTP/1.1 handler unchanged.

Pieces:

* :class:`BrowserAddon` (in ``ADDONS``) resolves ``GUBA_BROWSER_ENABLED`` (``auto``: on when a chromium
  binary exists) and only then installs :class:`GubaPlaywrightHandler` for http/https and points
  ``PLAYWRIGHT_LAUNCH_OPTIONS["executable_path"]`` at that binary. ``playwright install`` is never needed.
* :class:`GubaPlaywrightHandler` starts Playwright and chromium lazily, at the first browser request (a crawl
  that never needs the browser never starts one), and spreads pages over browser contexts of
  ``GUBA_BROWSER_PAGES_PER_CONTEXT`` pages each, closing each used-up context once its pages are closed.
  Chromium's memory grows with every page a context has shown (its caches, its history, its renderer
  processes); recycling the context keeps a long run's memory flat, while cookies survive the restart
  because they live in Scrapy's jar and go back with every request. Scrapy closes the handler, and with it
  the browser, when the crawl ends.
* :class:`BrowserFallbackMiddleware` (downloader middleware, priority 585) does the block route, copies
  cookies after browser responses and always closes the pages it asked to keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Iterable, Mapping
from http.cookiejar import Cookie
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from playwright.async_api import Request as PlaywrightRequest
from scrapy.downloadermiddlewares.cookies import CookiesMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.http.cookies import CookieJar
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from crawler.pages import decode_body, is_verification_page

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

HANDLER_PATH = "crawler.browser.GubaPlaywrightHandler"
# Debian's real binary first: its /usr/bin/chromium wrapper prints a harmless "unexpected operator" line.
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "chromium", "chromium-browser")
CONTEXT_PREFIX = "guba-"
# Resource types the browser never downloads: no page we read needs pixels or fonts to build its text.
ABORTED_RESOURCE_TYPES = frozenset({"image", "media", "font"})
_HEAD_BYTES = 16384  # the verification shell's markers sit in <head> (same slice as GubaBlockMiddleware)


# --- settings ---------------------------------------------------------------------------------------
def find_chromium(candidates: Iterable[str] | None = None) -> str | None:
    """The first candidate (default :data:`CHROMIUM_CANDIDATES`) that is an executable file (absolute
    paths) or found on PATH (bare names); None when there is none."""
    for cand in CHROMIUM_CANDIDATES if candidates is None else candidates:
        if os.path.isabs(cand):
            if os.path.isfile(cand) and os.access(cand, os.X_OK):
                return cand
        else:
            found = shutil.which(cand)
            if found:
                return found
    return None


def _tri_state(value: Any) -> bool | None:
    """``auto``/empty -> None; true-ish -> True; false-ish -> False. Raises ValueError otherwise."""
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in ("", "auto"):
        return None
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def browser_enabled(settings: BaseSettings) -> bool:
    """Whether browser requests are possible in this crawl: ``GUBA_BROWSER_ENABLED`` after
    :class:`BrowserAddon` resolved it (``auto`` counts as on only when a chromium binary exists)."""
    try:
        state = _tri_state(settings.get("GUBA_BROWSER_ENABLED", "auto"))
    except ValueError:
        return False
    if state is None:
        return bool(settings.get("GUBA_BROWSER_EXECUTABLE") or find_chromium())
    return state


class BrowserAddon:
    """Installs the browser download handler when ``GUBA_BROWSER_ENABLED`` says so.

    ``auto`` (the default) turns the browser on when chromium is installed and off (with one log line)
    otherwise; ``true`` without chromium stops the crawl at start-up with a message naming the setting;
    ``false`` leaves Scrapy's handlers alone. ``GUBA_BROWSER_EXECUTABLE`` overrides the binary. After this
    runs, ``GUBA_BROWSER_ENABLED`` holds a plain bool.
    """

    def update_settings(self, settings: BaseSettings) -> None:
        raw = settings.get("GUBA_BROWSER_ENABLED", "auto")
        priority = settings.getpriority("GUBA_BROWSER_ENABLED") or "addon"
        try:
            state = _tri_state(raw)
        except ValueError:
            raise NotConfigured(f"GUBA_BROWSER_ENABLED must be auto, true or false, got {raw!r}") from None
        if state is False:
            settings.set("GUBA_BROWSER_ENABLED", False, priority=priority)
            return
        wanted = str(settings.get("GUBA_BROWSER_EXECUTABLE") or "")
        executable = find_chromium([wanted]) if wanted else find_chromium()
        if executable is None:
            if state is True or wanted:
                raise RuntimeError(
                    f"GUBA_BROWSER_ENABLED is on but no chromium binary was found "
                    f"({wanted or ', '.join(CHROMIUM_CANDIDATES)}): install Debian's chromium "
                    "(apt-get install -y chromium), set GUBA_BROWSER_EXECUTABLE, or set GUBA_BROWSER_ENABLED=false."
                )
            logger.info("No chromium found: browser fallback off (pages that need JavaScript are skipped)")
            settings.set("GUBA_BROWSER_ENABLED", False, priority=priority)
            return
        settings.set("GUBA_BROWSER_ENABLED", True, priority=priority)
        settings.set("GUBA_BROWSER_EXECUTABLE", executable, priority="addon")
        handlers = settings["DOWNLOAD_HANDLERS"]
        for scheme in ("http", "https"):
            # A handler the project set explicitly (higher priority) wins over ours.
            handlers.set(scheme, HANDLER_PATH, priority="addon")
        launch = dict(settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS"))
        launch.setdefault("executable_path", executable)
        launch.setdefault("headless", True)
        settings.set("PLAYWRIGHT_LAUNCH_OPTIONS", launch, priority=settings.getpriority("PLAYWRIGHT_LAUNCH_OPTIONS") or "addon")


def abort_heavy_request(request: PlaywrightRequest) -> bool:
    """``PLAYWRIGHT_ABORT_REQUEST``: True (abort) for images, media and fonts, whatever the page."""
    return request.resource_type in ABORTED_RESOURCE_TYPES


# --- the download handler ---------------------------------------------------------------------------
class GubaPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    """scrapy-playwright's handler, started lazily and with recycled browser contexts.

    Requests without ``meta["playwright"]`` go to Scrapy's HTTP/1.1 handler exactly as without this class.
    A browser request without ``meta["playwright_context"]`` lands in context ``guba-<n>``; after
    ``GUBA_BROWSER_PAGES_PER_CONTEXT`` pages the next request opens ``guba-<n+1>`` and ``guba-<n>`` is
    closed as soon as it has no open page. Stats: ``guba/browser/launches``, ``guba/browser/pages``,
    ``guba/browser/context_restarts`` (besides scrapy-playwright's ``playwright/*``).
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.pages_per_context = max(1, crawler.settings.getint("GUBA_BROWSER_PAGES_PER_CONTEXT", 50))
        self._generation = 0
        self._served = 0
        self._started = False
        self._start_lock = asyncio.Lock()
        # Browser requests assigned to each context and not finished yet: such a context may have no page
        # open at this instant (its request waits for the page semaphore) and must not be closed under it.
        self._inflight: dict[str, int] = {}

    async def _maybe_launch_in_thread(self) -> None:
        # engine_started: scrapy-playwright would start the Playwright driver here for every crawl;
        # ours starts with the first request that needs it.
        return None

    def _engine_started(self) -> Any:  # Scrapy < 2.14 signal path; same reason as above
        return None

    async def _ensure_started(self) -> None:
        async with self._start_lock:
            if not self._started:
                await self._launch()
                self._started = True
                self.stats.inc_value("guba/browser/launches")

    def _context_for_next_page(self) -> str:
        if self._served >= self.pages_per_context:
            self._generation += 1
            self._served = 0
        self._served += 1
        return f"{CONTEXT_PREFIX}{self._generation}"

    async def _retire_idle_contexts(self) -> None:
        current = f"{CONTEXT_PREFIX}{self._generation}"
        for name, wrapper in list(self.context_wrappers.items()):
            if (
                name.startswith(CONTEXT_PREFIX)
                and name != current
                and not self._inflight.get(name)
                and not wrapper.context.pages
            ):
                self.context_wrappers.pop(name, None)
                self.stats.inc_value("guba/browser/context_restarts")
                with contextlib.suppress(PlaywrightError):
                    await wrapper.context.close()

    async def _create_page(self, request: Request, spider: Spider) -> Page:
        page = await super()._create_page(request, spider)
        page.once("close", self._retire_idle_contexts)
        return page

    async def _download_request(self, request: Request, spider: Spider | None = None) -> Response:
        await self._ensure_started()
        if not request.meta.get("playwright_context"):
            request.meta["playwright_context"] = self._context_for_next_page()
        name = request.meta["playwright_context"]
        self._inflight[name] = self._inflight.get(name, 0) + 1
        self.stats.inc_value("guba/browser/pages")
        try:
            await self._retire_idle_contexts()
            return await super()._download_request(request, spider)
        finally:
            self._inflight[name] -= 1
            if not self._inflight[name]:
                del self._inflight[name]
            # Pages closed inside the download (the usual case) fire no sweep once the count is back to 0.
            await self._retire_idle_contexts()


# --- cookies ----------------------------------------------------------------------------------------
def browser_cookie(c: Mapping[str, Any]) -> Cookie:
    """A :class:`http.cookiejar.Cookie` from one Playwright cookie (``name``, ``value``, ``domain``,
    ``path``, ``expires`` (-1 = session), ``secure``, ``httpOnly``). A domain with a leading dot applies to
    subdomains; without one the cookie is host-only, as in the browser. Missing keys take browser defaults
    (path ``/``, session cookie, not secure)."""
    domain = str(c.get("domain") or "")
    expires_raw = c.get("expires")
    expires = int(expires_raw) if isinstance(expires_raw, (int, float)) and expires_raw >= 0 else None
    rest: dict[str, str] = {"HttpOnly": ""} if c.get("httpOnly") else {}
    if c.get("sameSite"):
        rest["SameSite"] = str(c["sameSite"])
    return Cookie(
        version=0,
        name=str(c.get("name") or ""),
        value=str(c.get("value") or ""),
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=domain.startswith("."),
        domain_initial_dot=domain.startswith("."),
        path=str(c.get("path") or "/"),
        path_specified=True,
        secure=bool(c.get("secure")),
        expires=expires,
        discard=expires is None,
        comment=None,
        comment_url=None,
        rest=rest,
    )


def copy_browser_cookies(cookies: Iterable[Mapping[str, Any]], jar: CookieJar) -> int:
    """Put Playwright cookies (``await context.cookies()``) into a Scrapy cookie jar, replacing cookies of
    the same domain, path and name. Cookies without a name or domain are skipped. Returns how many were
    stored."""
    n = 0
    for c in cookies:
        if not c.get("name") or not c.get("domain"):
            continue
        jar.set_cookie(browser_cookie(c))
        n += 1
    return n


# --- the middleware ---------------------------------------------------------------------------------
class BrowserFallbackMiddleware:
    """Blocked GET pages -> one more try through the browser; browser cookies -> Scrapy's jar.

    Priority 585: its ``process_response`` runs before GubaBlockMiddleware's (560), so it sees a
    verification page first, and after CookiesMiddleware's (700), so its cookies are not overwritten by
    stale ones. When it does not take the page (``GUBA_BROWSER_ON_BLOCK`` off, a POST, or the browser was
    already tried for this request), GubaBlockMiddleware's backoff applies as without it. Disabled
    (NotConfigured) when the browser is off. Stats: ``guba/browser/fallback``,
    ``guba/browser/fallback/still_blocked``, ``guba/browser/cookies``.
    """

    def __init__(self, crawler: Crawler) -> None:
        if not browser_enabled(crawler.settings):
            raise NotConfigured("GUBA_BROWSER_ENABLED is off")
        self.crawler = crawler
        self.stats = crawler.stats
        self.on_block = crawler.settings.getbool("GUBA_BROWSER_ON_BLOCK")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BrowserFallbackMiddleware:
        return cls(crawler)

    def _jar(self, request: Request) -> CookieJar | None:
        mw = self.crawler.get_downloader_middleware(CookiesMiddleware)
        return None if mw is None else mw.jars[request.meta.get("cookiejar")]

    async def _take_cookies_and_close(self, page: Page, request: Request) -> None:
        try:
            jar = self._jar(request)
            if jar is not None and not page.is_closed():
                n = copy_browser_cookies(await page.context.cookies(), jar)
                self.stats.inc_value("guba/browser/cookies", n)
        except PlaywrightError as exc:
            logger.warning("Could not read browser cookies after %s: %s", request.url, exc)
        finally:
            with contextlib.suppress(PlaywrightError):
                await page.close()

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        page = request.meta.pop("playwright_page", None)
        if isinstance(page, Page):
            await self._take_cookies_and_close(page, request)
        if request.meta.pop("guba_browser_fallback", False):
            # Our browser try is done: later block retries of this request go the plain way.
            request.meta.pop("playwright", None)
            request.meta.pop("playwright_include_page", None)
            request.meta.pop("playwright_context", None)
            if self._is_verification(response):
                self.stats.inc_value("guba/browser/fallback/still_blocked")
            return response
        if (
            not self.on_block
            or request.method != "GET"  # API answers are JSON; a browser would hand back an HTML wrapper
            or request.meta.get("playwright")
            or request.meta.get("guba_browser_tried")
            or not self._is_verification(response)
        ):
            return response
        self.stats.inc_value("guba/browser/fallback")
        logger.info("Verification page for %s: trying once through the browser", request.url)
        meta = {**request.meta, "playwright": True, "playwright_include_page": True,
                "guba_browser_fallback": True, "guba_browser_tried": True}
        return request.replace(meta=meta, dont_filter=True)

    async def process_exception(self, request: Request, exception: BaseException) -> None:
        # A failed browser download keeps its page open when the request asked to keep it: close it here.
        page = request.meta.pop("playwright_page", None)
        if isinstance(page, Page):
            with contextlib.suppress(PlaywrightError):
                await page.close()
        return None

    @staticmethod
    def _is_verification(response: Response) -> bool:
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        return is_verification_page(decode_body(response.body[:_HEAD_BYTES], content_type))
