"""MongoDB documents of schema v1: the one place that decides what a stored post, reply or article looks like.

Pure functions (items / documents in, documents out); the README's schema section and the JSON Schemas in
``pipelines/schemas/`` describe the same shapes, and the tests validate stored documents against them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from crawler.items import DeletedPostItem, PostItem, ReplyItem

SCHEMA_VERSION = 1

# Fields whose change alone does not make a post "updated" (counters move all the time).
VOLATILE_POST_FIELDS = frozenset({"counts", "last_activity_at", "last_activity_at_raw", "fetched_at", "updated_at"})


def post_document(item: PostItem, *, now: datetime, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``posts`` document for a normalised post; ``existing`` (the stored one) keeps ``first_seen_at``.

    Which board list led to the post is not stored: a post listed on two boards is fetched once per run, through
    whichever list came first, so recording it would make re-crawls change documents for no reason."""
    return {
        "_id": item.post_id,
        "url": item.url,
        "board": {"code": item.bar_code, "name": item.bar_name},
        "title": item.title,
        "body": item.body or "",
        "body_html": item.body_html,
        "abstract": item.abstract or "",
        "author": item.author,
        "source": item.source,
        "published_at": item.published_at,
        "published_at_raw": item.published_raw,
        "last_activity_at": item.last_activity_at,
        "last_activity_at_raw": item.last_activity_raw,
        "modified_at": item.modified_at,
        "modified_at_raw": item.modified_raw,
        "stocks": list(item.stocks),
        "counts": {
            "reads": item.reads,
            "comments": item.comments,
            "forwards": item.forwards,
            "likes": item.likes,
        },
        "post_type": item.post_type,
        "forward_of": item.forward_of,
        "ip_region": item.ip_region,
        "deleted": False,
        "deleted_reason": None,
        "article_id": item.article_id,
        "fetched_at": item.fetched_at or now,
        "first_seen_at": (existing or {}).get("first_seen_at") or now,
        "updated_at": now,
        "schema_version": SCHEMA_VERSION,
    }


def deleted_post_document(
    item: DeletedPostItem, *, now: datetime, existing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Mark a stored post deleted (its content is kept), or store a stub for a post never seen alive."""
    if existing:
        doc = dict(existing)
        doc.update(deleted=True, deleted_reason=item.reason, fetched_at=item.fetched_at or now, updated_at=now)
        return doc
    return {
        "_id": item.post_id,
        "url": item.url,
        "board": {"code": item.bar_code, "name": None},
        "title": None,
        "body": None,
        "body_html": None,
        "abstract": None,
        "author": None,
        "source": None,
        "published_at": None,
        "published_at_raw": None,
        "last_activity_at": None,
        "last_activity_at_raw": None,
        "modified_at": None,
        "modified_at_raw": None,
        "stocks": [],
        "counts": {"reads": None, "comments": None, "forwards": None, "likes": None},
        "post_type": None,
        "forward_of": None,
        "ip_region": None,
        "deleted": True,
        "deleted_reason": item.reason,
        "article_id": None,
        "fetched_at": item.fetched_at or now,
        "first_seen_at": now,
        "updated_at": now,
        "schema_version": SCHEMA_VERSION,
    }


def reply_document(item: ReplyItem, *, now: datetime, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "_id": item.reply_id,
        "post_id": item.post_id,
        "parent_id": item.parent_id,
        "quoted_reply_id": item.quoted_reply_id,
        "author": item.author,
        "text": item.text if item.text is not None else item.text_raw,
        "text_raw": item.text_raw,
        "published_at": item.published_at,
        "published_at_raw": item.published_raw,
        "likes": item.likes,
        "ip_region": item.ip_region,
        "deleted": item.deleted,
        "fetched_at": item.fetched_at or now,
        "first_seen_at": (existing or {}).get("first_seen_at") or now,
        "updated_at": now,
        "schema_version": SCHEMA_VERSION,
    }


def content_changed(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """True when a stored post differs from ``new`` in more than counters and timestamps."""
    if old is None:
        return True
    return any(
        old.get(k) != v for k, v in new.items() if k not in VOLATILE_POST_FIELDS and k not in ("first_seen_at",)
    )


def _representative(posts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    # The article's own text: prefer a news/caifuhao post (the outlet's copy) over a user's copy, then the
    # earliest, then the lowest post id, so the choice is stable across runs and processes.
    def key(p: dict[str, Any]) -> tuple[int, datetime | str, str]:
        kind = (p.get("source") or {}).get("kind")
        published = p.get("published_at")
        return (0 if kind in ("news", "caifuhao") else 1, published or "9999", p["_id"].zfill(12))

    return min(posts, key=key)


def _ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def article_document(article_id: str, posts: Iterable[dict[str, Any]], *, now: datetime) -> dict[str, Any] | None:
    """The ``articles`` document derived from every stored post carrying ``article_id`` (None when none)."""
    alive = [p for p in posts if p.get("article_id") == article_id]
    if not alive:
        return None
    rep = _representative(alive)
    ordered = sorted(alive, key=lambda p: p["_id"].zfill(12))
    stocks: list[str] = []
    for p in ordered:
        for s in p.get("stocks") or []:
            if s not in stocks:
                stocks.append(s)
    # Milliseconds, as BSON stores them: an article built from posts just written equals one built from the same
    # posts read back.
    published = [_ms(p["published_at"]) for p in alive if isinstance(p.get("published_at"), datetime)]
    return {
        "_id": article_id,
        "title": rep.get("title"),
        "body": rep.get("body"),
        "source": rep.get("source"),
        "published_at": min(published) if published else None,
        "post_ids": [p["_id"] for p in ordered],
        "boards": sorted({(p.get("board") or {}).get("code") for p in alive if p.get("board")} - {None}),
        "stocks": stocks,
        "repost_count": len(alive) - 1,
        "updated_at": now,
        "schema_version": SCHEMA_VERSION,
    }
