"""Repost deduplication: quality on the replay site's labelled reposts, and cost per post as the store grows."""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import struct
import time
from collections import Counter
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

import pymongo

from bench.common import emit, mongo_server, workdir
from bench.sitedata import crawl_plan
from crawler.pages import PageError, decode_body, parse_post_page
from pipelines.fingerprint import band_keys, is_long_enough
from pipelines.normalize_stage import normalize_post
from pipelines.repost_index import RepostIndex
from tests.services import MongoServer
from tests.site import ReplaySite, SiteModel

PRECISION_TARGET = 0.99
RECALL_TARGET = 0.95
SCALE_TARGET = 1.5
QUALITY_SEEDS = range(101, 109)
SMALL, LARGE = 10_000, 200_000
NEW_POSTS = 200
LARGE_BUDGET_S = 45.0
MIN_POSTS = 5


def crawled_bodies(model: SiteModel, boards: list[str]) -> list[tuple[str, str]]:
    """``(post_id, clean body)`` of every live post of ``boards`` exactly as the pipeline sees it (post page
    rendered, parsed and normalised), in publication order (the order a crawl tends to store them)."""
    site = ReplaySite(model)  # not started: rendered without sockets
    now = datetime.now(UTC)
    out: list[tuple[str, str, str]] = []
    for r in crawl_plan(model, "http://127.0.0.1:1", boards):
        if r.kind != "post":
            continue
        resp = site.respond(r.method, r.path)
        try:
            item = parse_post_page(decode_body(resp.body, resp.content_type), url=r.url)
        except PageError:
            continue
        normalize_post(item, now=now)
        out.append((model.posts[item.post_id].publish_time, item.post_id, item.body or ""))
    out.sort()
    return [(pid, body) for _, pid, body in out]


def _pairs(groups: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for ids in groups.values() for p in combinations(ids, 2)}  # type: ignore[misc]


def run_quality() -> dict[str, Any]:
    """Precision and recall over post pairs: positives are pairs of posts of one ``model.article_groups`` entry
    (news copies across boards with and without K-line blocks, half-width punctuation, trailing boilerplate,
    a user's copy with a comment line on top); predicted pairs are posts given the same ``article_id``."""
    tp = fp = fn = 0
    kinds: Counter[str] = Counter()
    methods: Counter[str] = Counter()
    false_pos: list[dict[str, Any]] = []
    missed: list[dict[str, Any]] = []
    boards = ["600519", "usBABA", "hk09988", "bk0896"]
    with workdir("dedup-quality") as tmp, mongo_server(tmp) as mongo:
        client: pymongo.MongoClient[Any] = pymongo.MongoClient(mongo.uri)
        try:
            for seed in QUALITY_SEEDS:
                model = SiteModel.generate(seed, {"600519": 120, "usBABA": 120, "hk09988": 100, "bk0896": 40},
                                           reposted_articles=6, replies_max=0)
                index = RepostIndex(client[f"quality_{seed}"])
                index.ensure_indexes()
                assigned: dict[str, list[str]] = {}
                for pid, body in crawled_bodies(model, boards):
                    a = index.assign(pid, body)
                    methods[a.method] += 1
                    kinds[model.posts[pid].kind] += 1
                    assigned.setdefault(a.article_id, []).append(pid)
                truth = _pairs(model.article_groups)
                predicted = _pairs(assigned)
                tp += len(truth & predicted)
                for x, y in sorted(predicted - truth):
                    px, py = model.posts[x], model.posts[y]
                    false_pos.append({"seed": seed, "posts": [x, y], "kinds": [px.kind, py.kind],
                                      "same_author": px.author.user_id == py.author.user_id,
                                      "same_board": px.bar_code == py.bar_code})
                for x, y in sorted(truth - predicted)[:3]:
                    missed.append({"seed": seed, "posts": [x, y],
                                   "kinds": [model.posts[x].kind, model.posts[y].kind]})
                fp += len(predicted - truth)
                fn += len(truth - predicted)
        finally:
            client.close()
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return emit(
        "dedup_quality", {"precision": round(precision, 4), "recall": round(recall, 4)}, "pairs",
        f"precision >= {PRECISION_TARGET}, recall >= {RECALL_TARGET}",
        precision >= PRECISION_TARGET and recall >= RECALL_TARGET,
        {"true_positive_pairs": tp, "false_positive_pairs": fp, "missed_pairs": fn,
         "seeds": list(QUALITY_SEEDS), "posts_by_kind": dict(kinds), "assign_methods": dict(methods),
         "false_positive_examples": false_pos[:10], "missed_examples": missed[:10],
         "false_positive_kinds": dict(Counter("+".join(sorted(f["kinds"])) for f in false_pos)),
         "how": "every post page rendered by the replay site, parsed and normalised as in a crawl, then "
                "RepostIndex.assign one by one (publication order) into a fresh nx-27017 database per seed"},
    )


