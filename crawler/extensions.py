"""Small Scrapy extensions of the project."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class StatsFile:
    """Writes the run's stats as one JSON object to ``GUBA_STATS_FILE`` when the spider closes (for scripts,
    tests and benchmarks that run ``scrapy crawl`` as a subprocess). Off when the setting is empty."""

    def __init__(self, crawler: Crawler, path: str) -> None:
        self.crawler = crawler
        self.path = Path(path)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsFile:
        path = crawler.settings.get("GUBA_STATS_FILE")
        if not path:
            raise NotConfigured("GUBA_STATS_FILE is empty")
        o = cls(crawler, path)
        # After the core stats extension has set finish_reason / finish_time.
        crawler.signals.connect(o.spider_closed, signal=signals.spider_closed, weak=False)
        return o

    def spider_closed(self, reason: str) -> None:
        assert self.crawler.stats is not None
        stats: dict[str, Any] = dict(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", reason)

        def default(value: Any) -> Any:
            if isinstance(value, datetime | date):
                return value.isoformat()
            return str(value)

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(stats, default=default, ensure_ascii=False, indent=1), encoding="utf-8")
