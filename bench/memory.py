"""Memory: peak RSS of the crawler (with its MongoDB writer process) over a long crawl, and whether it stays flat
after warm-up."""

from __future__ import annotations

import os
from typing import Any

from bench.common import emit, guba_crawl, mongo_server, workdir
from tests.site import ReplaySite, SiteModel

TARGET_MB = 300
# The crawl slows as the repost index grows (nx-27017 scans it per post: see dedup_scale), so 50,000 posts take
# well over half an hour here; `make bench` measures 6,000 and extrapolates the slope to 50,000.
# BENCH_MEMORY_POSTS=50000 python -m bench memory measures the full figure.
DEFAULT_POSTS = 6_000
WARMUP = 0.5  # share of posts after which the crawler counts as warmed up (RSS climbs for the first ~2,000)
FLAT_GROWTH = 0.10  # "flat": RSS grows by at most this share of the warm-up RSS until the end


def _at(samples: list[tuple[float, int, int]], posts: int) -> int | None:
    """RSS (kB) of the first sample taken once ``posts`` post pages had been served."""
    for _, rss, done in samples:
        if done >= posts:
            return rss
    return None


def run() -> dict[str, Any]:
    n = int(os.environ.get("BENCH_MEMORY_POSTS", DEFAULT_POSTS))
    boards = {"600519": n // 2, "usBABA": n * 3 // 10, "hk09988": n - n // 2 - n * 3 // 10}
    model = SiteModel.generate(seed=61, boards=boards, reposted_articles=10, replies_max=2)
    with workdir("memory") as tmp, mongo_server(tmp) as mongo, ReplaySite(model) as site:
        res = guba_crawl(tmp, base_url=site.base_url, mongo_uri=mongo.uri, database="memory",
                         args={"boards": ",".join(boards)},
                         settings={"CONCURRENT_REQUESTS_PER_DOMAIN": 16,
                                   "MONGO_FLUSH_SECONDS": 2.0},
                         timeout=3600, progress=lambda: site.count(kind="post"), sample_every=1.0)
    if res.returncode != 0 or not res.rss_samples:
        raise RuntimeError(f"crawl failed ({res.returncode}): {res.log_tail}")
    posts = int(res.stat("guba/posts"))
    samples = res.rss_samples
    # VmHWM also catches a spike between two samples. (Scrapy's memusage/max is no use here: ru_maxrss survives
    # exec on Linux, so it starts at the bench process's own peak.)
    # Samples are the crawler plus its MongoDB writer process; VmHWM is the crawler's own peak.
    peak_kb = max(max(rss for _, rss, _ in samples), res.hwm_kb + res.descendants_peak_kb)
    warm_kb = _at(samples, int(posts * WARMUP)) or samples[0][1]
    quarter_kb = _at(samples, posts // 4) or samples[0][1]
    end_kb = _at(samples, posts) or samples[-1][1]
    grown_posts = max(posts - int(posts * WARMUP), 1)
    slope_mb_per_10k = (end_kb - warm_kb) / 1024 / grown_posts * 10_000
    at_50k_mb = peak_kb / 1024 + max(slope_mb_per_10k, 0) * max(50_000 - posts, 0) / 10_000
    flat = (end_kb - warm_kb) <= FLAT_GROWTH * warm_kb
    peak_mb = peak_kb / 1024
    return emit(
        "crawler_peak_rss", round(peak_mb, 1), "MB", f"<= {TARGET_MB} MB at 50,000 posts, flat after warm-up",
        peak_mb <= TARGET_MB and at_50k_mb <= TARGET_MB and flat,
        {"posts": posts, "replies": res.stat("guba/replies"), "pages": res.stat("downloader/response_count"),
         "elapsed_s": round(float(res.stat("elapsed_time_seconds", 0)), 1),
         "rss_mb_at_quarter": round(quarter_kb / 1024, 1), "rss_mb_at_warmup": round(warm_kb / 1024, 1),
         "rss_mb_at_end": round(end_kb / 1024, 1), "growth_mb_per_10k_posts": round(slope_mb_per_10k, 2),
         "flat": flat, "estimated_peak_mb_at_50k": round(at_50k_mb, 1), "measured_at_50k": posts >= 50_000,
         "vmhwm_mb": round(res.hwm_kb / 1024, 1),
         "writer_process_peak_mb": round(res.descendants_peak_kb / 1024, 1),
         "samples": len(samples),
         "rss_timeline_mb": [[round(t), d, round(r / 1024, 1)] for t, r, d in samples[:: max(1, len(samples) // 12)]],
         "definition": f"VmRSS of the scrapy process and its MongoDB writer process (MONGO_WRITER_PROCESS) "
                       f"together, sampled every 1 s; peak also counts the crawler's VmHWM; warm-up = {WARMUP:.0%} of posts served; "
                       f"flat = end RSS within {FLAT_GROWTH:.0%} of warm-up RSS; replies_max=2 to keep it short"},
    )