# ------------------------------------------------------------------------------------------- scale
def _random_rows(i: int, num_perm: int, bands: int) -> tuple[tuple[str, str], list[tuple[str, str]],
                                                           tuple[str, str]]:
    """One unrelated stored article as ``(_id, JSON)`` rows of nx-27017's tables, in exactly the document shape
    RepostIndex writes: its fingerprint, its band documents and its post assignment."""
    sig = list(struct.unpack(f"{num_perm}I", os.urandom(4 * num_perm)))
    exact = os.urandom(20).hex()
    aid = "a" + exact[:24]
    pid = f"9{i:09d}"
    fp = (aid, json.dumps({"_id": aid, "exact": exact, "sig": sig, "post_ids": [pid]}))
    # Band keys and ids are ASCII without quotes, so the JSON can be written directly (json.dumps' layout).
    # Random signatures share no band key (64-bit band hashes), so each band document lists one article.
    band_rows = [(k, f'{{"_id": "{k}", "article_ids": ["{aid}"]}}') for k in band_keys(sig, bands=bands)]
    post = (pid, json.dumps({"_id": pid, "article_id": aid, "method": "new", "similarity": None}))
    return fp, band_rows, post


def _fill_store(server: MongoServer, db_name: str, n: int) -> dict[str, float]:
    """Put ``n`` unrelated articles into database ``db_name``.

    The collections and their indexes are created through the server; then, with the server stopped, the rows
    are bulk-loaded into nx-27017's SQLite file in its own row format (an ``_id`` column and the document as
    JSON) with the indexes dropped and rebuilt once, because inserting 6.4 M band documents over the wire takes
    ~15 minutes on nx-27017. The document counts and one document are read back through the server."""
    probe = RepostIndex(pymongo.MongoClient(server.uri)[db_name])
    probe.ensure_indexes()
    for coll in (probe.fingerprints, probe.band_index, probe.posts):  # creates the tables
        coll.insert_one({"_id": "bench-probe"})
        coll.delete_one({"_id": "bench-probe"})
    num_perm, bands = probe.num_perm, probe.bands
    probe.db.client.close()
    server.stop()
    started = time.perf_counter()
    con = sqlite3.connect(server.data_dir / f"{db_name}.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-262144")
    tables = {"fingerprints": "dedup_fingerprints", "bands": "dedup_bands", "posts": "dedup_posts"}
    indexes = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL AND tbl_name IN (?, ?, ?)",
        tuple(tables.values())).fetchall()
    for name, _ in indexes:
        con.execute(f'DROP INDEX "{name}"')  # rebuilt once after the load: far faster than per row
    con.execute("BEGIN")
    chunk = 5000
    for start in range(0, n, chunk):
        fps, band_rows, posts = [], [], []
        for i in range(start, min(start + chunk, n)):
            f, b, p = _random_rows(i, num_perm, bands)
            fps.append(f)
            band_rows.extend(b)
            posts.append(p)
        for key, rows in (("fingerprints", fps), ("bands", band_rows), ("posts", posts)):
            con.executemany(f"INSERT INTO {tables[key]} (_id, data) VALUES (?, ?)", rows)
    con.execute("COMMIT")
    load = time.perf_counter() - started
    for _, sql in indexes:
        con.execute(sql)
    con.execute("PRAGMA journal_mode=WAL")  # nx-27017's own mode
    con.close()
    indexed = time.perf_counter() - started
    server.start()
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(server.uri)
    try:
        db = client[db_name]
        counts = {k: db[t].estimated_document_count() for k, t in tables.items()}
        expected = {"fingerprints": n, "bands": n * bands, "posts": n}
        if counts != expected:
            raise RuntimeError(f"store {db_name}: counts {counts} != {expected}")
        post = db[tables["posts"]].find_one() or {}
        doc = db[tables["fingerprints"]].find_one({"_id": post.get("article_id")})
        if not doc or len(doc["sig"]) != num_perm:
            raise RuntimeError(f"store {db_name}: fingerprint documents unreadable")
    finally:
        client.close()
    return {"load_s": round(load, 1), "load_and_index_s": round(indexed, 1),
            "total_s": round(time.perf_counter() - started, 1)}


