"""Requests per new post of an incremental run: after N new posts appear on a board, how close does the next
``scrapy crawl guba`` come to the floor of one post page per new post, ceil(N/80) list pages and the reply pages
of new posts that have replies?"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from bench.common import emit, guba_crawl, mongo_server, workdir
from bench.sitedata import LIST_PAGE_SIZE, REPLY_PAGE_SIZE
from tests.site import ReplaySite, SiteModel

TARGET = 1.05
BOARD = "600519"
STEPS = (10, 100, 500)  # new posts before each incremental run, in this order on the same store
HEADLINE = 100


def run() -> dict[str, Any]:
    """A first full crawl of one board, then for each N in STEPS: publish N posts (every 4th gets 3 replies),
    run the crawl again (incremental: MongoDB watermarks) and count the requests the site saw."""
    model = SiteModel.generate(seed=81, boards={BOARD: 300}, replies_max=10)
    steps: list[dict[str, Any]] = []
    with workdir("incremental") as tmp, mongo_server(tmp) as mongo, ReplaySite(model) as site:
        first = guba_crawl(tmp, base_url=site.base_url, mongo_uri=mongo.uri, database="incremental",
                           args={"boards": BOARD})
        if first.returncode != 0:
            raise RuntimeError(f"first crawl failed: {first.log_tail}")
        for i, n in enumerate(STEPS):
            new = [model.add_post(BOARD) for _ in range(n)]
            reply_pages = 0
            for k, post in enumerate(new):
                if k % 4 == 3:
                    model.add_replies(post.post_id, 3)
                    reply_pages += max(1, math.ceil(post.first_level_count / REPLY_PAGE_SIZE))
            floor = n + math.ceil(n / LIST_PAGE_SIZE) + reply_pages
            site.reset_log()
            res = guba_crawl(tmp, base_url=site.base_url, mongo_uri=mongo.uri, database="incremental",
                             args={"boards": BOARD})
            if res.returncode != 0:
                raise RuntimeError(f"incremental crawl {i} failed: {res.log_tail}")
            kinds = Counter(k for _, _, _, k in site.requests)
            made = len(site.requests)
            fetched_new = {p for p in (x[1] for x in site.requests) if any(f",{q.post_id}." in p for q in new)}
            steps.append({
                "new_posts": n, "requests": made, "floor": floor, "ratio_to_floor": round(made / floor, 3),
                "requests_per_new_post": round(made / n, 3), "floor_per_new_post": round(floor / n, 3),
                "by_kind": dict(kinds), "new_posts_fetched": len(fetched_new),
                "stop": {k.rsplit("/", 1)[1]: v for k, v in res.stats.items() if k.startswith("guba/board_stop/")},
            })
    head = next(s for s in steps if s["new_posts"] == HEADLINE)
    worst = max(s["ratio_to_floor"] for s in steps)
    complete = all(s["new_posts_fetched"] == s["new_posts"] for s in steps)
    return emit(
        "incremental_requests_vs_floor", head["ratio_to_floor"], "ratio", f"<= {TARGET} × floor",
        head["ratio_to_floor"] <= TARGET and complete,
        {"definition": f"requests of the incremental run after {HEADLINE} new posts on {BOARD} ÷ floor "
                       "(one post page per new post + ceil(N/80) list pages + reply pages of new posts)",
         "requests_per_new_post": head["requests_per_new_post"], "floor_per_new_post": head["floor_per_new_post"],
         "worst_ratio_over_steps": worst, "every_new_post_fetched": complete, "steps": steps},
    )
