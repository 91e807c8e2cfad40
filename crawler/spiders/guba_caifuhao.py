"""``scrapy crawl guba_caifuhao -a url=URL`` (or ``-a urls=U1,U2``, ``-a urls_file=F``): 财富号 articles.

URLs are 财富号 article URLs (``https://caifuhao.eastmoney.com/news/{id}``); only the id counts, and the page
is fetched from ``GUBA_BASE_URL``'s 财富号 location through the browser. Each article is stored as a post of
its own (bar ``cfhpl``). Guba post URLs may be mixed in: they are fetched the plain way, with their replies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from scrapy.http import Request

from crawler.pages.caifuhao import caifuhao_id
from crawler.spiders.base import GubaBaseSpider
from crawler.spiders.caifuhao import CaifuhaoMixin
from crawler.spiders.guba_post import read_urls
from crawler.urls import parse_post_url


class GubaCaifuhaoSpider(CaifuhaoMixin, GubaBaseSpider):
    name = "guba_caifuhao"

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
                parse_post_url(u)  # raises ValueError naming a URL that is neither kind

    async def start(self) -> AsyncIterator[Request]:
        for u in self.urls:
            if caifuhao_id(u) is not None:
                yield self.caifuhao_request(u)
            else:
                ref = parse_post_url(u)
                yield self.post_request(ref.bar_code, ref.post_id)
