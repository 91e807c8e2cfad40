"""Guba time strings -> timezone-aware UTC datetimes.

Every Guba time is Beijing wall-clock (Asia/Shanghai). Relative and year-less forms ("昨天 10:00",
"07-15 14:40", "3分钟前") are resolved against a clock the caller passes in; the rule never reads the clock.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")


class TimestampError(ValueError):
    """A time string matches none of the known formats (or names an impossible date). ``raw`` keeps it."""

    def __init__(self, raw: str, reason: str = "unrecognised time format") -> None:
        super().__init__(f"{reason}: {raw!r}")
        self.raw = raw


_SEP = r"[-/.]"
_FULL_RE: Final = re.compile(
    rf"^(?P<y>\d{{4}}){_SEP}(?P<mo>\d{{1,2}}){_SEP}(?P<d>\d{{1,2}})"
    r"(?:[ T]+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d+))?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)
_CN_DATE_RE: Final = re.compile(
    r"^(?P<y>\d{4})年(?P<mo>\d{1,2})月(?P<d>\d{1,2})日"
    r"(?:\s*(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?)?$"
)
_MONTH_DAY_RE: Final = re.compile(
    r"^(?P<mo>\d{1,2})(?:[-/.]|月)(?P<d>\d{1,2})日?\s*(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?$"
)
_CLOCK_RE: Final = re.compile(r"^(?:(?P<day>今天|昨天|前天)\s*)?(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?$")
_AGO_RE: Final = re.compile(r"^(?P<n>\d+)\s*(?P<unit>秒|分钟|分|小时|天)前$")
_AGO_UNITS: Final = {"秒": "seconds", "分钟": "minutes", "分": "minutes", "小时": "hours", "天": "days"}
_DAY_OFFSETS: Final = {None: 0, "今天": 0, "昨天": 1, "前天": 2}


def _local(tz: tzinfo, d: date, h: int, mi: int, s: int, micro: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, h, mi, s, micro, tzinfo=tz)


def _offset(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def normalize_timestamp(raw: str | None, *, now: datetime, tz: tzinfo = SHANGHAI) -> datetime | None:
    """Parse a Guba time string into an aware UTC datetime (``tzinfo=timezone.utc``).

    ``now`` must be timezone-aware (naive → ``ValueError``); it anchors relative and year-less forms, which
    are read in ``tz`` (Beijing by default). None or blank → None. Accepted forms:

    - ``YYYY-MM-DD HH:MM:SS``, ``YYYY-MM-DD HH:MM``, ``YYYY-MM-DD``, the same with ``/`` or ``.``, and
      ``YYYY年M月D日 [HH:MM]``;
    - ISO 8601 with an offset or ``Z``, any number of fractional digits
      (``2026-07-15T17:41:49.8827696+08:00``; digits past microseconds are truncated);
    - ``MM-DD HH:MM`` (year of ``now`` in ``tz``; a result more than one day after ``now`` is last year's);
    - ``HH:MM`` and ``今天 HH:MM`` (today; a bare ``HH:MM`` later than ``now`` is yesterday's),
      ``昨天 HH:MM``, ``前天 HH:MM``;
    - ``刚刚`` (= ``now``), ``N秒前``, ``N分钟前``, ``N小时前``, ``N天前``.

    Anything else, or an impossible date such as ``2026-02-30``, raises :class:`TimestampError` carrying
    the raw string.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("normalize_timestamp needs an aware 'now' (got a naive datetime)")
    if raw is None:
        return None
    text = " ".join(raw.replace("\u3000", " ").replace("\xa0", " ").split())
    if not text:
        return None
    local_now = now.astimezone(tz)
    try:
        result = _parse(text, local_now, tz)
        # Years 1 and 9999 can leave datetime's range once converted to UTC.
        utc = result.astimezone(UTC) if result is not None else None
    except (ValueError, OverflowError) as exc:  # datetime() rejects impossible dates
        raise TimestampError(raw, f"invalid time ({exc})") from None
    if utc is None:
        raise TimestampError(raw)
    return utc


def _parse(text: str, local_now: datetime, tz: tzinfo) -> datetime | None:
    m = _FULL_RE.match(text)
    if m:
        micro = int((m["f"] or "0")[:6].ljust(6, "0"))
        zone = _offset(m["tz"]) if m["tz"] else tz
        d = date(int(m["y"]), int(m["mo"]), int(m["d"]))
        return _local(zone, d, int(m["h"] or 0), int(m["mi"] or 0), int(m["s"] or 0), micro)

    m = _CN_DATE_RE.match(text)
    if m:
        d = date(int(m["y"]), int(m["mo"]), int(m["d"]))
        return _local(tz, d, int(m["h"] or 0), int(m["mi"] or 0), int(m["s"] or 0))

    m = _MONTH_DAY_RE.match(text)
    if m:
        month, day = int(m["mo"]), int(m["d"])
        hms = (int(m["h"]), int(m["mi"]), int(m["s"] or 0))
        year = local_now.year
        try:
            candidate = _local(tz, date(year, month, day), *hms)
        except ValueError:
            candidate = None  # 02-29 outside a leap year: only last year can be meant (if at all)
        if candidate is None or candidate > local_now + timedelta(days=1):
            candidate = _local(tz, date(year - 1, month, day), *hms)
        return candidate

    m = _CLOCK_RE.match(text)
    if m:
        d = local_now.date() - timedelta(days=_DAY_OFFSETS[m["day"]])
        candidate = _local(tz, d, int(m["h"]), int(m["mi"]), int(m["s"] or 0))
        if m["day"] is None and candidate > local_now:
            candidate = _local(tz, d - timedelta(days=1), int(m["h"]), int(m["mi"]), int(m["s"] or 0))
        return candidate

    if text == "刚刚":
        return local_now
    m = _AGO_RE.match(text)
    if m:
        return local_now - timedelta(**{_AGO_UNITS[m["unit"]]: int(m["n"])})
    return None


__all__ = ["SHANGHAI", "TimestampError", "normalize_timestamp"]
