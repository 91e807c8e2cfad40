"""Small Scrapy extensions of the project."""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


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


class ResumeGuard:
    """Makes ``JOBDIR`` safe against SIGKILL.

    Scrapy keeps a job's queue and seen-request fingerprints in JOBDIR and saves them consistently only when the
    run stops gracefully. After a hard kill they are not to be trusted: a request marked seen may never have
    been stored, so a resumed run would skip it. This extension leaves a marker in JOBDIR while a run is live;
    if the next run finds it, it discards the old queue and fingerprints (logged) before Scrapy opens them, and
    the run walks the boards again, fetching whatever MongoDB does not have (incremental rules).
    """

    MARKER = "guba-running"

    def __init__(self, crawler: Crawler, jobdir: Path) -> None:
        self.jobdir = jobdir
        self.discarded = False
        marker = jobdir / self.MARKER
        if marker.exists():
            logger.warning(
                "JOBDIR %s: the previous run did not stop cleanly (killed?); discarding its request queue and "
                "seen-request list. This run walks the boards again and fetches what the store is missing.",
                jobdir,
            )
            (jobdir / "requests.seen").unlink(missing_ok=True)
            shutil.rmtree(jobdir / "requests.queue", ignore_errors=True)
            self.discarded = True
        jobdir.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(os.getpid()), encoding="utf-8")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResumeGuard:
        jobdir = crawler.settings.get("JOBDIR")
        if not jobdir:
            raise NotConfigured("JOBDIR is not set")
        o = cls(crawler, Path(jobdir))
        crawler.signals.connect(o.spider_closed, signal=signals.spider_closed)
        return o

    def spider_closed(self) -> None:
        # Any close that reaches this point (finished, Ctrl-C shutdown, blocked) saved Scrapy's state properly.
        (self.jobdir / self.MARKER).unlink(missing_ok=True)
