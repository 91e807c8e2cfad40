"""The replay site as the benchmarks use it: the exact request set a full crawl of some boards makes, and a
cache warmed before timing so that both sides of a comparison read the same pre-rendered bytes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from crawler.urls import board_list_url, post_url, replies_api_url, replies_form
from tests.site import ReplaySite, SiteModel

LIST_PAGE_SIZE = 80
REPLY_PAGE_SIZE = 30


@dataclass(frozen=True)
class PlannedRequest:
    """One request a full crawl makes: ``kind`` is list, post or replies (as the site's log names them)."""

    kind: str
    method: str
    url: str
    body: str = ""

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def as_json(self) -> dict[str, str]:
        return {"method": self.method, "url": self.url, "body": self.body}


def crawl_plan(model: SiteModel, base_url: str, boards: list[str], sort: str = "reply") -> list[PlannedRequest]:
    """Every request a first ``scrapy crawl guba -a boards=...`` (no page limit, replies on, an empty database:
    every post is new) makes on an unchanged site without faults: each board's list pages in ``sort`` order (the
    spider walks by last activity, ``reply``, when MongoDB is configured) up to and including the first empty
    one, each live listed post's page in its own bar, and each replies-API page of posts that have replies."""
    plan: list[PlannedRequest] = []
    post_ids: dict[str, None] = {}
    for code in boards:
        ids = model.board_post_ids(code)
        for page in range(1, math.ceil(len(ids) / LIST_PAGE_SIZE) + 2):
            plan.append(PlannedRequest("list", "GET", board_list_url(base_url, code, page, sort)))
        post_ids.update(dict.fromkeys(ids))
    for pid in post_ids:
        post = model.posts[pid]
        plan.append(PlannedRequest("post", "GET", post_url(base_url, post.bar_code, pid)))
        if post.comment_count > 0:
            for page in range(1, max(1, math.ceil(post.first_level_count / REPLY_PAGE_SIZE)) + 1):
                plan.append(PlannedRequest("replies", "POST", replies_api_url(base_url, post.bar_code),
                                           urlencode(replies_form(pid, page, REPLY_PAGE_SIZE))))
    return plan


def warm(site: ReplaySite, plan: list[PlannedRequest]) -> int:
    """Render every planned response into the site's cache (no sockets); returns the bytes served per pass."""
    total = 0
    for r in plan:
        total += len(site.respond(r.method, r.path, r.body.encode()).body)
    return total
