"""Near-duplicate index in MongoDB: which article does a post carry?

An *article* is a text that one or more posts carry (a news story reposted into many bars, a user's copy
with a comment line on top). "The same article" is defined in :mod:`pipelines.fingerprint`; this module
stores fingerprints and finds matches with a constant number of round trips per batch:

- ``{prefix}posts``         ``{_id: post_id, article_id, method, similarity}`` — the post's assignment, so
  re-assigning a post (a recrawl, a retried batch) returns the same article without recomputing;
- ``{prefix}fingerprints``  ``{_id: article_id, exact: sha1 of the fingerprint text, sig: [ints], post_ids}``
  — one document per article: its first post's fingerprint (the article does not drift as copies join);
- ``{prefix}bands``         ``{_id: band_key, article_ids: [article_id, ...]}`` — LSH band index, one
  document per band key listing the articles that have it.

Every lookup is by ``_id`` (``find({"_id": {"$in": [...]}})``): that is the one lookup that stays cheap
as the store grows on nx-27017 (which turns ``$in`` on any other field into a scan of the collection) as
well as on real MongoDB, so no secondary index is needed. An exact match is found by id because every
article is created by a post with ``article_id = "a" + exact_key[:24]`` of its own fingerprint; the stored
``exact`` is compared to rule out a 96-bit prefix collision.

Writes are inserts of whole documents with their ``_id`` (duplicates, code 11000, are ignored) and, for
band keys already stored (or inserted by another process a moment before), ``$addToSet`` upserts on ``_id``
(the upsert creates the document with the array, so nx-27017 — which ignores ``$addToSet`` on a missing
field — behaves like real MongoDB; checked on nx-27017 1.17.2).
Both are idempotent, so concurrent crawler processes converge: a new article's id derives from its content
(``"a" + exact_key[:24]``), so two processes creating the same article write the same documents. No
datetimes are stored (nx-27017 stringifies them in ``$set``/``$min``).

Migration: until this layout the bands collection held one document per (band key, article)
(``{_id: "{band_key}|{article_id}", band, article_id}``) and was looked up by an index on ``band``; those
documents are not read any more. An old index is rebuilt by dropping the three collections and re-running
dedup over the stored posts (there were no users of the old layout, so there is no migration code).

Two processes that see two *near* (not exact) copies of a new article at the same instant can still create
two articles; later copies then join one of them. Short posts (fingerprint shorter than ``min_chars``)
are never merged on content alone: each is its own article ``"p" + post_id`` and nothing is stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from pipelines.fingerprint import (
    band_keys,
    estimated_jaccard,
    fingerprint_text,
    key_of_fingerprint,
    signature_of_fingerprint,
)
from pipelines.mongo_conn import duplicate_key_indexes, insert_new

METHODS: Final = ("short", "exact", "near", "new")


@dataclass(frozen=True)
class Assignment:
    """The article a post belongs to.

    method: ``short`` (too short to compare; ``article_id = "p" + post_id``), ``exact`` (same
    fingerprint as an existing article), ``near`` (estimated Jaccard ≥ threshold with an existing article;
    ``similarity`` says how close), ``new`` (this post starts an article). ``is_new_article`` is true when
    this post is the one that started its article (``new``, and every ``short`` post, which is its own
    article). Assigning a post again returns an equal Assignment.
    """

    article_id: str
    is_new_article: bool
    method: str
    similarity: float | None


@dataclass
class _Pending:
    index: int
    post_id: str
    fp: str
    exact: str
    sig: list[int] | None = None
    keys: list[str] | None = None


def _inserted_before(coll: Collection[Any], docs: list[dict[str, Any]]) -> set[int]:
    """Insert all docs (unordered); the indexes of those that already existed. Other errors raise."""
    return set(insert_new(coll, docs))


def _add_to_sets(coll: Collection[Any], additions: dict[str, list[str]]) -> None:
    """For each ``_id -> values``, add the values to the document's ``article_ids`` array, creating the
    document (with the array) if it is missing; one unordered bulk write. A duplicate-key error from two
    processes upserting the same new ``_id`` at once (real MongoDB may report it instead of retrying) is
    retried once, when the document exists and the update matches it. Other errors raise."""
    ops = [
        UpdateOne({"_id": key}, {"$addToSet": {"article_ids": {"$each": values}}}, upsert=True)
        for key, values in additions.items()
    ]
    for attempt in range(2):
        if not ops:
            return
        try:
            coll.bulk_write(ops, ordered=False)
            return
        except BulkWriteError as exc:
            raced = duplicate_key_indexes(exc)
            if attempt:
                raise
            ops = [ops[i] for i in raced]


def _article_id(exact: str) -> str:
    """The id of the article a post with fingerprint key ``exact`` creates."""
    return "a" + exact[:24]


class RepostIndex:
    """Assign posts to articles, remembering fingerprints in MongoDB (see the module docstring).

    ``threshold``: minimum estimated Jaccard for a ``near`` match. ``min_chars``: minimum fingerprint length
    for content matching. ``num_perm`` / ``bands``: MinHash size and LSH bands (see
    :func:`pipelines.fingerprint.band_keys` for the S-curve). ``max_candidates``: per post, at most this many
    LSH candidates (those sharing the most bands) are verified.
    """

    def __init__(
        self,
        db: Database[Any],
        *,
        threshold: float = 0.8,
        min_chars: int = 80,
        num_perm: int = 128,
        bands: int = 32,
        prefix: str = "dedup_",
        max_candidates: int = 50,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if not 1 <= bands <= num_perm:
            raise ValueError(f"bands must be in 1..num_perm ({num_perm}), got {bands}")
        self.db = db
        self.threshold = threshold
        self.min_chars = min_chars
        self.num_perm = num_perm
        self.bands = bands
        self.max_candidates = max_candidates
        self.posts: Collection[Any] = db[f"{prefix}posts"]
        self.fingerprints: Collection[Any] = db[f"{prefix}fingerprints"]
        self.band_index: Collection[Any] = db[f"{prefix}bands"]

    def ensure_indexes(self) -> None:
        """Prepare the collections for lookups (idempotent). Every lookup is by ``_id``, which is always
        indexed, so there is nothing to create; kept so callers need not know the layout."""

    def assign(self, post_id: str, body: str) -> Assignment:
        """The article of one post; ``body`` is its clean text (see :func:`pipelines.normalize.clean_body`)."""
        return self.assign_many([(post_id, body)])[0]

    def assign_many(self, items: Sequence[tuple[str, str]]) -> list[Assignment]:
        """Assignments for ``(post_id, body)`` pairs, in input order.

        Posts in the batch that copy each other join one article, exactly as if assigned one by one. A post
        id assigned before (in this batch or any earlier call, by any process) gets its stored assignment
        back unchanged, even if its body has changed since (article ids stay stable). Round trips per batch,
        whatever the collection size: one posts lookup, one exact lookup, one band lookup, one signature
        fetch (all by ``_id``), one band insert, one band bulk upsert and two bulk inserts. Signatures are computed only for posts without an exact match.
        """
        results: list[Assignment | None] = [None] * len(items)
        known = self._known_posts({post_id for post_id, _ in items})
        first_seen: dict[str, int] = {}
        pending: list[_Pending] = []
        for i, (post_id, body) in enumerate(items):
            if post_id in known:
                results[i] = known[post_id]
                continue
            if post_id in first_seen:  # resolved after the batch
                continue
            first_seen[post_id] = i
            fp = fingerprint_text(body)
            if len(fp) < self.min_chars:
                results[i] = Assignment("p" + post_id, True, "short", None)
            else:
                pending.append(_Pending(i, post_id, fp, key_of_fingerprint(fp)))

        if pending:
            self._resolve(pending, results)

        for i, (post_id, _) in enumerate(items):
            if results[i] is None:
                results[i] = results[first_seen[post_id]]
        return [r for r in results if r is not None]

    # -- internals ---------------------------------------------------------------------------------------

    def _known_posts(self, post_ids: Iterable[str]) -> dict[str, Assignment]:
        ids = list(post_ids)
        if not ids:
            return {}
        return {
            doc["_id"]: Assignment(
                doc["article_id"], doc.get("method") == "new", doc.get("method", "exact"), doc.get("similarity")
            )
            for doc in self.posts.find({"_id": {"$in": ids}})
        }

    def _resolve(self, pending: list[_Pending], results: list[Assignment | None]) -> None:
        db_exact: dict[str, str] = {}
        ids = sorted({_article_id(p.exact) for p in pending})
        for doc in self.fingerprints.find({"_id": {"$in": ids}}, {"exact": 1}):
            exact = doc.get("exact")
            # A different exact key under the same id is a 96-bit prefix collision: not a match (creating
            # the article below then finds the id taken and reports a join, as two racing processes would).
            if isinstance(exact, str) and doc["_id"] == _article_id(exact):
                db_exact[exact] = doc["_id"]

        to_match = [p for p in pending if p.exact not in db_exact]
        for p in to_match:
            p.sig = signature_of_fingerprint(p.fp, num_perm=self.num_perm)
            p.keys = band_keys(p.sig, bands=self.bands)
        db_candidates, db_sigs, stored_keys = self._db_candidates(to_match)

        new_fps: list[dict[str, Any]] = []
        new_bands: dict[str, list[str]] = {}
        batch_exact: dict[str, str] = {}
        batch_bands: dict[str, list[str]] = {}
        batch_sigs: dict[str, list[int]] = {}
        for p in pending:
            if p.exact in db_exact:
                results[p.index] = Assignment(db_exact[p.exact], False, "exact", 1.0)
                continue
            if p.exact in batch_exact:
                results[p.index] = Assignment(batch_exact[p.exact], False, "exact", 1.0)
                continue
            assert p.sig is not None and p.keys is not None
            best = self._best_match(p, db_candidates.get(p.index, []), db_sigs, batch_bands, batch_sigs)
            if best is not None:
                results[p.index] = Assignment(best[0], False, "near", best[1])
                continue
            article_id = _article_id(p.exact)
            results[p.index] = Assignment(article_id, True, "new", None)
            batch_exact[p.exact] = article_id
            batch_sigs[article_id] = p.sig
            for key in p.keys:
                batch_bands.setdefault(key, []).append(article_id)
            new_fps.append({"_id": article_id, "exact": p.exact, "sig": p.sig, "post_ids": [p.post_id]})
            for key in p.keys:
                new_bands.setdefault(key, []).append(article_id)

        self._write(pending, results, new_fps, new_bands, stored_keys)

    def _db_candidates(
        self, to_match: list[_Pending]
    ) -> tuple[dict[int, list[str]], dict[str, list[int]], set[str]]:
        """Per pending index, the stored articles sharing the most bands (≤ max_candidates), their sigs, and
        which of the batch's band keys are stored already."""
        all_keys = sorted({k for p in to_match for k in (p.keys or [])})
        if not all_keys:
            return {}, {}, set()
        by_band: dict[str, list[str]] = {}
        stored_keys: set[str] = set()
        # The cap bounds the counting cost of a band that very many articles share (template posts); the
        # oldest ids are kept so every process sees the same candidates.
        per_band = self.max_candidates * self.bands
        for doc in self.band_index.find({"_id": {"$in": all_keys}}, {"article_ids": 1}):
            stored_keys.add(doc["_id"])
            ids = doc.get("article_ids")
            if isinstance(ids, list):
                by_band[doc["_id"]] = [a for a in ids[:per_band] if isinstance(a, str)]
        candidates: dict[int, list[str]] = {}
        for p in to_match:
            counts: Counter[str] = Counter(a for k in (p.keys or []) for a in by_band.get(k, ()))
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: self.max_candidates]
            if ranked:
                candidates[p.index] = [a for a, _ in ranked]
        wanted = sorted({a for ids in candidates.values() for a in ids})
        sigs: dict[str, list[int]] = {}
        if wanted:
            for doc in self.fingerprints.find({"_id": {"$in": wanted}}, {"sig": 1}):
                sig = doc.get("sig")
                if isinstance(sig, list) and len(sig) == self.num_perm:
                    sigs[doc["_id"]] = [int(v) for v in sig]
        return candidates, sigs, stored_keys

    def _best_match(
        self,
        p: _Pending,
        db_ids: list[str],
        db_sigs: dict[str, list[int]],
        batch_bands: dict[str, list[str]],
        batch_sigs: dict[str, list[int]],
    ) -> tuple[str, float] | None:
        assert p.sig is not None and p.keys is not None
        candidates: dict[str, list[int]] = {a: db_sigs[a] for a in db_ids if a in db_sigs}
        for key in p.keys:
            for a in batch_bands.get(key, ()):
                candidates[a] = batch_sigs[a]
        best: tuple[str, float] | None = None
        for article_id, sig in candidates.items():
            sim = estimated_jaccard(p.sig, sig)
            # Ties go to the smaller id so every process picks the same article.
            if sim < self.threshold:
                continue
            if best is None or sim > best[1] or (sim == best[1] and article_id < best[0]):
                best = (article_id, sim)
        return best

    def _write(
        self,
        pending: list[_Pending],
        results: list[Assignment | None],
        new_fps: list[dict[str, Any]],
        new_bands: dict[str, list[str]],
        stored_keys: set[str],
    ) -> None:
        # Bands first, then the fingerprint, then the post: a crash in between leaves band entries without
        # an article (ignored when fetched) or an article that the next assignment finds by exact key.
        # Most band keys are new: those are inserted (cheaper than upserts); a key another process inserted
        # meanwhile, and every key stored before, gets the ids added to its set.
        fresh = [k for k in new_bands if k not in stored_keys]
        raced_bands = _inserted_before(
            self.band_index, [{"_id": k, "article_ids": new_bands[k]} for k in fresh]
        )
        fresh_set = {k for i, k in enumerate(fresh) if i not in raced_bands}
        _add_to_sets(self.band_index, {k: v for k, v in new_bands.items() if k not in fresh_set})
        existed = _inserted_before(self.fingerprints, new_fps)
        if existed:  # another process created the same article first: we joined it rather than made it
            taken = {new_fps[i]["_id"] for i in existed}
            for p in pending:
                r = results[p.index]
                if r is not None and r.method == "new" and r.article_id in taken:
                    results[p.index] = Assignment(r.article_id, False, "exact", 1.0)

        post_docs: list[dict[str, Any]] = []
        for p in pending:
            r = results[p.index]
            assert r is not None
            post_docs.append(
                {"_id": p.post_id, "article_id": r.article_id, "method": r.method, "similarity": r.similarity}
            )
        raced = _inserted_before(self.posts, post_docs)
        if raced:  # another process assigned the same post meanwhile: its answer is the stored one
            stored = self._known_posts(post_docs[i]["_id"] for i in raced)
            for i in raced:
                p = pending[i]
                if p.post_id in stored:
                    results[p.index] = stored[p.post_id]
