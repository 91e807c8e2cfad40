"""Stock mentions -> security ids ``CODE.MARKET`` (``600519.SH``, ``09988.HK``, ``BABA.US``, ``BK0896.BK``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from crawler.items import StockMention

MARKETS: Final = ("SH", "SZ", "BJ", "HK", "US", "BK")

# Eastmoney quote market numbers (the "1" of nid=1.600519 / data-code="600519|1|1", the 116 of 116.09988).
# "0" covers both Shenzhen and Beijing; the code shape decides between them.
_QUOTE_MARKETS: Final = {"1": "SH", "0": "SZ", "116": "HK", "105": "US", "106": "US", "107": "US", "90": "BK"}

_A_SHARE_RE: Final = re.compile(r"^\d{6}$")
_HK_RE: Final = re.compile(r"^\d{1,5}$")
_US_RE: Final = re.compile(r"^[A-Z]{1,6}(?:[.\-][A-Z]{1,2})?$")
_BK_RE: Final = re.compile(r"^BK\d{4}$")
# "SH600519" / "HK09988" cashtag codes. A US ticker never gets a prefix split ("USB", "SHOP" are tickers).
_PREFIXED_RE: Final = re.compile(r"^(?P<m>SH|SZ|BJ|HK)(?P<code>\d{1,6})$")
# "600519.SH", "09988.hk", and Eastmoney secids "1.600519", "105.BABA".
_SUFFIXED_RE: Final = re.compile(r"^(?P<code>[A-Z0-9]+)\.(?P<m>SH|SZ|BJ|HK|US|BK)$")
_SECID_RE: Final = re.compile(r"^(?P<m>\d{1,3})\.(?P<code>[A-Z0-9.\-]+)$")


def _is_beijing(code: str) -> bool:
    return code.startswith(("4", "8", "92"))


def _market_from_shape(code: str) -> str | None:
    if _BK_RE.match(code):
        return "BK"
    if _A_SHARE_RE.match(code):
        if _is_beijing(code):
            return "BJ"
        if code[0] in "695":
            return "SH"
        if code[0] in "0123":
            return "SZ"
        return None
    if len(code) == 5 and code.isdigit():
        return "HK"
    if _US_RE.match(code) and not code.isdigit():
        return "US"
    return None


def _market_from_hint(hint: str, code: str) -> str | None:
    h = hint.strip().upper()
    if h in MARKETS:
        return h
    market = _QUOTE_MARKETS.get(h)
    if market == "SZ" and _A_SHARE_RE.match(code) and _is_beijing(code):
        return "BJ"
    return market


def _format(code: str, market: str) -> str | None:
    if market in ("SH", "SZ", "BJ"):
        return f"{code}.{market}" if _A_SHARE_RE.match(code) else None
    if market == "HK":
        return f"{code.zfill(5)}.HK" if _HK_RE.match(code) else None
    if market == "US":
        return f"{code}.US" if _US_RE.match(code) and not code.isdigit() else None
    if market == "BK":
        return f"{code}.BK" if _BK_RE.match(code) else None
    return None


def stock_id(code: str, market_hint: str | None = None) -> str | None:
    """``CODE.MARKET`` for one mentioned security, or None when it cannot be placed.

    ``code`` as written in the page (``600519``, ``SH600519``, ``09988``, ``700`` with an HK hint, ``BABA``,
    ``BK0896``, ``600519.SH``, secid ``1.600519``). The market comes from, in order: a market written into
    the code (prefix/suffix/secid), ``market_hint`` (``SH/SZ/BJ/HK/US/BK`` or an Eastmoney quote market
    number: 1 SH, 0 SZ — BJ for 4/8/92 codes —, 116 HK, 105/106/107 US, 90 BK), else the code's shape
    (6/9/5xxxxx SH except 92xxxx, 0/1/2/3xxxxx SZ, 4/8/92xxxx BJ, 5 digits HK, letters US, BKnnnn BK).
    An unknown hint falls back to the shape. HK codes are zero-padded to 5 digits. A code that does not
    fit its market (letters with an SH hint, 7 digits) → None. Never raises.
    """
    c = (code or "").strip().upper().lstrip("$")
    if not c:
        return None
    market: str | None = None
    if (m := _PREFIXED_RE.match(c)) or (m := _SUFFIXED_RE.match(c)):
        c, market = m["code"], m["m"]
    elif m := _SECID_RE.match(c):
        c, market = m["code"], _market_from_hint(m["m"], m["code"])
    if market is None and market_hint:
        market = _market_from_hint(market_hint, c)
    if market is None:
        market = _market_from_shape(c)
    return _format(c, market) if market else None


def normalize_stocks(mentions: Iterable[StockMention]) -> list[str]:
    """Every mentioned security as ``CODE.MARKET``, de-duplicated, in order of first appearance.

    Mentions that cannot be placed (see :func:`stock_id`) are skipped.
    """
    seen: dict[str, None] = {}
    for mention in mentions:
        sid = stock_id(mention.code, mention.market_hint)
        if sid is not None:
            seen.setdefault(sid, None)
    return list(seen)
