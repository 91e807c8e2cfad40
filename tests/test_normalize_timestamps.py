from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.normalize import SHANGHAI, TimestampError, normalize_timestamp

# 2026-07-15 17:41:49 in Beijing (the server time of the real 600519 list page).
NOW = datetime(2026, 7, 15, 17, 41, 49, tzinfo=SHANGHAI)
# 2026-01-01 00:30 in Beijing (= 2025-12-31 16:30 UTC): year-less dates around New Year.
NEW_YEAR = datetime(2025, 12, 31, 16, 30, tzinfo=UTC)


def bj(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A Beijing wall-clock time as the UTC datetime the rule must return."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.mark.parametrize(
    ("raw", "now", "expected"),
    [
        ("2026-07-15 14:03:09", NOW, bj(2026, 7, 15, 14, 3, 9)),  # real post_publish_time
        ("2023-06-29 09:33:52", NOW, bj(2023, 6, 29, 9, 33, 52)),  # real WAP row
        ("2026-07-15 14:03", NOW, bj(2026, 7, 15, 14, 3)),
        ("2026/07/15 14:03:09", NOW, bj(2026, 7, 15, 14, 3, 9)),
        ("2026/7/5 08:00", NOW, bj(2026, 7, 5, 8, 0)),
        ("2026-07-15", NOW, bj(2026, 7, 15, 0, 0)),
        ("2026年7月15日 14:03", NOW, bj(2026, 7, 15, 14, 3)),
        ("  2026-07-15   14:03:09\u3000", NOW, bj(2026, 7, 15, 14, 3, 9)),
        # real list "time" with 7 fractional digits
        ("2026-07-15T17:41:49.8827696+08:00", NOW, datetime(2026, 7, 15, 9, 41, 49, 882769, tzinfo=UTC)),
        ("2023-06-29T10:53:05.20228+08:00", NOW, datetime(2023, 6, 29, 2, 53, 5, 202280, tzinfo=UTC)),
        ("2026-07-15T09:41:49Z", NOW, datetime(2026, 7, 15, 9, 41, 49, tzinfo=UTC)),
        ("2026-07-15T17:41:49-0500", NOW, datetime(2026, 7, 15, 22, 41, 49, tzinfo=UTC)),
        ("07-15 14:40", NOW, bj(2026, 7, 15, 14, 40)),  # list DOM 最后更新
        ("07-16 09:00", NOW, bj(2026, 7, 16, 9, 0)),  # within a day of now: this year
        ("07-17 09:00", NOW, bj(2025, 7, 17, 9, 0)),  # more than a day ahead: last year
        ("12-31 23:59", NEW_YEAR, bj(2025, 12, 31, 23, 59)),
        ("01-01 00:10", NEW_YEAR, bj(2026, 1, 1, 0, 10)),
        ("02-29 10:00", datetime(2025, 3, 1, tzinfo=SHANGHAI), bj(2024, 2, 29, 10, 0)),  # 2025 has no Feb 29
        ("14:40", NOW, bj(2026, 7, 15, 14, 40)),
        ("17:41", NOW, bj(2026, 7, 15, 17, 41)),
        ("17:42", NOW, bj(2026, 7, 14, 17, 42)),  # later than now: yesterday
        ("23:59", NEW_YEAR, bj(2025, 12, 31, 23, 59)),
        ("今天 09:15", NOW, bj(2026, 7, 15, 9, 15)),
        ("今天09:15", NOW, bj(2026, 7, 15, 9, 15)),
        ("昨天 23:10", NOW, bj(2026, 7, 14, 23, 10)),
        ("昨天 23:10", NEW_YEAR, bj(2025, 12, 31, 23, 10)),
        ("前天 08:00", NOW, bj(2026, 7, 13, 8, 0)),
        ("刚刚", NOW, NOW.astimezone(UTC)),
        ("30秒前", NOW, bj(2026, 7, 15, 17, 41, 19)),
        ("5分钟前", NOW, bj(2026, 7, 15, 17, 36, 49)),
        ("3小时前", NOW, bj(2026, 7, 15, 14, 41, 49)),
        ("2天前", NOW, bj(2026, 7, 13, 17, 41, 49)),
    ],
)
def test_normalize_timestamp(raw: str, now: datetime, expected: datetime) -> None:
    result = normalize_timestamp(raw, now=now)
    assert result == expected
    assert result is not None and result.tzinfo is UTC


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_is_none(raw: str | None) -> None:
    assert normalize_timestamp(raw, now=NOW) is None


@pytest.mark.parametrize(
    "raw", ["yesterday", "2026-13-01 10:00", "2026-02-30 10:00", "25:61", "07-15", "昨天", "N分钟前", "2026-07-15 24:00",
            "02-29 10:00", "0001-01-01 00:00", "9999-12-31T23:59:59-10:00", "99999999999999999999秒前"]  # neither 2026 nor 2025 has a Feb 29
)
def test_unparseable_raises_with_raw(raw: str) -> None:
    with pytest.raises(TimestampError) as info:
        normalize_timestamp(raw, now=NOW)
    assert info.value.raw == raw
    assert raw in str(info.value)
    assert isinstance(info.value, ValueError)


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        normalize_timestamp("2026-07-15 14:03:09", now=datetime(2026, 7, 15, 17, 0))


def test_now_in_any_zone_means_the_same_instant() -> None:
    utc_now = NOW.astimezone(UTC)
    assert normalize_timestamp("昨天 10:00", now=utc_now) == normalize_timestamp("昨天 10:00", now=NOW)
    # 01:00 UTC on 2026-07-15 is already 09:00 in Beijing: "今天" is the Beijing day.
    early = datetime(2026, 7, 15, 1, 0, tzinfo=UTC)
    assert normalize_timestamp("今天 08:30", now=early) == bj(2026, 7, 15, 8, 30)


def test_other_local_zone() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert normalize_timestamp("2026-07-15 14:00", now=NOW, tz=tokyo) == datetime(2026, 7, 15, 5, 0, tzinfo=UTC)


@given(st.text(alphabet=st.sampled_from(list("0123456789-/: T.+Z年月日今天昨前刚秒分钟小时")), max_size=30))
@settings(max_examples=500, deadline=None)
def test_any_string_gives_utc_none_or_timestamp_error(raw: str) -> None:
    try:
        result = normalize_timestamp(raw, now=NOW)
    except TimestampError as exc:
        assert exc.raw == raw
    else:
        assert result is None or result.tzinfo is UTC
