from __future__ import annotations

from pathlib import Path
from typing import Any

import pymongo
import pytest
from pymongo import monitoring
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from pipelines.fingerprint import band_keys, exact_key
from pipelines.normalize import clean_body
from pipelines.repost_index import Assignment, RepostIndex
from tests.services import MongoServer

FIXTURES = Path(__file__).parent / "fixtures" / "normalize"
RAW_HTML = (FIXTURES / "news_post_content_600519.html").read_text(encoding="utf-8")
ARTICLE = "\n".join(clean_body(RAW_HTML).split("\n")[:-1])  # the real 资讯 body, ~1,900 characters
PARAGRAPHS = ARTICLE.split("\n")
# Three bars carry the same news; a user pastes it with a comment line on top.
REPOST_BAR_A = ARTICLE
REPOST_BAR_B = "来源：中国新闻网\n" + ARTICLE + "\n（文章来源：中国新闻网）\n[点击查看原文]"
REPOST_BAR_C = "K图 600519_0\n" + ARTICLE.replace("，", ",").replace("。", ".")
USER_COPY = "茅台这次会议说得很清楚了，大家自己看吧！\n" + ARTICLE
OTHER_NEWS = "\n".join(PARAGRAPHS[:3])
UNRELATED = "\n".join(PARAGRAPHS[6:9])


@pytest.fixture
def index(mongo_db: Database[Any]) -> RepostIndex:
    idx = RepostIndex(mongo_db)
    idx.ensure_indexes()
    return idx


def test_reposts_and_a_user_copy_become_one_article(index: RepostIndex) -> None:
    first = index.assign("1743987733", REPOST_BAR_A)
    assert first == Assignment("a" + exact_key(ARTICLE)[:24], True, "new", None)
    second = index.assign("1743987734", REPOST_BAR_B)
    third = index.assign("1743987735", REPOST_BAR_C)
    user = index.assign("1743999999", USER_COPY)
    assert {a.article_id for a in (first, second, third, user)} == {first.article_id}
    assert (second.method, second.is_new_article, second.similarity) == ("exact", False, 1.0)
    assert (third.method, third.is_new_article) == ("exact", False)  # punctuation and K图 text do not count
    assert user.method == "near" and not user.is_new_article
    assert user.similarity is not None and 0.8 <= user.similarity < 1.0
    assert index.fingerprints.count_documents({}) == 1


def test_stored_documents(index: RepostIndex, mongo_db: Database[Any]) -> None:
    a = index.assign("1", REPOST_BAR_A)
    fp = mongo_db["dedup_fingerprints"].find_one({"_id": a.article_id})
    assert fp is not None
    assert fp["exact"] == exact_key(ARTICLE) and len(fp["sig"]) == 128 and fp["post_ids"] == ["1"]
    bands = list(mongo_db["dedup_bands"].find())
    assert len(bands) == 32
    assert {doc["_id"] for doc in bands} == set(band_keys(fp["sig"], bands=32))
    assert all(doc["article_ids"] == [a.article_id] for doc in bands)
    post = mongo_db["dedup_posts"].find_one({"_id": "1"})
    assert post is not None and post["article_id"] == a.article_id and post["method"] == "new"


def test_unrelated_posts_are_different_articles(index: RepostIndex) -> None:
    a = index.assign("1", OTHER_NEWS)
    b = index.assign("2", UNRELATED)
    assert a.method == b.method == "new"
    assert a.article_id != b.article_id


def test_one_liners_are_never_merged(index: RepostIndex) -> None:
    a = index.assign("100", "涨停！")
    b = index.assign("200", "涨停！")
    assert a == Assignment("p100", True, "short", None)
    assert b == Assignment("p200", True, "short", None)
    assert index.fingerprints.count_documents({}) == 0


def test_reassigning_is_idempotent(index: RepostIndex) -> None:
    first = [index.assign("1", REPOST_BAR_A), index.assign("2", USER_COPY), index.assign("3", "涨停！")]
    again = [index.assign("1", REPOST_BAR_A), index.assign("2", USER_COPY), index.assign("3", "涨停！")]
    assert again == first
    assert index.fingerprints.count_documents({}) == 1
    assert index.band_index.count_documents({}) == 32
    assert index.posts.count_documents({}) == 2


def test_an_edited_post_keeps_its_article(index: RepostIndex) -> None:
    first = index.assign("1", REPOST_BAR_A)
    assert index.assign("1", OTHER_NEWS).article_id == first.article_id


def test_another_process_sees_the_first_ones_articles(mongo_server: MongoServer, mongo_db: Database[Any],
                                                      index: RepostIndex) -> None:
    first = index.assign("1", REPOST_BAR_A)
    other_client: pymongo.MongoClient[Any] = pymongo.MongoClient(mongo_server.uri, serverSelectionTimeoutMS=5000)
    try:
        other = RepostIndex(other_client[mongo_db.name])
        other.ensure_indexes()
        assert other.assign("2", REPOST_BAR_B) == Assignment(first.article_id, False, "exact", 1.0)
        near = other.assign("3", USER_COPY)
        assert near.article_id == first.article_id and near.method == "near"
        assert other.assign("1", REPOST_BAR_A) == first
    finally:
        other_client.close()


