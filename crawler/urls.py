"""The one place Guba URL shapes live.

Every function takes the site base (the ``GUBA_BASE_URL`` setting, ``https://guba.eastmoney.com`` on the
real site, ``http://127.0.0.1:PORT`` for the replay site) so spiders never format URLs themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

DEFAULT_BASE_URL = "https://guba.eastmoney.com"
REPLY_API_PATH = "reply/api/Reply/ArticleNewReplyList"
REPLY_PAGE_SIZE = 30

_POST_RE = re.compile(r"/news,([A-Za-z0-9_]+),(\d+)(?:_\d+)?\.html$")
_LIST_RE = re.compile(r"/list,([A-Za-z0-9_]+)(?:,[0-9]+)?(?:,f)?(?:_\d+)?\.html$")
_BOARD_CODE_RE = re.compile(r"^(?:\d{6}|zs[a-z]{2}\d{6}|hk\d{5}|us[A-Za-z.]{1,10}|bk\d{4}|[a-z]{2,12})$")
GUBA_HOSTS = ("guba.eastmoney.com", "mguba.eastmoney.com")
_CAIFUHAO_ID_RE = re.compile(r"/news/(\d{14,32})(?=$|[/?#.])")


class NotAGubaUrl(ValueError):
    """The string is not a URL of the kind asked for; ``str(exc)`` is a one-line reason."""


def _base(base: str) -> str:
    return base.rstrip("/")


def board_list_url(base: str, code: str, page: int = 1, sort: str = "publish") -> str:
    """List page ``page`` of board ``code``.

    sort ``publish`` (newest posts first, ``list,{code},f_{n}.html``) or ``reply`` (last activity first,
    ``list,{code}_{n}.html``).
    """
    if page < 1:
        raise ValueError(f"page must be >= 1, got {page}")
    if sort == "publish":
        tail = ",f.html" if page == 1 else f",f_{page}.html"
    elif sort == "reply":
        tail = ".html" if page == 1 else f"_{page}.html"
    else:
        raise ValueError(f"sort must be 'publish' or 'reply', got {sort!r}")
    return f"{_base(base)}/list,{code}{tail}"


def post_url(base: str, bar_code: str, post_id: str | int) -> str:
    """The post page of ``post_id`` in its own bar ``bar_code``."""
    return f"{_base(base)}/news,{bar_code},{post_id}.html"


def replies_api_url(base: str, bar_code: str) -> str:
    """The replies API endpoint (POST, form body from :func:`replies_form`)."""
    return f"{_base(base)}/api/getData?" + urlencode({"code": bar_code, "path": REPLY_API_PATH})


def replies_legacy_api_url(base: str) -> str:
    """The older replies endpoint, same form body."""
    return f"{_base(base)}/interface/GetData.aspx"


def replies_form(post_id: str | int, page: int, page_size: int = REPLY_PAGE_SIZE) -> dict[str, str]:
    """Form fields for a replies API POST (page numbers start at 1)."""
    return {
        "param": f"postid={post_id}&sort=1&sorttype=1&p={page}&ps={page_size}",
        "plat": "Web",
        "path": REPLY_API_PATH,
        "env": "2",
        "origin": "",
        "version": "2022",
        "product": "Guba",
    }


@dataclass(frozen=True)
class PostRef:
    bar_code: str
    post_id: str


def parse_post_url(url: str) -> PostRef:
    """``.../news,{bar},{post_id}.html`` -> PostRef. Raises :class:`NotAGubaUrl` with a reason."""
    url = url.strip()
    parts = urlsplit(url if "://" in url else "https://" + url.lstrip("/"))
    if parts.scheme not in ("http", "https"):
        raise NotAGubaUrl(f"not an http(s) URL: {url!r}")
    m = _POST_RE.search(parts.path)
    if not m:
        raise NotAGubaUrl(f"not a Guba post URL (expected .../news,{{bar}},{{post_id}}.html): {url!r}")
    return PostRef(bar_code=m.group(1), post_id=m.group(2))


def rebase(url: str, base: str) -> str:
    """Point a full Guba URL (any host) at ``base``, keeping path and query."""
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    return _base(base) + tail


def parse_board_arg(value: str) -> str:
    """A board code or a board list URL -> the board code. Raises :class:`NotAGubaUrl`."""
    value = value.strip()
    if "/" in value or value.endswith(".html"):
        m = _LIST_RE.search(urlsplit(value if "://" in value else "https://" + value).path)
        if not m:
            raise NotAGubaUrl(f"not a Guba board list URL: {value!r}")
        return m.group(1)
    if not _BOARD_CODE_RE.match(value):
        raise NotAGubaUrl(f"not a Guba board code: {value!r}")
    return value


def is_error_url(url: str) -> bool:
    """The site's deleted/missing-post landing page (``/error?type=2``)."""
    return urlsplit(url).path.rstrip("/").endswith("/error")


def is_login_url(url: str) -> bool:
    p = urlsplit(url)
    return "passport" in p.netloc or "/login" in p.path.lower()


def caifuhao_id(url: str) -> str | None:
    """The article id of a 财富号 URL (``…/news/{digits}``, the replay site's ``/caifuhao/news/{digits}``
    included); None for any other URL."""
    m = _CAIFUHAO_ID_RE.search(url.split("?", 1)[0].split("#", 1)[0])
    return m.group(1) if m else None


def caifuhao_url(base: str, source_id: str) -> str:
    """Where a 财富号 article is fetched from: the real host when ``base`` is Guba's own site, else
    ``{base}/caifuhao/news/{id}`` (the replay site mirrors the host under that path)."""
    root = base.rstrip("/")
    if root.endswith(".eastmoney.com"):
        return f"https://caifuhao.eastmoney.com/news/{source_id}"
    return f"{root}/caifuhao/news/{source_id}"


def finance_article_url(source_id: str) -> str:
    """The finance.eastmoney.com article a 资讯 repost points to (its 18-digit ``post_source_id``)."""
    return f"http://finance.eastmoney.com/a/{source_id}.html"
