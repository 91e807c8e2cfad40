from __future__ import annotations

import pytest

from crawler.items import StockMention
from pipelines.normalize import normalize_stocks, stock_id


@pytest.mark.parametrize(
    ("code", "hint", "expected"),
    [
        # real K-line block of news,600519,1743987733: alt="K图 600519_0", nid=1.600519, data-code="600519|1|1"
        ("600519", "1", "600519.SH"),
        ("600519", None, "600519.SH"),
        ("1.600519", None, "600519.SH"),
        # real cashtags
        ("SH600519", None, "600519.SH"),
        ("SZ002941", None, "002941.SZ"),
        ("SH601012", None, "601012.SH"),
        ("BK0896", None, "BK0896.BK"),
        ("600519", "SH", "600519.SH"),
        ("sh600519", None, "600519.SH"),
        ("600519.sh", None, "600519.SH"),  # stockbar_market / code_name form
        ("BK0896.BK", None, "BK0896.BK"),
        # quote market numbers
        ("002941", "0", "002941.SZ"),
        ("430047", "0", "430047.BJ"),
        ("830799", "0", "830799.BJ"),
        ("920146", "0", "920146.BJ"),
        ("000001", "1", "000001.SH"),  # 上证指数: the hint beats the shape (000001 alone is SZ)
        ("09988", "116", "09988.HK"),
        ("700", "116", "00700.HK"),
        ("700", "HK", "00700.HK"),
        ("HK700", None, "00700.HK"),
        ("BABA", "106", "BABA.US"),
        ("AAPL", "105", "AAPL.US"),
        ("BK0896", "90", "BK0896.BK"),
        ("105.BABA", None, "BABA.US"),
        ("116.09988", None, "09988.HK"),
        # shapes
        ("000001", None, "000001.SZ"),
        ("300750", None, "300750.SZ"),
        ("159915", None, "159915.SZ"),
        ("510300", None, "510300.SH"),
        ("900901", None, "900901.SH"),
        ("688256", None, "688256.SH"),
        ("920146", None, "920146.BJ"),
        ("430047", None, "430047.BJ"),
        ("831010", None, "831010.BJ"),
        ("09988", None, "09988.HK"),
        ("00700", None, "00700.HK"),
        ("baba", None, "BABA.US"),
        ("BRK.B", None, "BRK.B.US"),
        ("USB", None, "USB.US"),  # a ticker, not a "US" prefix
        ("$SH600519", None, "600519.SH"),
        # unknown hint: fall back to the shape
        ("600519", "999", "600519.SH"),
        # cannot be placed
        ("700", None, None),  # too short for HK without a hint
        ("1234567", None, None),
        ("BABA", "SH", None),
        ("600519", "US", None),
        ("BK12", None, None),
        ("", None, None),
        ("   ", "1", None),
        ("中国平安", None, None),
        ("700000", None, None),  # 7xxxxx: no market
    ],
)
def test_stock_id(code: str, hint: str | None, expected: str | None) -> None:
    assert stock_id(code, hint) == expected


def test_normalize_stocks_dedups_in_order() -> None:
    mentions = [
        StockMention(kind="kline", code="600519", market_hint="1"),
        StockMention(kind="datacode", code="600519", market_hint="1"),
        StockMention(kind="cashtag", code="BK0896", name="白酒"),
        StockMention(kind="cashtag", code="SH600519", market_hint="SH", name="贵州茅台"),
        StockMention(kind="cashtag", code="SZ002941", market_hint="SZ", name="新疆交建"),
        StockMention(kind="cashtag", code="??", name="坏的"),
        StockMention(kind="cashtag", code="09988", market_hint="116"),
        StockMention(kind="cashtag", code="BABA", market_hint="US"),
        StockMention(kind="cashtag", code="920146"),
    ]
    assert normalize_stocks(mentions) == ["600519.SH", "BK0896.BK", "002941.SZ", "09988.HK", "BABA.US", "920146.BJ"]


def test_normalize_stocks_empty() -> None:
    assert normalize_stocks([]) == []
    assert normalize_stocks(iter([StockMention(kind="cashtag", code="")])) == []