class StaleReads:
    """A collection whose first ``stale_calls`` find()s answer as if another process's writes had not
    landed yet."""

    def __init__(self, coll: Any, stale_calls: int = 1) -> None:
        self.coll = coll
        self.stale_calls = stale_calls

    def find(self, *args: Any, **kwargs: Any) -> Any:
        if self.stale_calls > 0:
            self.stale_calls -= 1
            return self.coll.find({"_id": {"$in": []}})
        return self.coll.find(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.coll, name)


def test_racing_creation_of_the_same_article_is_reported_as_a_join(mongo_db: Database[Any]) -> None:
    winner, loser = RepostIndex(mongo_db), RepostIndex(mongo_db)
    created = winner.assign("1", REPOST_BAR_A)
    loser.fingerprints = StaleReads(loser.fingerprints, stale_calls=9)  # type: ignore[assignment]
    loser.band_index = StaleReads(loser.band_index, stale_calls=9)  # type: ignore[assignment]
    joined = loser.assign("2", REPOST_BAR_B)
    assert joined == Assignment(created.article_id, False, "exact", 1.0)
    assert mongo_db["dedup_fingerprints"].count_documents({}) == 1
    assert mongo_db["dedup_posts"].find_one({"_id": "2"})["method"] == "exact"  # type: ignore[index]


def test_racing_assignment_of_the_same_post_returns_the_stored_answer(mongo_db: Database[Any]) -> None:
    first, second = RepostIndex(mongo_db), RepostIndex(mongo_db)
    stored = first.assign("1", REPOST_BAR_A)
    second.posts = StaleReads(second.posts)  # type: ignore[assignment]
    # The second process saw no assignment for post 1 and computed one for an edited body; the stored
    # one (inserted first) wins.
    assert second.assign("1", OTHER_NEWS) == stored


def test_two_processes_creating_the_same_article_converge(mongo_db: Database[Any]) -> None:
    one, two = RepostIndex(mongo_db), RepostIndex(mongo_db)
    a = one.assign("1", REPOST_BAR_A)
    b = two.assign("2", REPOST_BAR_B)  # same exact text: the content-derived id is the same
    assert a.article_id == b.article_id


def test_assign_many_merges_reposts_inside_one_batch(index: RepostIndex) -> None:
    results = index.assign_many([
        ("1", REPOST_BAR_A),
        ("2", "涨停！"),
        ("3", USER_COPY),
        ("4", REPOST_BAR_B),
        ("5", UNRELATED),
        ("1", REPOST_BAR_A),  # the same post twice in one batch
    ])
    assert [r.method for r in results] == ["new", "short", "near", "exact", "new", "new"]
    assert results[0].article_id == results[2].article_id == results[3].article_id == results[5].article_id
    assert results[4].article_id not in {results[0].article_id, results[1].article_id}
    assert results[5] == results[0]
    # one by one gives the same answers, from a fresh view of the same data
    assert [index.assign(pid, body) for pid, body in [("1", REPOST_BAR_A), ("3", USER_COPY), ("5", UNRELATED)]] == [
        results[0], results[2], results[4]
    ]
    assert index.fingerprints.count_documents({}) == 2


def test_assign_many_with_existing_articles(index: RepostIndex) -> None:
    old = index.assign("1", REPOST_BAR_A)
    results = index.assign_many([("2", USER_COPY), ("3", REPOST_BAR_C), ("4", OTHER_NEWS)])
    assert [r.article_id == old.article_id for r in results] == [True, True, False]
    assert index.assign_many([]) == []


def test_best_candidate_wins(mongo_db: Database[Any]) -> None:
    # A strict index (only exact copies merge) stores two articles that are near each other ...
    strict = RepostIndex(mongo_db, threshold=1.0)
    whole = strict.assign("1", ARTICLE)
    most = strict.assign("2", "\n".join(PARAGRAPHS[:11]))
    assert whole.method == most.method == "new"
    # ... and a copy of either one, near both, joins the one it was taken from.
    index = RepostIndex(mongo_db)
    copy_of_whole = index.assign("3", "好文\n" + ARTICLE)
    copy_of_most = index.assign("4", "好文\n" + "\n".join(PARAGRAPHS[:11]))
    assert (copy_of_whole.method, copy_of_whole.article_id) == ("near", whole.article_id)
    assert (copy_of_most.method, copy_of_most.article_id) == ("near", most.article_id)


def test_threshold_and_min_chars_are_configurable(mongo_db: Database[Any]) -> None:
    strict = RepostIndex(mongo_db, threshold=1.0, min_chars=5, prefix="strict_")
    strict.ensure_indexes()
    assert strict.assign("1", ARTICLE).method == "new"
    assert strict.assign("2", USER_COPY).method == "new"  # 0.97 is not enough any more
    assert strict.assign("3", "涨停了，涨停了").method == "new"  # long enough at 5
    assert mongo_db["strict_fingerprints"].count_documents({}) == 3
    assert mongo_db["dedup_fingerprints"].count_documents({}) == 0


