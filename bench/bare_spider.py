"""The baseline for the throughput figure: a bare Scrapy spider that fetches a given list of requests and does
nothing with the bodies (no parsing, no items, no project middlewares or pipelines).

``python -m bench.bare_spider REQUESTS_JSON STATS_JSON CONCURRENCY``: REQUESTS_JSON is a list of
``{"method": "GET"|"POST", "url": ..., "body": str}``; the run's stats are written to STATS_JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Request, Response


class BareSpider(scrapy.Spider):
    """Requests every entry of ``requests`` once; callbacks only count."""

    name = "bare"

    def __init__(self, requests: list[dict[str, str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.to_fetch = requests

    async def start(self) -> AsyncIterator[Request]:
        for r in self.to_fetch:
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if r["method"] == "POST" else None
            yield Request(r["url"], method=r["method"], body=r.get("body") or None, headers=headers,
                          callback=self.parse, dont_filter=True)

    def parse(self, response: Response) -> None:
        return None


def bare_settings(concurrency: int) -> dict[str, Any]:
    """Scrapy's defaults plus what the full crawl shares with it: no delay, the same concurrency, reactor and
    User-Agent. Everything the project adds (middlewares, pipelines, extensions) is left out on purpose."""
    from crawler import settings as project

    return {
        "DOWNLOAD_DELAY": 0,
        "CONCURRENT_REQUESTS": max(16, concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "TWISTED_REACTOR": project.TWISTED_REACTOR,
        "USER_AGENT": project.USER_AGENT,
        "DEFAULT_REQUEST_HEADERS": project.DEFAULT_REQUEST_HEADERS,
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "WARNING",
    }


def main(argv: list[str]) -> int:
    requests = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    process = CrawlerProcess(bare_settings(int(argv[2])), install_root_handler=True)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, requests=requests)
    process.start()
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    Path(argv[1]).write_text(json.dumps(stats, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
