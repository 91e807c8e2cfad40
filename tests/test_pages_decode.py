"""decode_body: declared charset honoured, missing charset = UTF-8, fallbacks, never raises."""

from __future__ import annotations

import pytest

from crawler.pages.decode import declared_charset, decode_body

TEXT = "贵州茅台(600519)股吧"


@pytest.mark.parametrize(
    ("body", "content_type", "want"),
    [
        (TEXT.encode("utf-8"), None, TEXT),
        (TEXT.encode("utf-8"), "text/html", TEXT),  # no charset: UTF-8, not ISO-8859-1 mojibake
        (TEXT.encode("utf-8"), "text/html; charset=utf-8", TEXT),
        (TEXT.encode("utf-8"), 'text/html; charset="UTF-8"', TEXT),
        (TEXT.encode("utf-8"), "text/html; charset=ISO-8859-1", TEXT),  # a client's guess, not Guba's
        (TEXT.encode("utf-8"), "text/html; charset=no-such-codec", TEXT),
        (TEXT.encode("gbk"), "text/html; charset=GBK", TEXT),
        (TEXT.encode("gbk"), "text/html; charset=gb2312", TEXT),
        (TEXT.encode("gb18030"), "text/html; charset=gb18030", TEXT),
        (TEXT.encode("gbk"), None, TEXT),  # invalid UTF-8 -> GB18030
        (TEXT.encode("gbk"), "text/html; charset=utf-8", TEXT),  # wrong declaration -> GB18030
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), None, TEXT),  # BOM dropped
        (TEXT.encode("utf-8")[:-2], None, TEXT[:-1] + "\ufffd"),  # cut inside the last character
        (b"", None, ""),
    ],
)
def test_decode_body(body: bytes, content_type: str | None, want: str) -> None:
    assert decode_body(body, content_type) == want


def test_undecodable_bytes_are_replaced_not_raised() -> None:
    # Invalid in UTF-8 and in GB18030 (0xFF is never a lead byte in either).
    assert decode_body(b"ok\xff\xff", "text/html; charset=utf-8") == "ok\ufffd\ufffd"


@pytest.mark.parametrize(
    ("content_type", "want"),
    [(None, None), ("", None), ("text/html", None), ("text/html; charset=GBK", "gbk"),
     ("text/html;charset='utf-8'", "utf-8"), ("application/json; Charset = UTF-8", "utf-8")],
)
def test_declared_charset(content_type: str | None, want: str | None) -> None:
    assert declared_charset(content_type) == want