@pytest.mark.parametrize("kwargs", [{"threshold": 0.0}, {"threshold": 1.5}, {"bands": 0}, {"bands": 200}])
def test_bad_options_are_rejected(mongo_db: Database[Any], kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RepostIndex(mongo_db, **kwargs)


def test_articles_sharing_a_band_are_listed_in_one_band_document(mongo_db: Database[Any]) -> None:
    strict = RepostIndex(mongo_db, threshold=1.0)  # near copies stay separate articles, sharing bands
    whole = strict.assign("1", ARTICLE)
    copy = strict.assign("2", USER_COPY)
    assert whole.method == copy.method == "new"
    docs = {d["_id"]: d["article_ids"] for d in mongo_db["dedup_bands"].find()}
    shared = [ids for ids in docs.values() if len(ids) > 1]
    assert shared and all(ids == [whole.article_id, copy.article_id] for ids in shared)
    strict.assign_many([("1", ARTICLE), ("2", USER_COPY)])  # idempotent: nothing is added twice
    assert {d["_id"]: d["article_ids"] for d in mongo_db["dedup_bands"].find()} == docs


class Commands(monitoring.CommandListener):
    """Records the commands a client sends (name and body)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def test_every_lookup_is_by_id_and_round_trips_do_not_grow_with_the_batch(
    mongo_server: MongoServer, mongo_db: Database[Any]
) -> None:
    listener = Commands()
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(
        mongo_server.uri, serverSelectionTimeoutMS=5000, event_listeners=[listener]
    )
    try:
        index = RepostIndex(client[mongo_db.name])
        index.ensure_indexes()
        index.assign("1", REPOST_BAR_A)
        listener.sent.clear()
        index.assign_many([("2", USER_COPY)])
        one = [name for name, _ in listener.sent]
        listener.sent.clear()
        batch = [(str(10 + i), "\n".join(PARAGRAPHS[i : i + 4])) for i in range(8)]
        index.assign_many([("3", REPOST_BAR_B), ("4", USER_COPY + "\n好"), *batch])
        many = [name for name, _ in listener.sent]
        finds = [body for name, body in listener.sent if name == "find"]
    finally:
        client.close()
    assert len(many) <= len(one) + 3  # the extra lookups/writes a batch with new articles needs, not per post
    # posts, exact, band and signature lookups; band insert (new keys) and band upsert (stored keys); article and
    # post inserts
    assert len(many) <= 8
    assert finds and all(set(body["filter"]) == {"_id"} for body in finds)


def test_band_keys_another_process_inserted_meanwhile_get_our_article_too(index: RepostIndex) -> None:
    class OtherProcessFirst:
        """Another process inserts the same new band keys just before us, then our upsert of them races once
        more (real MongoDB may answer a racing upsert with a duplicate-key error)."""

        def __init__(self, coll: Any) -> None:
            self.coll = coll
            self.calls = 0

        def insert_many(self, docs: list[dict[str, Any]], ordered: bool = True) -> Any:
            self.coll.insert_many([{"_id": d["_id"], "article_ids": ["aother"]} for d in docs])
            return self.coll.insert_many(docs, ordered=ordered)

        def bulk_write(self, ops: list[Any], ordered: bool = True) -> Any:
            self.calls += 1
            if self.calls == 1:
                self.coll.bulk_write(ops, ordered=ordered)
                raise BulkWriteError({"writeErrors": [{"index": 0, "code": 11000, "errmsg": "E11000"}]})
            return self.coll.bulk_write(ops, ordered=ordered)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.coll, name)

    racing = OtherProcessFirst(index.band_index)
    index.band_index = racing  # type: ignore[assignment]
    a = index.assign("1", REPOST_BAR_A)
    assert racing.calls == 2
    assert a.method == "new" and racing.coll.count_documents({"article_ids": a.article_id}) == 32
    assert racing.coll.count_documents({"article_ids": "aother"}) == 32


def test_new_band_keys_are_inserted_and_stored_ones_extended(index: RepostIndex) -> None:
    from pipelines.fingerprint import fingerprint_text, signature_of_fingerprint

    def keys(text: str) -> set[str]:
        return set(band_keys(signature_of_fingerprint(fingerprint_text(text))))

    second_text = "\n".join(PARAGRAPHS[8:12])  # another text: a few bands shared by chance (4-row bands)
    shared = keys(REPOST_BAR_A) & keys(second_text)
    assert shared, "the fixture texts must share a band for this test to mean anything"
    a = index.assign("1", REPOST_BAR_A)
    assert index.band_index.count_documents({"article_ids": [a.article_id]}) == 32
    b = index.assign("2", second_text)
    assert b.method == "new" and b.article_id != a.article_id
    assert index.band_index.count_documents({}) == len(keys(REPOST_BAR_A) | keys(second_text))
    for key in shared:
        assert index.band_index.find_one({"_id": key})["article_ids"] == [a.article_id, b.article_id]
