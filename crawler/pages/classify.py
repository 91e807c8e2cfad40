"""What kind of page did Guba send: the content we asked for, its verification shell, a login
redirect, or the deleted-post page (guba-site.md §3.1, §5.1)."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

from crawler.pages.embedded import has_js_var
from crawler.pages.errors import Blocked, PostGone
from crawler.urls import is_error_url, is_login_url

VERIFICATION_TITLES = frozenset({"身份核实", "访问验证", "安全验证", "人机验证"})
# Assets only the verification shell loads. em_capt.js is deliberately absent: every normal page
# carries it too (117/117 real pages, §3.6), so it would flag everything.
VERIFICATION_MARKERS = ("fd_guba_validate", "validate.js", "emcaptcha")
DELETED_MARKERS = ("error404_page", "fd_guba_web2022/work/error404", "很抱歉，您访问的帖子不存在")

_TITLE_RE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_DATA_VARS = ("article_list", "post_article")


class PageKind(enum.Enum):
    CONTENT = "content"
    VERIFICATION = "verification"
    LOGIN = "login"
    DELETED = "deleted"


def _has_embedded_data(text: str) -> bool:
    # A page carrying the data we asked for is content, whatever words a post body contains: a user can
    # write "error404_page" or "validate.js" into a post, and a browser can draw the slider over a
    # parsable page (§5.1), but neither shell ever embeds article_list/post_article.
    return any(has_js_var(text, name) for name in _DATA_VARS)


def page_title(text: str) -> str | None:
    """Text of the first ``<title>`` element, whitespace-stripped; None when there is none."""
    m = _TITLE_RE.search(text)
    return m.group(1).strip() if m else None


def is_verification_page(text: str) -> bool:
    """True only for the 身份核实-style shell: ``<title>`` exactly one of :data:`VERIFICATION_TITLES`
    AND one of :data:`VERIFICATION_MARKERS` present AND no embedded list/post data. The words 验证/拼图
    in a body, or em_capt.js, never count on their own."""
    if page_title(text) not in VERIFICATION_TITLES:
        return False
    if not any(marker in text for marker in VERIFICATION_MARKERS):
        return False
    return not _has_embedded_data(text)


def is_deleted_shell(text: str) -> bool:
    """True for the error404 shell (``error404_page``, the ``fd_guba_web2022/work/error404`` assets, or
    "很抱歉，您访问的帖子不存在") when the page embeds no list/post data."""
    return any(marker in text for marker in DELETED_MARKERS) and not _has_embedded_data(text)


def _url_is(check: Callable[[str], bool], url: str) -> bool:
    # urlsplit raises ValueError on malformed hosts ("http://[::1"); such a URL is neither kind.
    try:
        return bool(url) and check(url)
    except ValueError:
        return False


def classify_page(*, status: int, url: str, text: str) -> PageKind:
    """Classify a fetched page from its final URL, status and text.

    LOGIN: the final URL is a passport/login URL. VERIFICATION: :func:`is_verification_page`.
    DELETED: the final URL is ``/error`` (the 302 target for gone posts), the body is the error404 shell,
    or the status is 404/410. Everything else is CONTENT, including pages whose embedded JSON is missing
    (the parser reports those as LayoutChanged). Never raises.
    """
    if _url_is(is_login_url, url):
        return PageKind.LOGIN
    if is_verification_page(text):
        return PageKind.VERIFICATION
    if _url_is(is_error_url, url) or status in (404, 410) or is_deleted_shell(text):
        return PageKind.DELETED
    return PageKind.CONTENT


def raise_for_kind(kind: PageKind, *, url: str) -> None:
    """Raise what a non-content page means for a parser: Blocked(kind="verification"|"login") or
    PostGone. CONTENT returns None."""
    if kind is PageKind.VERIFICATION:
        raise Blocked("verification page (身份核实)", url=url, kind="verification")
    if kind is PageKind.LOGIN:
        raise Blocked("redirected to login", url=url, kind="login")
    if kind is PageKind.DELETED:
        raise PostGone("post deleted or missing (error page)", url=url)
