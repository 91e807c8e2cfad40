"""财富号 article pages (``caifuhao.eastmoney.com/news/{23-digit id}``) as a browser renders them.

The article body sits in ``div.article.page-article`` (guba-site.md §3.1, ``#main > div.grid_wrapper >
div.grid > div.g_content > div.article.page-article``). No embedded JSON is known for these pages (§8), and
the container is empty in the HTML the server sends: a script fills it. So the input here is the DOM a
browser serialised after the page ran (``page.content()``), never the raw HTTP body; the raw body parses to
:class:`LayoutChanged` ("article container is empty").

Only the container is known from the real site. Title, author and time are read where a rendered page
usually shows them (``h1``, a few ``author``/``time`` class names, ``<meta>`` tags) and are optional: a
page without them still parses. The publish time falls back to the one the article id carries (its first
14 digits are ``YYYYMMDDHHMMSS`` Beijing time, §2.4).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import lxml.etree
import lxml.html

from crawler.items import PostItem, StockMention
from crawler.pages.classify import classify_page, raise_for_kind
from crawler.pages.errors import LayoutChanged
from crawler.pages.post import find_attribution, find_stock_mentions
from crawler.urls import caifuhao_id

# The ids are 23 digits on every page seen (§2.4); accept a little slack, never a Guba post id (≤ 12).
_TITLE_SUFFIX_RE = re.compile(r"\s*[_|-]\s*(?:[^_|-]*财富号[^_|-]*|东方财富网)(?:\s*[_|-].*)?$")
_TIME_RE = re.compile(r"(20\d\d)[-/年.](\d{1,2})[-/月.](\d{1,2})日?\s*(\d{1,2}):(\d{2})(?::(\d{2}))?")
_CONTAINER = "//div[contains(concat(' ', normalize-space(@class), ' '), ' article ') and " \
             "contains(concat(' ', normalize-space(@class), ' '), ' page-article ')]"
# Class names a rendered article header uses for its author and time (the real ones are not captured yet;
# these are the common Eastmoney names). First non-empty match wins.
_AUTHOR_XPATHS = (
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' article-author ')]",
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' author-name ')]",
    "//div[contains(@class, 'article-meta')]//*[contains(@class, 'author')]",
    "//meta[@name='author']/@content",
)
_TIME_XPATHS = (
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' article-time ')]",
    "//div[contains(@class, 'article-meta')]//*[contains(@class, 'time')]",
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' time ')]",
    "//meta[@property='article:published_time']/@content",
)


@dataclass
class CaifuhaoArticle:
    """A parsed 财富号 article (raw values as the page shows them).

    source_id: the article id from the URL (23 digits on the real site). body_html: the inner HTML of
    ``div.article.page-article``, never empty. published_raw: ``YYYY-MM-DD HH:MM[:SS]`` (Beijing) from the
    page, else from the id, else None. title/author_name: None when the page shows none. The source lines
    and stock mentions are read from ``body_html`` exactly as for a Guba post body.
    """

    source_id: str
    url: str
    title: str | None
    body_html: str
    author_name: str | None
    published_raw: str | None
    header_source_raw: str | None = None
    footer_source_raw: str | None = None
    footer_url: str | None = None
    stock_mentions: list[StockMention] = field(default_factory=list)


def time_from_id(source_id: str) -> str | None:
    """``YYYY-MM-DD HH:MM:SS`` from the first 14 digits of an article id; None when they are not a valid
    date and time."""
    d = source_id[:14]
    if len(d) < 14 or not d.isdigit():
        return None
    y, mo, day, h, mi, s = int(d[:4]), int(d[4:6]), int(d[6:8]), int(d[8:10]), int(d[10:12]), int(d[12:14])
    if not (2000 <= y <= 2100 and 1 <= mo <= 12 and 1 <= day <= 31 and h < 24 and mi < 60 and s < 60):
        return None
    return f"{d[:4]}-{d[4:6]}-{d[6:8]} {d[8:10]}:{d[10:12]}:{d[12:14]}"


def _text(value: object) -> str:
    if isinstance(value, lxml.html.HtmlElement):
        value = value.text_content()
    return re.sub(r"\s+", " ", str(value)).strip()


def _texts(root: lxml.html.HtmlElement, xpaths: tuple[str, ...]) -> Iterator[str]:
    for xp in xpaths:
        for hit in root.xpath(xp):
            text = _text(hit)
            if text:
                yield text


def _first(root: lxml.html.HtmlElement, xpaths: tuple[str, ...]) -> str | None:
    return next(_texts(root, xpaths), None)


def _inner_html(el: lxml.html.HtmlElement) -> str:
    parts = [el.text or ""]
    parts += [lxml.html.tostring(child, encoding="unicode") for child in el]  # tostring keeps each tail
    return "".join(parts).strip()


def _title(root: lxml.html.HtmlElement) -> str | None:
    h1 = _first(root, ("//h1[contains(@class, 'article-title')]", "//div[contains(@class, 'article-head')]//h1",
                       "//h1"))
    if h1:
        return h1
    titles = root.xpath("//title")
    if titles:
        text = _TITLE_SUFFIX_RE.sub("", _text(titles[0]))
        return text or None
    return None


def _published(root: lxml.html.HtmlElement, source_id: str) -> str | None:
    for shown in _texts(root, _TIME_XPATHS):
        m = _TIME_RE.search(shown)
        if m:
            y, mo, d, h, mi, s = m.groups()
            return f"{y}-{int(mo):02d}-{int(d):02d} {int(h):02d}:{mi}" + (f":{s}" if s else "")
    return time_from_id(source_id)


def parse_caifuhao_page(text: str, *, url: str) -> CaifuhaoArticle:
    """Parse a rendered 财富号 article page.

    ``text`` is the browser's serialised DOM, ``url`` the page URL (its id becomes ``source_id``).
    Raises Blocked/PostGone for the verification, login and error pages (as every parser does), and
    LayoutChanged when the URL has no article id, the page has no ``div.article.page-article``, or that
    container is still empty (the page was not rendered, or its script failed). Never returns an empty
    body.
    """
    raise_for_kind(classify_page(status=200, url=url, text=text), url=url)
    source_id = caifuhao_id(url)
    if source_id is None:
        raise LayoutChanged("not a caifuhao article URL (no /news/{id})", url=url)
    try:
        root = lxml.html.document_fromstring(text) if text.strip() else None
    except (lxml.etree.LxmlError, ValueError):
        root = None
    if root is None:
        raise LayoutChanged("empty or unparsable caifuhao page", url=url)
    containers = root.xpath(_CONTAINER)
    if not containers:
        raise LayoutChanged("no div.article.page-article", url=url)
    container = containers[0]
    body_html = _inner_html(container)
    if not _text(container) and not container.xpath(".//img"):
        raise LayoutChanged("article container is empty (page not rendered by a browser?)", url=url)
    title = _title(root)
    header, footer, footer_url = find_attribution(body_html)
    return CaifuhaoArticle(
        source_id=source_id,
        url=url,
        title=title,
        body_html=body_html,
        author_name=_first(root, _AUTHOR_XPATHS),
        published_raw=_published(root, source_id),
        header_source_raw=header,
        footer_source_raw=footer,
        footer_url=footer_url,
        stock_mentions=find_stock_mentions(title or "") + find_stock_mentions(body_html),
    )


# The bar Guba files 财富号 articles under, and their post type.
CAIFUHAO_BAR = "cfhpl"
CAIFUHAO_POST_TYPE = 20


def article_post(article: CaifuhaoArticle, *, post: PostItem | None = None, bar_name: str | None = None) -> PostItem:
    """The :class:`PostItem` for a parsed article.

    With ``post`` (the Guba post that mirrors the article, parsed from its own page), that post is returned
    with its empty title/body filled from the article and ``source_id`` set; its other fields stay. Without
    it, the article becomes a post of its own: ``post_id`` = the article id, bar ``cfhpl``, ``post_type`` 20,
    author name and publish time as the article shows them; counters unknown (None).
    """
    if post is not None:
        return replace(
            post,
            title=post.title or article.title or "",
            body_html=post.body_html if post.body_html.strip() else article.body_html,
            source_id=post.source_id or article.source_id,
            published_raw=post.published_raw or article.published_raw,
            footer_source_raw=post.footer_source_raw or article.footer_source_raw,
            footer_url=post.footer_url or article.footer_url,
            stock_mentions=post.stock_mentions or list(article.stock_mentions),
        )
    return PostItem(
        post_id=article.source_id,
        url=article.url,
        bar_code=CAIFUHAO_BAR,
        bar_name=bar_name,
        title=article.title or "",
        body_html=article.body_html,
        abstract="",
        author_id=None,
        author_name_raw=article.author_name,
        author_is_majia=False,
        author_deactivated=False,
        author_user_type=None,
        published_raw=article.published_raw,
        last_activity_raw=None,
        modified_raw=None,
        display_raw=None,
        reads=None,
        comments=None,
        forwards=None,
        likes=None,
        post_type=CAIFUHAO_POST_TYPE,
        client=None,
        source_id=article.source_id,
        media_name=None,
        header_source_raw=article.header_source_raw,
        footer_source_raw=article.footer_source_raw,
        footer_url=article.footer_url,
        forward_of=None,
        forward_title=None,
        forward_content_html=None,
        forward_author_name=None,
        ip_region=None,
        stock_mentions=list(article.stock_mentions),
        raw={"caifuhao": {"title": article.title, "author": article.author_name,
                          "published": article.published_raw}},
    )
