"""Browser fallback: the 财富号 parser, cookie transfer, the add-on and middleware, and crawls through chromium.

Pure tests read saved pages in ``tests/fixtures/caifuhao/`` (a DOM chromium serialised after the replay site's
script ran, the same page unrendered, and a hand-made header variant). End-to-end tests run ``scrapy crawl``
subprocesses with Debian's chromium against the replay site and a real nx-27017 server.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Request
from scrapy.http.cookies import CookieJar
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler.browser import (
    HANDLER_PATH,
    BrowserAddon,
    BrowserFallbackMiddleware,
    abort_heavy_request,
    browser_cookie,
    copy_browser_cookies,
    find_chromium,
)
from crawler.items import PostItem
from crawler.pages import Blocked, LayoutChanged, PostGone
from crawler.pages.caifuhao import CAIFUHAO_BAR, article_post, parse_caifuhao_page, time_from_id
from crawler.urls import caifuhao_id, caifuhao_url
from tests.conftest import FIXTURES
from tests.crawl import FAST_SETTINGS, ROOT, CrawlResult, run_crawl, scrapy_cmd
from tests.site import ReplaySite, SiteModel
from tests.site.render import ERROR_SHELL, VERIFICATION_SHELL

CAIFUHAO = FIXTURES / "caifuhao"
CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


def _fixture(name: str) -> tuple[str, dict[str, Any]]:
    meta = json.loads((CAIFUHAO / name / "meta.json").read_text(encoding="utf-8"))
    return (CAIFUHAO / name / "page.html").read_text(encoding="utf-8"), meta


# --- the parser -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rendered", "header-meta"])
def test_rendered_page_parses_to_expected(name: str) -> None:
    text, meta = _fixture(name)
    expected = json.loads((CAIFUHAO / name / "expected.json").read_text(encoding="utf-8"))
    got = asdict(parse_caifuhao_page(text, url=meta["url"]))
    assert got.pop("url") == meta["url"]
    assert got == expected


def test_unrendered_page_is_layout_changed_not_an_empty_article() -> None:
    text, meta = _fixture("unrendered")
    # The text is in the bytes only as \uXXXX escapes inside a script: nothing readable without a browser.
    assert "大家好" not in text
    with pytest.raises(LayoutChanged, match="container is empty"):
        parse_caifuhao_page(text, url=meta["url"])


URL = "https://caifuhao.eastmoney.com/news/20260302101836902907672"
_SHELL = '<html><body><div class="article page-article">{}</div></body></html>'


@pytest.mark.parametrize(
    ("text", "url", "error", "match"),
    [
        (VERIFICATION_SHELL.decode(), URL, Blocked, "verification"),
        (ERROR_SHELL.decode(), URL, PostGone, "deleted"),
        (_SHELL.format("<p>正文</p>"), "https://caifuhao.eastmoney.com/news/", LayoutChanged, "not a caifuhao"),
        ("", URL, LayoutChanged, "empty or unparsable"),
        ("<html><body><div class='article'>正文</div></body></html>", URL, LayoutChanged, "no div.article"),
        (_SHELL.format(""), URL, LayoutChanged, "container is empty"),
        (_SHELL.format("  <p> \n </p> "), URL, LayoutChanged, "container is empty"),
    ],
    ids=["verification", "error-shell", "url-without-id", "empty", "no-container", "empty-container",
         "whitespace-container"],
)
def test_pages_that_are_not_an_article(text: str, url: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        parse_caifuhao_page(text, url=url)


@pytest.mark.parametrize(
    ("body", "title", "published"),
    [
        ('<img src="x.png">', None, "2026-03-02 10:18:36"),  # an image-only article is content
        ("<p>正文</p>", None, "2026-03-02 10:18:36"),
    ],
)
def test_minimal_articles_fall_back_to_the_id_for_time(body: str, title: str | None, published: str) -> None:
    article = parse_caifuhao_page(_SHELL.format(body), url=URL)
    assert (article.body_html, article.title, article.published_raw) == (body, title, published)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (URL, "20260302101836902907672"),
        ("http://127.0.0.1:8000/caifuhao/news/20260302101836902907672?from=guba#top", "20260302101836902907672"),
        ("//caifuhao.eastmoney.com/news/20190124053117311720040/", "20190124053117311720040"),
        ("https://guba.eastmoney.com/news,600519,1743987733.html", None),
        ("https://caifuhao.eastmoney.com/news/1743987733", None),  # a Guba post id, not an article id
        ("https://caifuhao.eastmoney.com/news/2026030210183690290767x", None),
    ],
)
def test_caifuhao_id(url: str, expected: str | None) -> None:
    assert caifuhao_id(url) == expected


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://guba.eastmoney.com", "https://caifuhao.eastmoney.com/news/1"),
        ("https://guba.eastmoney.com/", "https://caifuhao.eastmoney.com/news/1"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123/caifuhao/news/1"),
        ("http://127.0.0.1:8123/", "http://127.0.0.1:8123/caifuhao/news/1"),
    ],
)
def test_caifuhao_url_rebases(base: str, expected: str) -> None:
    assert caifuhao_url(base, "1") == expected


@pytest.mark.parametrize(
    ("source_id", "expected"),
    [
        ("20260302101836902907672", "2026-03-02 10:18:36"),
        ("20261399101836902907672", None),  # month 13
        ("2026030210", None),
        ("abcdefghijklmnopqrstuvw", None),
    ],
)
def test_time_from_id(source_id: str, expected: str | None) -> None:
    assert time_from_id(source_id) == expected


def _post(**kw: Any) -> PostItem:
    base: dict[str, Any] = {f: None for f in PostItem.__dataclass_fields__}
    base.update(post_id="1704002889", url="u", bar_code="600519", title="", body_html="", abstract="",
                author_is_majia=False, author_deactivated=False, stock_mentions=[], raw={}, stocks=[],
                list_bar_code=None, deleted=False)
    base.update(kw)
    return PostItem(**base)


def test_article_post_fills_only_what_the_guba_post_lacks() -> None:
    text, meta = _fixture("rendered")
    article = parse_caifuhao_page(text, url=meta["url"])
    carried = article_post(article, post=_post(title="own title", published_raw="2026-03-02 10:20:00"))
    assert (carried.post_id, carried.bar_code, carried.title) == ("1704002889", "600519", "own title")
    assert carried.body_html == article.body_html
    assert carried.published_raw == "2026-03-02 10:20:00"
    assert carried.source_id == article.source_id
    alone = article_post(article)
    assert (alone.post_id, alone.bar_code, alone.post_type) == (article.source_id, CAIFUHAO_BAR, 20)
    assert alone.footer_source_raw == "（来源：价值投资笔记的财富号 2026-03-02 10:18）"


# --- cookies ----------------------------------------------------------------------------------------------
def _cookie_header(jar: CookieJar, url: str) -> str:
    request = Request(url)
    jar.add_cookie_header(request)
    return (request.headers.get(b"Cookie") or b"").decode()


def test_browser_cookies_reach_plain_requests_with_the_browsers_scoping() -> None:
    jar = CookieJar()
    cookies = [
        {"name": "ct", "value": "abc", "domain": ".eastmoney.com", "path": "/", "expires": -1,
         "httpOnly": True, "secure": False, "sameSite": "Lax"},
        {"name": "host_only", "value": "1", "domain": "guba.eastmoney.com", "path": "/", "expires": 4102444800},
        {"name": "sec", "value": "s", "domain": ".eastmoney.com", "path": "/", "secure": True},
        {"name": "deep", "value": "d", "domain": ".eastmoney.com", "path": "/api"},
        {"name": "", "value": "nameless", "domain": ".eastmoney.com"},
        {"name": "nodomain", "value": "x"},
        {"name": "loop", "value": "ok", "domain": "127.0.0.1", "path": "/"},
    ]
    assert copy_browser_cookies(cookies, jar) == 5
    guba = _cookie_header(jar, "https://guba.eastmoney.com/news,600519,1.html")
    assert sorted(guba.split("; ")) == ["ct=abc", "host_only=1", "sec=s"]
    assert "deep=d" in _cookie_header(jar, "https://guba.eastmoney.com/api/getData")
    # Host-only stays on its host; secure cookies never go over plain HTTP.
    assert _cookie_header(jar, "http://caifuhao.eastmoney.com/news/1") == "ct=abc"
    assert _cookie_header(jar, "http://127.0.0.1:8123/list,600519.html") == "loop=ok"
    # A newer browser value replaces the old one.
    copy_browser_cookies([{"name": "ct", "value": "new", "domain": ".eastmoney.com", "path": "/"}], jar)
    assert "ct=new" in _cookie_header(jar, "https://guba.eastmoney.com/")
    assert "ct=abc" not in _cookie_header(jar, "https://guba.eastmoney.com/")


def test_browser_cookie_fields() -> None:
    c = browser_cookie({"name": "a", "value": "b", "domain": ".x.com", "expires": 12.5, "httpOnly": True})
    assert (c.domain_initial_dot, c.expires, c.discard, c.path, c.has_nonstandard_attr("HttpOnly")) == (
        True, 12, False, "/", True)
    session = browser_cookie({"name": "a", "value": "b", "domain": "x.com", "expires": -1})
    assert (session.domain_specified, session.expires, session.discard) == (False, None, True)


class _PWRequest:
    def __init__(self, resource_type: str) -> None:
        self.resource_type = resource_type


@pytest.mark.parametrize(("kind", "aborted"), [("image", True), ("font", True), ("media", True),
                                               ("document", False), ("script", False), ("xhr", False)])
def test_heavy_resources_are_aborted(kind: str, aborted: bool) -> None:
    assert abort_heavy_request(_PWRequest(kind)) is aborted  # type: ignore[arg-type]


# --- the add-on -----------------------------------------------------------------------------------------
def _settings(**values: Any) -> Settings:
    s = Settings()
    s.setmodule("crawler.settings", priority="project")
    for k, v in values.items():
        s.set(k, v, priority="cmdline")
    return s


def _handlers(s: Settings) -> dict[str, Any]:
    return dict(s.getdict("DOWNLOAD_HANDLERS"))


@needs_chromium
@pytest.mark.parametrize("value", ["auto", "true", "1", True])
def test_addon_installs_the_handler_when_on(value: Any) -> None:
    s = _settings(GUBA_BROWSER_ENABLED=value)
    BrowserAddon().update_settings(s)
    assert s.getbool("GUBA_BROWSER_ENABLED") is True
    assert _handlers(s) == {"http": HANDLER_PATH, "https": HANDLER_PATH}
    launch = s.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")
    assert launch["executable_path"] == CHROMIUM
    assert "--no-sandbox" in launch["args"]


@pytest.mark.parametrize("value", ["false", "0", False, "off"])
def test_addon_leaves_scrapys_handlers_alone_when_off(value: Any) -> None:
    s = _settings(GUBA_BROWSER_ENABLED=value)
    BrowserAddon().update_settings(s)
    assert s.getbool("GUBA_BROWSER_ENABLED") is False
    assert _handlers(s) == {}


def test_addon_auto_without_chromium_turns_the_browser_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crawler.browser.CHROMIUM_CANDIDATES", ("/nonexistent/chromium",))
    monkeypatch.setenv("PATH", "/nonexistent")
    s = _settings()
    BrowserAddon().update_settings(s)
    assert (s.getbool("GUBA_BROWSER_ENABLED"), _handlers(s)) == (False, {})


@pytest.mark.parametrize(
    ("values", "error", "match"),
    [
        ({"GUBA_BROWSER_ENABLED": "true", "GUBA_BROWSER_EXECUTABLE": "/nonexistent/chromium"}, RuntimeError,
         "GUBA_BROWSER_ENABLED is on but no chromium"),
        ({"GUBA_BROWSER_ENABLED": "sometimes"}, NotConfigured, "GUBA_BROWSER_ENABLED must be"),
    ],
)
def test_addon_refuses_bad_configuration(values: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        BrowserAddon().update_settings(_settings(**values))


# --- the middleware (unit) ------------------------------------------------------------------------------
def _mw(**settings: Any) -> BrowserFallbackMiddleware:
    return BrowserFallbackMiddleware(get_crawler(settings_dict={"GUBA_BROWSER_ENABLED": True, **settings}))


def _html(request: Request, body: bytes) -> HtmlResponse:
    return HtmlResponse(request.url, body=body, request=request, headers={"Content-Type": "text/html; charset=utf-8"})


POST_URL = "https://guba.eastmoney.com/news,600519,1743987733.html"


@pytest.mark.parametrize(
    ("on_block", "method", "meta", "body", "browser_retry"),
    [
        (True, "GET", {}, VERIFICATION_SHELL, True),
        (True, "GET", {}, b"<html><script>var post_article={};</script></html>", False),
        (False, "GET", {}, VERIFICATION_SHELL, False),
        (True, "POST", {}, VERIFICATION_SHELL, False),
        (True, "GET", {"guba_browser_tried": True}, VERIFICATION_SHELL, False),
        (True, "GET", {"playwright": True}, VERIFICATION_SHELL, False),
    ],
    ids=["blocked-get", "content", "setting-off", "post-api", "already-tried", "already-a-browser-request"],
)
def test_fallback_takes_only_blocked_get_pages_once(
    on_block: bool, method: str, meta: dict[str, Any], body: bytes, browser_retry: bool
) -> None:
    mw = _mw(GUBA_BROWSER_ON_BLOCK=on_block)
    request = Request(POST_URL, method=method, meta={"guba_post_id": "1743987733", **meta})
    response = _html(request, body)
    out = asyncio.run(mw.process_response(request, response))
    if browser_retry:
        assert isinstance(out, Request)
        assert out.meta["playwright"] and out.meta["playwright_include_page"] and out.dont_filter
        assert out.meta["guba_post_id"] == "1743987733"
    else:
        assert out is response


def test_after_the_browser_try_later_retries_are_plain() -> None:
    mw = _mw(GUBA_BROWSER_ON_BLOCK=True)
    request = Request(POST_URL)
    retry = asyncio.run(mw.process_response(request, _html(request, VERIFICATION_SHELL)))
    assert isinstance(retry, Request)
    still = _html(retry, VERIFICATION_SHELL)
    assert asyncio.run(mw.process_response(retry, still)) is still  # GubaBlockMiddleware's turn now
    assert "playwright" not in retry.meta and retry.meta["guba_browser_tried"] is True
    assert mw.stats.get_value("guba/browser/fallback/still_blocked") == 1


def test_middleware_is_off_with_the_browser() -> None:
    with pytest.raises(NotConfigured, match="GUBA_BROWSER_ENABLED"):
        BrowserFallbackMiddleware(get_crawler(settings_dict={"GUBA_BROWSER_ENABLED": False}))


# --- end to end: scrapy crawl with chromium -------------------------------------------------------------
def _marked_pids(marker: str) -> set[int]:
    """Processes whose environment carries ``marker`` (the crawl, its Playwright driver, chromium and every
    process chromium forked: they all inherit the environment)."""
    found: set[int] = set()
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def _is_chromium(pid: int) -> bool:
    try:
        return "chrom" in Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").lower()
    except OSError:
        return False


def _crawl_watching_processes(
    spider: str, *, base_url: str, tmp_path: Path, mongo_uri: str, database: str, args: dict[str, Any],
    settings: dict[str, Any] | None = None,
) -> tuple[CrawlResult, set[int], set[int]]:
    """Run a crawl like tests.crawl.run_crawl; also return the chromium pids seen while it ran and the
    marked processes still alive after it exited."""
    marker = f"GUBA_BROWSER_TEST_{uuid.uuid4().hex}"
    stats_file = tmp_path / f"stats-{spider}-{uuid.uuid4().hex[:8]}.json"
    merged = {**FAST_SETTINGS, "GUBA_STATS_FILE": str(stats_file), **(settings or {})}
    env = {**os.environ, "GUBA_BASE_URL": base_url, "MONGO_URI": mongo_uri, "MONGO_DATABASE": database,
           "PYTHONWARNINGS": "error::DeprecationWarning:scrapy", marker: "1"}
    log = tmp_path / f"{spider}.log"
    seen: set[int] = set()
    with log.open("w") as err:
        proc = subprocess.Popen(scrapy_cmd(spider, args, merged), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=err, text=True)
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            seen |= {p for p in _marked_pids(marker) if _is_chromium(p)}
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    time.sleep(0.5)  # the exit of a process's last children is not instantaneous
    left = _marked_pids(marker)
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    return CrawlResult(proc.returncode, stats, log.read_text()), seen, left


def _plain_text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


@pytest.mark.e2e
@needs_chromium
def test_caifuhao_text_built_by_javascript_is_stored_and_the_browser_is_closed(
    start_site: Any, mongo_server: Any, mongo_client: Any, tmp_path: Path
) -> None:
    model = SiteModel.generate(seed=11, boards={"600519": 60, "usBABA": 10})
    site = start_site(model)
    articles = [p for p in model.posts.values() if p.kind == "caifuhao"][:2]
    plain = [p for p in model.posts.values() if p.kind == "user" and p.replies][:2]
    assert len(articles) == 2 and len(plain) == 2
    urls = [f"https://caifuhao.eastmoney.com/news/{p.source_id}" for p in articles]
    urls += [f"{site.base_url}/news,{p.bar_code},{p.post_id}.html" for p in plain]
    result, chromium_seen, left = _crawl_watching_processes(
        "guba_post", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=mongo_server.uri,
        database="browser_caifuhao", args={"urls": " ".join(urls)})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["finish_reason"] == "finished"

    db = mongo_client["browser_caifuhao"]
    for p in articles:
        doc = db.posts.find_one({"_id": p.source_id})
        assert doc is not None, p.source_id
        assert doc["title"] == p.title
        # Every paragraph the script wrote into the page, read through chromium (absent from the raw bytes).
        first = _plain_text(p.content_html.split("</p>")[0])
        assert first and first in doc["body"]
        assert first not in site.respond("GET", f"/caifuhao/news/{p.source_id}").body.decode()
        assert (doc["board"]["code"], doc["post_type"], doc["source"]["kind"]) == ("cfhpl", 20, "caifuhao")
    for p in plain:
        assert db.posts.find_one({"_id": p.post_id})["title"] == p.title
    assert {d["post_id"] for d in db.replies.find({}, {"post_id": 1})} == {p.post_id for p in plain}

    # Only the two article pages went through the browser; posts and the replies API stayed plain.
    assert result.stat("guba/caifuhao") == 2
    assert result.stat("playwright/page_count") == 2
    assert result.stat("playwright/request_count/navigation") == 2
    assert result.stat("playwright/request_count") == 2  # no subresource, no list/post/API request
    assert site.count(path_contains="/caifuhao/news/") == 2
    assert result.stat("downloader/request_count") > 2

    # Chromium ran, and nothing of it (nor the Playwright driver) is left once the crawl has exited.
    assert chromium_seen, "no chromium process was seen while the crawl ran"
    assert left == set(), f"processes left behind: {sorted(left)}"


@pytest.mark.e2e
@needs_chromium
def test_browser_contexts_are_recycled_every_n_pages(start_site: Any, mongo_server: Any, mongo_client: Any,
                                                     tmp_path: Path) -> None:
    model = SiteModel.generate(seed=11, boards={"600519": 60, "usBABA": 10})
    site = start_site(model)
    articles = [p for p in model.posts.values() if p.kind == "caifuhao"]
    assert len(articles) >= 3
    urls = " ".join(f"https://caifuhao.eastmoney.com/news/{p.source_id}" for p in articles)
    result = run_crawl("guba_post", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=mongo_server.uri,
                       database="browser_recycle", args={"urls": urls},
                       settings={"GUBA_BROWSER_PAGES_PER_CONTEXT": 2, "CONCURRENT_REQUESTS_PER_DOMAIN": 1})
    assert result.returncode == 0, result.log[-3000:]
    n = len(articles)
    contexts = (n + 1) // 2
    assert result.stat("guba/caifuhao") == n
    assert result.stat("playwright/context_count") == contexts
    # Every used-up context is closed once its pages are; the last one is closed with the browser.
    assert result.stat("guba/browser/context_restarts") == contexts - 1
    assert result.stat("playwright/browser_count") == 1
    assert mongo_client["browser_recycle"].posts.count_documents({"post_type": 20}) == n


@pytest.mark.e2e
@needs_chromium
def test_plain_crawl_never_starts_the_browser(start_site: Any, mongo_server: Any, tmp_path: Path) -> None:
    model = SiteModel.generate(seed=12, boards={"600519": 10, "usBABA": 5})
    site = start_site(model)
    post = next(p for p in model.posts.values() if p.kind == "user")
    result, chromium_seen, left = _crawl_watching_processes(
        "guba_post", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=mongo_server.uri,
        database="browser_plain", args={"url": f"{site.base_url}/news,{post.bar_code},{post.post_id}.html"})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stat("guba/posts") == 1
    assert result.stat("guba/browser/launches") == 0 and result.stat("playwright/page_count") == 0
    assert chromium_seen == set() and left == set()


class _CookieSite:
    """The replay site behind a thin HTTP front that records each request's Cookie header and adds a script
    setting a cookie to every HTML page: a cookie only a browser (which runs scripts) can ever obtain."""

    SCRIPT = b'<script>document.cookie="gb_js=ran; path=/";</script>'

    def __init__(self, site: ReplaySite) -> None:
        self.site = site
        self.seen: list[tuple[str, str, str]] = []  # (method, path, Cookie header)
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = self.rfile.read(length) if length else b""
                front.seen.append((method, self.path, self.headers.get("Cookie") or ""))
                resp = front.site.respond(method, self.path, form)
                body = resp.body
                if resp.content_type.startswith("text/html") and b"</body>" in body:
                    body = body.replace(b"</body>", front.SCRIPT + b"</body>", 1)
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.content_type)
                self.send_header("Content-Length", str(len(body)))
                for k, v in resp.headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> _CookieSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cookie_site() -> Iterator[tuple[SiteModel, ReplaySite, _CookieSite]]:
    model = SiteModel.generate(seed=13, boards={"600519": 30, "usBABA": 5})
    site = ReplaySite(model)  # answers through .respond(); the front does the HTTP
    with _CookieSite(site) as front:
        yield model, site, front


@pytest.mark.e2e
@needs_chromium
def test_blocked_post_is_fetched_once_through_the_browser_and_its_cookies_reach_plain_requests(
    cookie_site: tuple[SiteModel, ReplaySite, _CookieSite], mongo_server: Any, mongo_client: Any, tmp_path: Path
) -> None:
    model, site, front = cookie_site
    post = next(p for p in model.posts.values() if p.kind == "user" and p.replies)
    site.faults.verification(path_contains="/news,", count=1)
    url = f"{front.base_url}/news,{post.bar_code},{post.post_id}.html"
    result = run_crawl("guba_post", base_url=front.base_url, tmp_path=tmp_path, mongo_uri=mongo_server.uri,
                       database="browser_block", args={"url": url},
                       settings={"GUBA_BROWSER_ON_BLOCK": True})
    assert result.returncode == 0, result.log[-3000:]

    news = [(m, p, c) for m, p, c in front.seen if p.startswith("/news,")]
    assert len(news) == 2  # the verification page, then the browser's fetch
    assert result.stat("guba/browser/fallback") == 1
    assert result.stat("playwright/page_count") == 1
    assert result.stat("guba/blocked") == 0  # answered by the browser: no backoff
    assert result.stat("guba/posts") == 1
    assert mongo_client["browser_block"].posts.find_one({"_id": post.post_id})["title"] == post.title

    # The cookie the page's script set in chromium is sent with the plain replies-API requests after it.
    assert result.stat("guba/browser/cookies") >= 1
    api = [c for m, p, c in front.seen if m == "POST"]
    assert api and all("gb_js=ran" in c for c in api), front.seen
    assert "gb_js=ran" not in news[0][2]
    assert {r["_id"] for r in mongo_client["browser_block"].replies.find({}, {"_id": 1})} == {
        r.reply_id for r in model.replies_of(post.post_id)}


@pytest.mark.e2e
def test_a_caifuhao_post_without_body_is_completed_from_its_article_page(start_site, mongo_server, mongo_client,
                                                                        tmp_path):
    model = SiteModel.generate(seed=41, boards={"600519": 40, "usBABA": 5})
    original = next(p for p in model.posts.values() if p.kind == "caifuhao" and len(p.source_id) == 23)
    empty = model.add_post("600519", post_type=20, content_html="", source_id=original.source_id,
                           title="财富号文章")
    site = start_site(model)
    url = f"{site.base_url}/news,600519,{empty.post_id}.html"
    result = run_crawl("guba_post", base_url=site.base_url, tmp_path=tmp_path, mongo_uri=mongo_server.uri,
                       database="cfh_fill", args={"url": url})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stat("guba/caifuhao/body_from_article") == 1
    assert result.stat("playwright/page_count") == 1
    doc = mongo_client["cfh_fill"].posts.find_one({"_id": empty.post_id})
    assert doc is not None and doc["body"].strip()
    assert doc["title"] == "财富号文章"