def _query_costs(index: RepostIndex) -> dict[str, float]:
    """Milliseconds of the lookups assign() makes, one at a time, for 32 stored band keys and 5 exact keys:
    the band ``_id $in`` it uses, the same as 32 equality queries, and the exact lookup (fingerprints by
    ``_id``, the article id derived from the exact key)."""
    keys = [d["_id"] for d in index.band_index.find({}, {"_id": 1}).limit(index.bands)]
    exact_ids = [d["_id"] for d in index.fingerprints.find({}, {"_id": 1}).limit(5)]

    def ms(fn: Any) -> float:
        start = time.perf_counter()
        fn()
        return round((time.perf_counter() - start) * 1000, 1)

    return {
        "band_id_in_ms": ms(lambda: list(index.band_index.find({"_id": {"$in": keys}}, {"article_ids": 1}))),
        "band_id_eq_x32_ms": ms(lambda: [list(index.band_index.find({"_id": k}, {"article_ids": 1}))
                                         for k in keys]),
        "exact_id_in_ms": ms(lambda: list(index.fingerprints.find({"_id": {"$in": exact_ids}}, {"exact": 1}))),
    }


def run_scale() -> dict[str, Any]:
    """Per-post cost of RepostIndex.assign for the same new posts against 10,000 and 200,000 stored articles
    (alternating post by post between the two stores, so machine noise hits both alike). Only posts long enough
    to be compared on content are used: short ones never touch the fingerprint or band collections. Timing stops
    after LARGE_BUDGET_S seconds spent on the large store (at least MIN_POSTS posts)."""
    model = SiteModel.generate(77, {"600519": 400, "usBABA": 200}, reposted_articles=8, replies_max=0)
    posts = [(pid, body) for pid, body in crawled_bodies(model, ["600519", "usBABA"])
             if is_long_enough(body, 80)][:NEW_POSTS]
    with workdir("dedup-scale") as tmp, mongo_server(tmp) as server:
        build = {"small": _fill_store(server, "scale_small", SMALL),
                 "large": _fill_store(server, "scale_large", LARGE)}
        client: pymongo.MongoClient[Any] = pymongo.MongoClient(server.uri)
        try:
            small, large = RepostIndex(client.scale_small), RepostIndex(client.scale_large)
            queries = {"small": _query_costs(small), "large": _query_costs(large)}
            t_small: list[float] = []
            t_large: list[float] = []
            methods: Counter[str] = Counter()
            for pid, body in posts:
                s0 = time.perf_counter()
                small.assign(pid, body)
                s1 = time.perf_counter()
                b = large.assign(pid, body)
                s2 = time.perf_counter()
                t_small.append((s1 - s0) * 1000)
                t_large.append((s2 - s1) * 1000)
                methods[b.method] += 1
                if sum(t_large) / 1000 > LARGE_BUDGET_S and len(t_large) >= MIN_POSTS:
                    break
        finally:
            client.close()
    med_s, med_l = statistics.median(t_small), statistics.median(t_large)
    ratio = med_l / med_s if med_s else float("inf")
    return emit(
        "dedup_scale_ratio", round(ratio, 2), "ratio", f"<= {SCALE_TARGET}", ratio <= SCALE_TARGET,
        {"definition": f"median ms per RepostIndex.assign with {LARGE:,} stored articles ÷ the same with "
                       f"{SMALL:,}; the same new posts (long enough to be compared) against both",
         "median_ms_small": round(med_s, 1), "median_ms_large": round(med_l, 1),
         "mean_ms_small": round(statistics.fmean(t_small), 1), "mean_ms_large": round(statistics.fmean(t_large), 1),
         "posts_timed": len(t_large), "methods_large": dict(methods),
         "stored_docs_large": {"fingerprints": LARGE, "bands": LARGE * 32, "posts": LARGE},
         "single_queries": queries, "store_build_s": build,
         "how": "stores are random unrelated articles in RepostIndex's document shape, bulk-loaded into "
                "nx-27017's SQLite files with the server stopped (bench/dedup.py _fill_store); timing stops "
                f"after {LARGE_BUDGET_S}s on the large store"},
    )
