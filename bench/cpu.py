"""CPU per page: parse (+ normalise) of list pages with 80 rows and of post pages, from pre-rendered bytes."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.common import emit
from bench.sitedata import crawl_plan
from crawler.pages import decode_body, parse_list_page, parse_post_page
from pipelines.normalize_stage import normalize_post
from tests.site import ReplaySite, SiteModel

CONTENT_TYPE = "text/html; charset=utf-8"
REPEATS = 5  # passes over every page; the figure is the median over all timings


def _time_each(pages: list[tuple[str, bytes]], work: Callable[[str, bytes], Any]) -> list[float]:
    times: list[float] = []
    for _ in range(REPEATS):
        for url, body in pages:
            start = time.process_time_ns()
            work(url, body)
            times.append((time.process_time_ns() - start) / 1e6)
    return times


def _summary(times: list[float]) -> dict[str, Any]:
    qs = statistics.quantiles(times, n=20)
    return {"median_ms": round(statistics.median(times), 3), "p95_ms": round(qs[18], 3),
            "mean_ms": round(statistics.fmean(times), 3), "samples": len(times)}


def run() -> list[dict[str, Any]]:
    """Two figures: median CPU ms per full list page (decode + parse), per post page (decode + parse +
    normalise). No target: the throughput figure says whether it is cheap enough."""
    model = SiteModel.generate(seed=41, boards={"600519": 1200, "usBABA": 400}, replies_max=5)
    site = ReplaySite(model)  # not started: responses are rendered without sockets
    base = "http://127.0.0.1:1"
    plan = crawl_plan(model, base, ["600519", "usBABA"])
    now = datetime.now(UTC)
    lists: list[tuple[str, bytes]] = []
    posts: list[tuple[str, bytes]] = []
    for r in plan:
        body = site.respond(r.method, r.path, r.body.encode()).body
        if r.kind == "list":
            text = decode_body(body, CONTENT_TYPE)
            if len(parse_list_page(text, url=r.url).rows) >= 80:  # full pages only (the last ones are short)
                lists.append((r.url, body))
        elif r.kind == "post":
            posts.append((r.url, body))

    def do_list(url: str, body: bytes) -> Any:
        return parse_list_page(decode_body(body, CONTENT_TYPE), url=url)

    def do_post(url: str, body: bytes) -> Any:
        item = parse_post_page(decode_body(body, CONTENT_TYPE), url=url)
        normalize_post(item, now=now)
        return item

    for url, body in lists[:3] + posts[:20]:  # warm caches (regexes, lxml) outside the timings
        (do_list if "/list," in url else do_post)(url, body)
    list_t = _summary(_time_each(lists, do_list))
    post_t = _summary(_time_each(posts, do_post))
    list_kb = sum(len(b) for _, b in lists) / len(lists) / 1024
    post_kb = sum(len(b) for _, b in posts) / len(posts) / 1024
    return [
        emit("cpu_ms_per_list_page", list_t["median_ms"], "ms", None, None,
             {**list_t, "what": "decode_body + parse_list_page of one 80-row list page (process CPU time)",
              "pages": len(lists), "avg_page_kb": round(list_kb, 1)}),
        emit("cpu_ms_per_post_page", post_t["median_ms"], "ms", None, None,
             {**post_t, "what": "decode_body + parse_post_page + normalize_post of one post page "
                                "(process CPU time)", "pages": len(posts), "avg_page_kb": round(post_kb, 1)}),
    ]
