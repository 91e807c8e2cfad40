"""The schema-validation stage counts items that break schema v1 (for the monitors) and keeps them."""

from __future__ import annotations

from datetime import UTC, datetime

from scrapy.utils.test import get_crawler

from crawler.items import PostItem
from pipelines.validate_stage import ValidationPipeline


def _post(**kw: object) -> PostItem:
    base = dict(
        post_id="1743987733", url="https://guba.eastmoney.com/news,600519,1743987733.html", bar_code="600519",
        bar_name="贵州茅台", title="标题", body_html="<p>正文</p>", abstract="", author_id="1",
        author_name_raw="股友", author_is_majia=False, author_deactivated=False, author_user_type=0,
        published_raw="2026-07-15 14:03:09", last_activity_raw=None, modified_raw=None, display_raw=None,
        reads=1, comments=0, forwards=0, likes=0, post_type=0, client="股吧网页版", source_id=None,
        media_name=None, header_source_raw=None, footer_source_raw=None, footer_url=None, forward_of=None,
        forward_title=None, forward_content_html=None, forward_author_name=None, ip_region=None,
        author={"id": "1", "name": "股友", "kind": "user", "name_raw": "股友"},
        source={"kind": "user", "outlet": None, "url": None, "client": "股吧网页版"},
        published_at=datetime(2026, 7, 15, 6, 3, 9, tzinfo=UTC), body="正文", stocks=["600519.SH"],
        article_id="p1743987733",
    )
    base.update(kw)
    return PostItem(**base)  # type: ignore[arg-type]


def test_valid_and_invalid_items_are_counted_and_kept():
    crawler = get_crawler()
    stage = ValidationPipeline(crawler.stats)
    good = _post()
    assert stage.process_item(good) is good
    bad = _post(stocks=["600519"], author={"id": "1", "name": "x", "kind": "robot", "name_raw": "x"})
    assert stage.process_item(bad) is bad  # kept: the store decides nothing on a schema slip
    assert crawler.stats.get_value("validation/items") == 2
    assert crawler.stats.get_value("validation/invalid") == 1
    # The first violation is counted by field.
    assert (crawler.stats.get_value("validation/error/stocks/0") or 0) + (
        crawler.stats.get_value("validation/error/author/kind") or 0) == 1


def test_the_fast_and_the_full_validator_read_the_schema_alike():
    from pipelines.documents import post_document
    from pipelines.schema import first_error, iter_errors

    now = datetime(2026, 7, 15, tzinfo=UTC)
    cases = [
        _post(),
        _post(stocks=["600519"]),
        _post(author={"id": None, "name": None, "kind": "nobody", "name_raw": None}),
        _post(post_id="abc"),
        _post(source={"kind": "news", "outlet": "中国新闻网", "url": None}),
    ]
    for item in cases:
        doc = post_document(item, now=now)
        assert (first_error("posts", doc) is None) == (iter_errors("posts", doc) == []), item.post_id


def test_to_json_compatible_converts_dates_at_any_depth_and_keeps_the_rest() -> None:
    from collections import OrderedDict
    from datetime import date

    from pipelines.schema import to_json_compatible

    when = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    doc = {"n": 1, "f": 0.5, "s": "x", "b": False, "z": None, "at": when,
           "nested": [{"d": date(2024, 5, 2), "t": (1, when)}], "od": OrderedDict(at=when)}
    assert to_json_compatible(doc) == {
        "n": 1, "f": 0.5, "s": "x", "b": False, "z": None, "at": "2024-05-01T08:30:00+00:00",
        "nested": [{"d": "2024-05-02", "t": [1, "2024-05-01T08:30:00+00:00"]}], "od": {"at": "2024-05-01T08:30:00+00:00"},
    }


def test_the_fast_check_gives_the_full_verdict_for_every_kind_of_datetime():
    """first_error does not render UTC datetimes (a constant stands in); its verdict must still be the full
    validator's for UTC, other-offset and naive datetimes, and for a string where a date belongs."""
    from datetime import timedelta, timezone

    from pipelines.documents import post_document
    from pipelines.schema import first_error, iter_errors

    now = datetime(2026, 7, 15, tzinfo=UTC)
    for published in (
        datetime(2026, 7, 15, 8, 30, 1, 123456, tzinfo=UTC),
        datetime(2026, 7, 15, 8, 30, tzinfo=timezone(timedelta(hours=8))),
        datetime(2026, 7, 15, 8, 30),  # naive
        None,
    ):
        doc = post_document(_post(), now=now)
        doc["published_at"] = published
        assert (first_error("posts", doc) is None) == (iter_errors("posts", doc) == []), published
    doc = post_document(_post(), now=now)
    doc["published_at"] = "yesterday"
    assert first_error("posts", doc) is not None and iter_errors("posts", doc)
