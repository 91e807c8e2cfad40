"""Spidermon monitors run at the end of every crawl: they fail on a block storm, on layout changes, and on
items that break the schema, with thresholds from settings (GUBA_MONITOR_*). The verdict lands in the stats
(``guba/monitors/passed`` or ``guba/monitors/failed`` + ``guba/monitors/failures``) and so in ``crawl_runs``."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from spidermon import Monitor, MonitorSuite, monitors
from spidermon.core.actions import Action

logger = logging.getLogger(__name__)


class _GubaMonitor(Monitor):
    def _setting(self, name: str, default: float) -> float:
        return float(self.data.crawler.settings.getfloat(name, default))

    def _stat(self, key: str) -> float:
        return float(self.data.stats.get(key, 0) or 0)


@monitors.name("Guba blocks")
class BlockRateMonitor(_GubaMonitor):
    @monitors.name("verification pages stay under GUBA_MONITOR_MAX_BLOCK_RATE of responses")
    def test_block_rate(self) -> None:
        responses = self._stat("downloader/response_count")
        blocked = self._stat("guba/blocked")
        rate = blocked / responses if responses else 0.0
        limit = self._setting("GUBA_MONITOR_MAX_BLOCK_RATE", 0.2)
        self.assertLessEqual(rate, limit, msg=f"block rate {rate:.2%} ({blocked:.0f}/{responses:.0f}) > {limit:.0%}")

    @monitors.name("no request was given up because of blocks")
    def test_gave_up(self) -> None:
        gave_up = self._stat("guba/blocked/gave_up")
        limit = self._setting("GUBA_MONITOR_MAX_GAVE_UP", 0)
        self.assertLessEqual(gave_up, limit, msg=f"{gave_up:.0f} requests given up after verification pages")


@monitors.name("Guba layout")
class LayoutMonitor(_GubaMonitor):
    @monitors.name("layout changes stay under GUBA_MONITOR_MAX_LAYOUT_CHANGES")
    def test_layout_changes(self) -> None:
        n = self._stat("guba/layout_changed")
        limit = self._setting("GUBA_MONITOR_MAX_LAYOUT_CHANGES", 0)
        self.assertLessEqual(n, limit, msg=f"{n:.0f} pages did not have the expected layout")


@monitors.name("Item validation")
class ValidationMonitor(_GubaMonitor):
    @monitors.name("schema errors stay under GUBA_MONITOR_MAX_INVALID_RATE of items")
    def test_invalid_rate(self) -> None:
        checked = self._stat("validation/items")
        bad = self._stat("validation/invalid")
        rate = bad / checked if checked else 0.0
        limit = self._setting("GUBA_MONITOR_MAX_INVALID_RATE", 0.0)
        self.assertLessEqual(rate, limit, msg=f"{bad:.0f} of {checked:.0f} items break schema v1")


class RecordVerdict(Action):
    """Writes the suite's verdict into the stats and the log."""

    def run_action(self) -> None:
        stats = self.data.stats
        failures: list[str] = []
        for outcome in self.result.monitors_failed_results:
            reason = outcome.reason or outcome.error or ""
            failures.append(f"{outcome.monitor.name}: {str(reason).strip().splitlines()[-1] if reason else ''}")
        crawler_stats = self.data.crawler.stats
        if failures:
            crawler_stats.set_value("guba/monitors/failed", 1)
            crawler_stats.set_value("guba/monitors/failures", failures)
            for line in failures:
                logger.error("Monitor failed: %s", line)
        else:
            crawler_stats.set_value("guba/monitors/passed", 1)
        del stats  # the suite's copy; the crawler's stats are what crawl_runs reads


class CloseMonitorSuite(MonitorSuite):
    monitors: ClassVar[list[Any]] = [BlockRateMonitor, LayoutMonitor, ValidationMonitor]
    monitors_finished_actions: ClassVar[list[Any]] = [RecordVerdict]
