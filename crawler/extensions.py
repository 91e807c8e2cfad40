"""Small Scrapy extensions of the project."""

from __future__ import annotations

import gc
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


class GcTuning:
    """Cheaper garbage collection for a long crawl (the cyclic collector took ~9 % of the crawler's CPU).

    When the spider opens, everything built at start-up (modules, settings, compiled schemas and regexes) is
    moved out of the collector's view (``gc.freeze()``): full collections stop re-scanning it. The collection
    thresholds become ``GC_THRESHOLDS``: a crawl allocates and frees many short-lived objects, nearly all freed
    by reference counting, so scanning every 700 allocations (Python's default) mostly finds nothing. Cyclic
    garbage is still collected, in fewer and larger passes. The previous thresholds come back, and the frozen
    objects return to the oldest generation, when the spider closes. ``GC_THRESHOLDS = []`` turns it off.
    """

    def __init__(self, thresholds: tuple[int, ...]) -> None:
        self.thresholds = thresholds
        self.previous: tuple[int, ...] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GcTuning:
        raw = crawler.settings.get("GC_THRESHOLDS")
        values: list[Any] = []
        if isinstance(raw, str):  # from the command line: "20000,20,10", "[20000, 20, 10]", "" or "[]"
            try:
                values = json.loads(raw) if raw.strip().startswith("[") else [v for v in raw.split(",") if v.strip()]
            except ValueError:
                raise ValueError(f"GC_THRESHOLDS is not a list of integers: {raw!r}") from None
        elif raw:
            values = list(raw)
        if not values:
            raise NotConfigured("GC_THRESHOLDS is empty")
        try:
            thresholds = tuple(int(v) for v in values)
        except (TypeError, ValueError):
            thresholds = ()
        if not 1 <= len(thresholds) <= 3 or thresholds[0] <= 0 or any(v < 0 for v in thresholds):
            raise ValueError(f"GC_THRESHOLDS must be 1 to 3 non-negative integers, the first > 0; got {values!r}")
        o = cls(thresholds)
        crawler.signals.connect(o.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(o.spider_closed, signal=signals.spider_closed)
        return o

    def spider_opened(self) -> None:
        self.previous = gc.get_threshold()
        # No gc.collect() first: it costs a full pass (~0.15 s) inside the run; what start-up garbage there is
        # stays frozen with the rest.
        gc.freeze()
        gc.set_threshold(*self.thresholds)

    def spider_closed(self) -> None:
        if self.previous is not None:
            gc.set_threshold(*self.previous)
            gc.unfreeze()
            self.previous = None


class QuietDebugLoggers:
    """Loggers that write a DEBUG record for every request, item or MongoDB command (``GUBA_QUIET_LOGGERS``)
    get ``LOG_LEVEL`` as their own level while a crawler runs, when ``LOG_LEVEL`` is above DEBUG.

    Scrapy leaves the root logger at NOTSET and filters in its handler, so each of those records was built (the
    record, its caller lookup, its arguments) only to be dropped: a few thousand per thousand posts, some of them
    in the MongoDB writer threads, where they hold the interpreter lock the crawl needs. With ``LOG_LEVEL =
    DEBUG`` nothing changes. The loggers' own levels come back when the spider closes.
    """

    def __init__(self, names: list[str], level: int) -> None:
        self.level = level
        self.saved = {name: logging.getLogger(name).level for name in names}
        for name in names:
            logging.getLogger(name).setLevel(level)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> QuietDebugLoggers:
        names = crawler.settings.getlist("GUBA_QUIET_LOGGERS")
        level = logging.getLevelName(str(crawler.settings.get("LOG_LEVEL") or "DEBUG").upper())
        if not names or not isinstance(level, int) or level <= logging.DEBUG:
            raise NotConfigured("GUBA_QUIET_LOGGERS is empty or LOG_LEVEL is DEBUG")
        o = cls(names, level)
        crawler.signals.connect(o.spider_closed, signal=signals.spider_closed)
        return o

    def spider_closed(self) -> None:
        for name, level in self.saved.items():
            logging.getLogger(name).setLevel(level)
