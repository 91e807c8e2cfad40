"""crawler.extensions.GcTuning: collector thresholds and freeze while a spider runs, restored afterwards."""

from __future__ import annotations

import gc

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.extensions import GcTuning


@pytest.fixture
def restore_gc():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


def test_thresholds_and_freeze_while_open_then_restored(restore_gc):
    gc.set_threshold(700, 10, 10)
    ext = GcTuning.from_crawler(get_crawler(settings_dict={"GC_THRESHOLDS": [20000, 20, 10]}))
    ext.spider_opened()
    assert gc.get_threshold() == (20000, 20, 10)
    assert gc.get_freeze_count() > 0  # start-up objects are out of the collector's view
    ext.spider_closed()
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_project_default_is_on():
    from crawler import settings

    assert "crawler.extensions.GcTuning" in settings.EXTENSIONS
    assert settings.GC_THRESHOLDS[0] > 700


@pytest.mark.parametrize("off", [[], "", "[]"])
def test_empty_setting_turns_it_off(off):
    with pytest.raises(NotConfigured):
        GcTuning.from_crawler(get_crawler(settings_dict={"GC_THRESHOLDS": off}))


def test_command_line_forms():
    for value in ("30000,10,10", "[30000, 10, 10]"):
        assert GcTuning.from_crawler(get_crawler(settings_dict={"GC_THRESHOLDS": value})).thresholds == (30000, 10, 10)


@pytest.mark.parametrize("bad", [[0], [-1, 10], [1, 2, 3, 4], ["x"]])
def test_bad_setting_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="GC_THRESHOLDS"):
        GcTuning.from_crawler(get_crawler(settings_dict={"GC_THRESHOLDS": bad}))


# --- QuietDebugLoggers -----------------------------------------------------------------------------------

def test_noisy_loggers_take_log_level_while_open_then_restored():
    import logging

    from crawler.extensions import QuietDebugLoggers

    names = ["pymongo", "scrapy.core.scraper"]
    before = {n: logging.getLogger(n).level for n in names}
    ext = QuietDebugLoggers.from_crawler(
        get_crawler(settings_dict={"LOG_LEVEL": "INFO", "GUBA_QUIET_LOGGERS": names})
    )
    try:
        # pymongo's per-command records and Scrapy's per-item ones are no longer built.
        assert not logging.getLogger("pymongo.command").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("scrapy.core.scraper").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("pymongo.command").isEnabledFor(logging.INFO)
    finally:
        ext.spider_closed()
    assert {n: logging.getLogger(n).level for n in names} == before


@pytest.mark.parametrize("settings", [{"LOG_LEVEL": "DEBUG"}, {"LOG_LEVEL": "INFO", "GUBA_QUIET_LOGGERS": []}])
def test_debug_level_or_no_loggers_changes_nothing(settings):
    from crawler.extensions import QuietDebugLoggers

    with pytest.raises(NotConfigured):
        QuietDebugLoggers.from_crawler(get_crawler(settings_dict=settings))


def test_project_quiets_pymongo_and_scrapy_per_item_loggers():
    from crawler import settings

    assert "crawler.extensions.QuietDebugLoggers" in settings.EXTENSIONS
    assert {"pymongo", "scrapy.core.engine", "scrapy.core.scraper"} <= set(settings.GUBA_QUIET_LOGGERS)
