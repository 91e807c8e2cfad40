"""``scrapy crawl guba_post -a url=URL`` (or ``-a urls=U1,U2``, or ``-a urls_file=F``): posts with their replies.

URLs are Guba post URLs (``https://guba.eastmoney.com/news,600519,1743987733.html``), fetched from
``GUBA_BASE_URL`` whatever host they name, or 财富号 article URLs (``https://caifuhao.eastmoney.com/news/{id}``),
fetched through the browser and stored as posts of their own (bar ``cfhpl``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from scrapy.http import Request

from crawler.spiders.base import GubaBaseSpider
from crawler.spiders.caifuhao import CaifuhaoMixin
from crawler.urls import caifuhao_id, parse_post_url

_URL_SEP = re.compile(r"\s+|,(?=\s*https?://)")


def read_urls(url: str | None = None, urls: str | None = None, urls_file: str | None = None) -> list[str]:
    """All URLs named by the three arguments, in order; blank lines and ``#`` comments in the file skipped."""
    found: list[str] = []
    if url:
        found.append(url.strip())
    if urls:
        # Guba URLs contain commas (news,600519,1.html): split only where a new URL starts.
        found.extend(u.strip() for u in _URL_SEP.split(urls) if u.strip())
    if urls_file:
        for line in Path(urls_file).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


class GubaPostSpider(CaifuhaoMixin, GubaBaseSpider):
    name = "guba_post"

    def __init__(
        self,
        url: str | None = None,
        urls: str | None = None,
        urls_file: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.urls = list(dict.fromkeys(read_urls(url, urls, urls_file)))
        if not self.urls:
            raise ValueError("no URL: use -a url=URL, -a urls=U1,U2 or -a urls_file=FILE")
        for u in self.urls:
            if caifuhao_id(u) is None:
                parse_post_url(u)  # raises NotAGubaUrl naming a URL that is neither kind

    async def start(self) -> AsyncIterator[Request]:
        seen: set[str] = set()
        for u in self.urls:
            if caifuhao_id(u) is not None:
                yield self.caifuhao_request(u)
                continue
            ref = parse_post_url(u)
            if ref.post_id not in seen:
                seen.add(ref.post_id)
                yield self.post_request(ref.bar_code, ref.post_id)
