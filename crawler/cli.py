"""``guba fetch URL``: fetch one post (with its replies) and print it as one JSON object on stdout.

Runs the ``guba_post`` spider with the project's settings and pipelines, minus the MongoDB stages unless
``--store`` is given. Honours ``GUBA_BASE_URL`` and ``MONGO_URI`` from the environment; ``-s NAME=VALUE``
overrides any setting as with ``scrapy crawl``.

Exit status: 0 fetched; 2 not a Guba post URL; 3 the post is deleted or missing; 4 blocked by the verification
page after retries; 5 any other failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date, datetime
from typing import Any

EXIT_OK, EXIT_BAD_URL, EXIT_GONE, EXIT_BLOCKED, EXIT_FAILED = 0, 2, 3, 4, 5
STORAGE_STAGES = ("pipelines.mongo.MongoPipeline",)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guba", description="Eastmoney Guba crawler tools")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="fetch one post with its replies and print it as JSON")
    fetch.add_argument("url", help="a Guba post URL, e.g. https://guba.eastmoney.com/news,600519,1743987733.html")
    fetch.add_argument("--store", action="store_true", help="also deduplicate and store it in MongoDB (MONGO_URI)")
    fetch.add_argument("--no-replies", action="store_true", help="skip the replies")
    fetch.add_argument(
        "-s", "--set", action="append", default=[], metavar="NAME=VALUE", help="override a Scrapy setting"
    )
    return parser


def fetch(url: str, *, store: bool, replies: bool, overrides: list[str]) -> int:
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from crawler.items import DeletedPostItem, PostItem, ReplyItem, ReplyPageItem
    from crawler.spiders.guba_post import GubaPostSpider
    from crawler.urls import NotAGubaUrl, parse_post_url
    from pipelines.documents import post_document, reply_document

    try:
        ref = parse_post_url(url)
    except NotAGubaUrl as exc:
        print(f"guba fetch: {exc}", file=sys.stderr)
        return EXIT_BAD_URL

    settings = get_project_settings()
    settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
    # One post is not a shared crawl: never join a scrapy-redis run, never take board locks.
    settings.set("REDIS_URL", "", priority="cmdline")
    # A few documents: a writer process would cost more to start than it saves.
    settings.set("MONGO_WRITER_PROCESS", False, priority="cmdline")
    for pair in overrides:
        name, sep, value = pair.partition("=")
        if not sep:
            print(f"guba fetch: -s takes NAME=VALUE, got {pair!r}", file=sys.stderr)
            return EXIT_FAILED
        settings.set(name, value, priority="cmdline")
    pipelines = dict(settings.getdict("ITEM_PIPELINES"))
    if store:
        if not settings.get("MONGO_URI"):
            print("guba fetch: --store needs MONGO_URI (environment or -s MONGO_URI=...)", file=sys.stderr)
            return EXIT_FAILED
    else:
        for stage in STORAGE_STAGES:
            pipelines.pop(stage, None)
        # Nothing touches MongoDB without --store: no run record, no incremental state.
        settings.set("MONGO_URI", "", priority="cmdline")
    settings.set("ITEM_PIPELINES", pipelines, priority="cmdline")

    posts: list[PostItem] = []
    reply_items: list[ReplyItem] = []
    gone: list[DeletedPostItem] = []

    def collect(item: Any) -> None:
        if isinstance(item, PostItem):
            posts.append(item)
        elif isinstance(item, ReplyPageItem):
            reply_items.extend(item.replies)
        elif isinstance(item, DeletedPostItem):
            gone.append(item)

    process = CrawlerProcess(settings, install_root_handler=True)
    crawler = process.create_crawler(GubaPostSpider)
    crawler.signals.connect(collect, signal=signals.item_scraped)
    process.crawl(crawler, url=url, replies="1" if replies else "0")
    process.start()

    reason = (crawler.stats.get_value("finish_reason") if crawler.stats else None) or ""
    spider = crawler.spider
    outcome = spider.outcomes.get(ref.post_id) if isinstance(spider, GubaPostSpider) else None
    if gone or outcome == "deleted":
        print(f"guba fetch: post {ref.post_id} is deleted or missing", file=sys.stderr)
        return EXIT_GONE
    if posts:
        now = posts[0].fetched_at or datetime.now().astimezone()
        doc = post_document(posts[0], now=now)
        doc["replies"] = [reply_document(r, now=now) for r in reply_items]
        json.dump(doc, sys.stdout, ensure_ascii=False, default=_json_default)
        sys.stdout.write("\n")
        sys.stdout.flush()
        return EXIT_OK
    if outcome == "blocked" or reason == "blocked":
        print(
            f"guba fetch: blocked by Guba's verification page after retries ({ref.post_id}); try again later",
            file=sys.stderr,
        )
        return EXIT_BLOCKED
    print(f"guba fetch: failed to fetch post {ref.post_id} ({outcome or reason or 'no result'})", file=sys.stderr)
    return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.captureWarnings(True)
    if args.command == "fetch":
        return fetch(args.url, store=args.store, replies=not args.no_replies, overrides=args.set)
    return EXIT_FAILED  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
