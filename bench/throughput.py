"""Pipeline throughput: the full crawl (parse, normalise, dedup, store to nx-27017) against a bare Scrapy
spider fetching the identical requests from the same replay site, in the same run."""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import emit, guba_crawl, mongo_server, process_cpu_seconds, run_process, workdir
from bench.sitedata import crawl_plan, warm
from tests.site import ReplaySite, SiteModel

BOARDS = {"600519": 700, "usBABA": 300}
CONCURRENCY = 16
ROUNDS = 5  # this machine swings ±20 % over minutes: more alternating rounds give both sides a quiet slot
TARGET = 0.7


def _stages() -> list[tuple[str, dict[str, int]]]:
    """The project's ITEM_PIPELINES switched on one after another: none (parse only), the first, the first
    two, ... all of them. Labels name the stage each step adds."""
    from crawler.settings import ITEM_PIPELINES

    ordered = sorted(ITEM_PIPELINES.items(), key=lambda kv: kv[1])
    steps: list[tuple[str, dict[str, int]]] = [("parse_only", {})]
    for i, (path, _) in enumerate(ordered):
        steps.append(("+" + path.rsplit(".", 1)[1], dict(ordered[: i + 1])))
    return steps


def _rate(stats: dict[str, Any], key: str = "downloader/response_count") -> float:
    elapsed = float(stats.get("elapsed_time_seconds") or 0)
    return float(stats.get(key, 0)) / elapsed if elapsed > 0 else 0.0


def run() -> dict[str, Any]:
    """Alternate bare and full runs ``ROUNDS`` times; the figure is best full pages/s over best bare pages/s."""
    model = SiteModel.generate(seed=31, boards=BOARDS, replies_max=70)
    boards = list(BOARDS)
    with workdir("throughput") as tmp, mongo_server(tmp) as mongo, ReplaySite(model) as site:
        plan = crawl_plan(model, site.base_url, boards)
        bytes_per_pass = warm(site, plan)
        requests_file = tmp / "requests.json"
        requests_file.write_text(json.dumps([r.as_json() for r in plan]), encoding="utf-8")
        planned = Counter(r.kind for r in plan)
        bare_runs: list[dict[str, Any]] = []
        full_runs: list[dict[str, Any]] = []
        planned_paths = Counter((r.method, r.path) for r in plan)
        full_paths: list[Counter[tuple[str, str]]] = []
        for i in range(ROUNDS):
            stats_file = tmp / f"bare-{i}.json"
            bare = run_process(
                [sys.executable, "-m", "bench.bare_spider", str(requests_file), str(stats_file), str(CONCURRENCY)],
                env=_env(), stats_file=stats_file, timeout=600)
            if bare.returncode != 0:
                raise RuntimeError(f"bare spider failed: {bare.log_tail}")
            bare_runs.append(bare.stats)
            site.reset_log()
            full = guba_crawl(tmp, base_url=site.base_url, mongo_uri=mongo.uri, database=f"throughput_{i}",
                              args={"boards": ",".join(boards)},
                              settings={"CONCURRENT_REQUESTS_PER_DOMAIN": CONCURRENCY,
                                        "MONGO_FLUSH_SECONDS": 1.0})
            if full.returncode != 0 or full.stat("finish_reason") != "finished":
                raise RuntimeError(f"full crawl failed: {full.log_tail}")
            full_runs.append(full.stats)
            full_paths.append(Counter((m, p) for m, p, _, _ in site.requests))
        # Where the time goes: the same crawl with the pipeline stages switched on one after another (one run
        # each; the last is the full crawl again).
        stages: dict[str, Any] = {}
        for label, pipes in _stages():
            site.reset_log()
            mongo_cpu = process_cpu_seconds(mongo.proc.pid) if mongo.proc else 0.0
            site_cpu = time.process_time()
            res = guba_crawl(tmp, base_url=site.base_url, mongo_uri=mongo.uri, database=f"stage_{len(stages)}",
                             args={"boards": ",".join(boards)},
                             settings={"CONCURRENT_REQUESTS_PER_DOMAIN": CONCURRENCY,
                                       "MONGO_FLUSH_SECONDS": 1.0, "ITEM_PIPELINES": json.dumps(pipes)})
            stages[label] = {
                "pages_per_s": round(_rate(res.stats), 1),
                "elapsed_s": round(float(res.stat("elapsed_time_seconds", 0)), 1),
                "crawler_cpu_s": round(res.cpu_seconds, 1),
                "mongo_cpu_s": round((process_cpu_seconds(mongo.proc.pid) if mongo.proc else 0.0) - mongo_cpu, 1),
                "site_cpu_s": round(time.process_time() - site_cpu, 1),
                "ok": res.returncode == 0 and res.stat("downloader/response_count") == len(plan),
            }

    best_bare = max(_rate(s) for s in bare_runs)
    best_full = max(_rate(s) for s in full_runs)
    ratio = best_full / best_bare if best_bare else 0.0
    # Each full run against the bare run just before it: the machine's speed drifts over minutes, a pair much less.
    pairs = [_rate(f) / _rate(b) for f, b in zip(full_runs, bare_runs, strict=True) if _rate(b)]
    same_set = all(p == planned_paths for p in full_paths)
    return emit(
        "pipeline_throughput_ratio", round(ratio, 3), "ratio", f">= {TARGET}", ratio >= TARGET and same_set,
        {
            "definition": "full-crawl pages/s ÷ bare-spider pages/s over the identical request set (pages = "
                          "downloader responses, time = Scrapy's elapsed_time_seconds; best of "
                          f"{ROUNDS} alternating runs each)",
            "full_pages_per_s": round(best_full, 1),
            "bare_pages_per_s": round(best_bare, 1),
            "full_posts_per_s": round(max(_rate(s, "guba/posts") for s in full_runs), 1),
            "full_items_per_s": round(max(_rate(s, "item_scraped_count") for s in full_runs), 1),
            "runs_full_pages_per_s": [round(_rate(s), 1) for s in full_runs],
            "runs_bare_pages_per_s": [round(_rate(s), 1) for s in bare_runs],
            "paired_ratios": [round(r, 3) for r in pairs],
            "paired_ratio_median": round(statistics.median(pairs), 3) if pairs else None,
            "stages": stages,
            "requests": dict(planned),
            "identical_request_set": same_set,
            "posts": full_runs[0].get("guba/posts"),
            "replies": full_runs[0].get("guba/replies"),
            "mb_per_pass": round(bytes_per_pass / 1e6, 1),
            "concurrency_per_domain": CONCURRENCY,
            "download_delay": 0,
            "storage": "nx-27017 on loopback, started by the bench",
        },
    )


def _env() -> dict[str, str]:
    import os

    root = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
