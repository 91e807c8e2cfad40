"""财富号 article pages through the browser: :class:`CaifuhaoMixin` for :class:`GubaBaseSpider` subclasses.

A 财富号 article's text is written into the page by a script, so its request asks for the browser
(``meta["playwright"]``) and waits until the article container has text. Use it when a post page carries no
body of its own (pass that post along and its body is filled in), or for a 财富号 URL on its own (the post is
then the article itself, in the 财富号评论吧 bar ``cfhpl``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from scrapy.http import Request, Response
from scrapy_playwright.page import PageMethod

from crawler.browser import browser_enabled
from crawler.items import DeletedPostItem, PostItem
from crawler.pages import PageError, PostGone, decode_body
from crawler.pages.caifuhao import CAIFUHAO_BAR, article_post, parse_caifuhao_page
from crawler.spiders.base import PRIO_POST, GubaBaseSpider, _content_type
from crawler.urls import caifuhao_id, caifuhao_url

if TYPE_CHECKING:
    _Base = GubaBaseSpider
else:
    _Base = object

# The bar Guba mirrors 财富号 articles into (guba-site.md §2.2).
ARTICLE_SELECTOR = "div.article.page-article"
_FILLED_JS = (
    "(sel) => { const el = document.querySelector(sel);"
    " return !!el && (el.textContent.trim().length > 0 || !!el.querySelector('img')); }"
)


async def wait_for_article(page: Page, timeout_ms: float = 15000) -> bool:
    """Wait until the article container has text (or an image); True if it did within ``timeout_ms``.

    A timeout is not an error here: the page is then read as it is, and the parser reports the empty
    container as a layout change with the URL, instead of the request failing without a trace of why.
    """
    try:
        await page.wait_for_function(_FILLED_JS, arg=ARTICLE_SELECTOR, timeout=timeout_ms)
    except PlaywrightError:
        return False
    return True


class CaifuhaoMixin(_Base):
    """``caifuhao_request`` / ``parse_caifuhao`` for spiders built on :class:`GubaBaseSpider`.

    Settings: ``GUBA_BASE_URL`` (where the article is fetched: the real host for Guba, ``{base}/caifuhao/
    news/{id}`` otherwise), ``GUBA_BROWSER_WAIT_MS`` (how long to wait for the script to fill the article).
    Stats: ``guba/caifuhao`` (articles parsed), ``guba/browser/unavailable`` (a page came back unrendered
    because the browser is off), and the base spider's ``guba/layout_changed`` / ``guba/deleted``.
    """

    def complete_post_request(self, post: PostItem, referer: str) -> Request | None:
        """Guba post pages of 财富号 articles (post_type 20) normally embed the body; when one does not, the
        article page is fetched through the browser and fills it in."""
        source_id = post.source_id or ""
        if post.post_type == 20 and not (post.body_html or "").strip() and len(source_id) == 23:
            self.inc("guba/caifuhao/body_from_article")
            return self.caifuhao_request(caifuhao_url(self.base_url, source_id), post=post, referer=referer)
        return None

    def caifuhao_request(self, url: str, *, post: PostItem | None = None, referer: str | None = None) -> Request:
        """A browser request for the 财富号 article named by ``url`` (any host: only the id counts), fetched
        from ``GUBA_BASE_URL``'s 财富号 location. ``post``: the Guba post carrying it, whose missing body the
        article fills. Raises ValueError for a URL without an article id."""
        source_id = caifuhao_id(url)
        if source_id is None:
            raise ValueError(f"not a caifuhao article URL: {url!r}")
        wait_ms = self.settings.getfloat("GUBA_BROWSER_WAIT_MS", 15000)
        post_id = post.post_id if post is not None else source_id
        return Request(
            caifuhao_url(self.base_url, source_id),
            callback=self.parse_caifuhao,
            errback=self.on_error,
            priority=PRIO_POST,
            meta={
                "playwright": True,
                "playwright_page_methods": [PageMethod(wait_for_article, timeout_ms=wait_ms)],
                "guba_referer": referer,
                "guba_post_id": post_id,
            },
            cb_kwargs={"post": post},
        )

    def parse_caifuhao(
        self, response: Response, post: PostItem | None = None
    ) -> Iterator[PostItem | DeletedPostItem]:
        """The article as a :class:`PostItem` (see :func:`article_post`); nothing, with a stat and a log
        line, when the page is gone, blocked or was not rendered."""
        text = decode_body(response.body, _content_type(response))
        post_id = post.post_id if post is not None else (caifuhao_id(response.url) or "")
        try:
            article = parse_caifuhao_page(text, url=response.url)
        except PostGone as exc:
            if post is None:
                yield from self._gone(post_id, CAIFUHAO_BAR, response.url, exc.reason)
            else:
                # The Guba post exists; only its 财富号 original is gone. Keep what the post page had.
                self.inc("guba/caifuhao/gone")
                self.outcomes[post_id] = "ok"
                yield post
            return
        except PageError as exc:
            if "playwright" not in response.flags and not browser_enabled(self.settings):
                self.inc("guba/browser/unavailable")
                self.logger.error(
                    "%s needs a browser but GUBA_BROWSER_ENABLED is off (or chromium is missing); skipped",
                    response.url,
                )
            self.page_error(exc, response.url, post_id=post_id)
            return
        self.inc("guba/caifuhao")
        if post is None:
            self.inc("guba/posts")
        self.outcomes[post_id] = "ok"
        yield article_post(article, post=post)

