"""The only exceptions page parsers raise.

Every parser in :mod:`crawler.pages` raises a subclass of :class:`PageError` (never ``KeyError``,
``json.JSONDecodeError``, ...). Each carries the URL so a log line or stat can name the page.
"""

from __future__ import annotations


class PageError(Exception):
    """Base class: the page is not the content we asked for."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(f"{message} [{url}]" if url else message)
        self.url = url
        self.reason = message


class Blocked(PageError):
    """The site answered with its verification page (身份核实) or sent us to a login page.
    ``kind`` is ``verification`` or ``login``. Retry later; never store."""

    def __init__(self, message: str, *, url: str = "", kind: str = "verification") -> None:
        super().__init__(message, url=url)
        self.kind = kind


class PostGone(PageError):
    """The post is deleted or never existed (``/error?type=2``, the error404 shell). Do not retry."""


class LayoutChanged(PageError):
    """The expected embedded JSON is missing, truncated or of an unknown shape. Report with the URL."""


class ApiError(PageError):
    """The embedded JSON or API answered with ``rc != 1``; ``message`` holds the site's ``me`` text."""
