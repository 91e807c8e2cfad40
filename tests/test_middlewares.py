"""GubaBlockMiddleware and the polite defaults, without a network."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from crawler.middlewares import BlockedGiveUp, GubaBlockMiddleware, GubaRefererMiddleware
from tests.site import render

NORMAL = (
    '<!DOCTYPE html><html><head><meta charSet="UTF-8"/><title>贵州茅台(600519)股吧</title>'
    '<script src="//cfgpassport2.eastmoney.com/captcha/scripts/em_capt.js"></script></head>'
    '<body><script>var article_list={"re":[],"rc":1};</script></body></html>'
).encode()


class FakeSlot:
    def __init__(self) -> None:
        self.delay = 3.0


class FakeDownloader:
    def __init__(self) -> None:
        self.slots = {"127.0.0.1": FakeSlot()}

    def get_slot_key(self, request: Request) -> str:
        return "127.0.0.1"


class FakeEngine:
    def __init__(self) -> None:
        self.downloader = FakeDownloader()
        self.paused = False

    def pause(self) -> None:
        self.paused = True

    def unpause(self) -> None:
        self.paused = False


def _mw(**settings: Any) -> tuple[GubaBlockMiddleware, Any]:
    base = {"GUBA_BLOCK_BACKOFF_BASE": 10, "GUBA_BLOCK_BACKOFF_MAX": 100, "GUBA_BLOCK_MAX_RETRIES": 3,
            "GUBA_BLOCK_MAX_CONSECUTIVE": 100, "DOWNLOAD_DELAY": 3.0, **settings}
    crawler = get_crawler(settings_dict=base)
    crawler.engine = FakeEngine()  # type: ignore[assignment]
    crawler.stats.open_spider() if hasattr(crawler.stats, "open_spider") else None
    return GubaBlockMiddleware(crawler), crawler


def _resp(request: Request, body: bytes) -> HtmlResponse:
    return HtmlResponse(request.url, body=body, request=request, headers={"Content-Type": "text/html; charset=utf-8"})


URL = "http://127.0.0.1/list,600519,f.html"


def test_verification_page_never_reaches_the_callback_and_backoff_grows_then_shrinks():
    mw, crawler = _mw()
    slot = crawler.engine.downloader.slots["127.0.0.1"]
    req = Request(URL)
    delays = []
    for _ in range(3):
        out = mw.process_response(req, _resp(req, render.VERIFICATION_SHELL))
        assert isinstance(out, Request) and out.dont_filter
        req = out
        delays.append(slot.delay)
    assert delays == [10, 20, 40]  # doubles with every block in a row, for the whole domain
    ok = Request("http://127.0.0.1/list,600519,f_2.html")
    assert mw.process_response(ok, _resp(ok, NORMAL)).status == 200
    assert slot.delay == 20  # halves with a success
    for _ in range(3):
        mw.process_response(ok, _resp(ok, NORMAL))
    assert slot.delay == 3.0  # back to the normal pace
    assert crawler.stats.get_value("guba/blocked") == 3


def test_a_request_blocked_too_often_is_given_up_and_counted():
    mw, crawler = _mw(GUBA_BLOCK_MAX_RETRIES=2)
    req = Request(URL)
    req = mw.process_response(req, _resp(req, render.VERIFICATION_SHELL))
    req = mw.process_response(req, _resp(req, render.VERIFICATION_SHELL))
    with pytest.raises(BlockedGiveUp):
        mw.process_response(req, _resp(req, render.VERIFICATION_SHELL))
    assert crawler.stats.get_value("guba/blocked/gave_up") == 1


def test_normal_pages_with_em_capt_are_not_blocks():
    mw, crawler = _mw()
    req = Request(URL)
    assert mw.process_response(req, _resp(req, NORMAL)).status == 200
    assert not crawler.stats.get_value("guba/blocked")


def test_pause_action_pauses_the_engine():
    mw, crawler = _mw(GUBA_BLOCK_MAX_CONSECUTIVE=2, GUBA_BLOCK_ACTION="pause", GUBA_BLOCK_PAUSE_SECONDS=3600)
    req = Request(URL)
    import asyncio

    async def run() -> None:
        r = req
        for _ in range(2):
            r = mw.process_response(r, _resp(r, render.VERIFICATION_SHELL))

    asyncio.run(run())
    assert crawler.engine.paused
    assert crawler.stats.get_value("guba/blocked/paused") == 1


def test_referer_middleware_sets_browser_like_headers():
    mw = GubaRefererMiddleware("https://guba.eastmoney.com")
    post = Request("https://guba.eastmoney.com/news,600519,1.html", meta={"guba_referer": URL})
    mw.process_request(post)
    assert post.headers[b"Referer"] == URL.encode()
    api = Request("https://guba.eastmoney.com/api/getData", method="POST")
    mw.process_request(api)
    assert api.headers[b"Origin"] == b"https://guba.eastmoney.com"


def test_defaults_are_polite_and_consoles_are_off():
    s = get_project_settings()
    assert s.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 1
    assert s.getfloat("DOWNLOAD_DELAY") >= 2
    assert s.getfloat("DOWNLOAD_DELAY_JITTER") > 0
    assert "Chrome/" in s.get("USER_AGENT")
    assert s.getbool("TELNETCONSOLE_ENABLED") is False
    assert s.getbool("REMOTE_CONTROL_ENABLED") is False
    assert s.getfloat("GUBA_BLOCK_BACKOFF_BASE") >= 10
