"""Bytes -> text for Guba responses.

Guba serves UTF-8 but sometimes omits the ``charset`` parameter; HTTP clients then fall back to
ISO-8859-1 and every Chinese character turns into mojibake (guba-site.md §5.4). Older endpoints may
answer in GBK. This module owns that decision so parsers only ever see ``str``.
"""

from __future__ import annotations

import codecs
import re

_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:\-]+)""", re.IGNORECASE)

# GBK and GB2312 are subsets of GB18030; decoding with the superset never loses a character the
# server meant, and avoids errors on the few bytes real "GBK" pages carry outside GBK.
_GB_FAMILY = frozenset({"gbk", "gb2312", "gb18030", "gb_2312-80", "cp936", "x-gbk", "euc-cn", "hz-gb-2312"})

# Charsets that never fail to decode, so a wrong declaration silently yields mojibake. Guba content is
# Chinese, which these cannot represent: a body that is valid UTF-8 is almost surely UTF-8.
_SINGLE_BYTE_DEFAULTS = frozenset({"iso-8859-1", "latin-1", "latin1", "iso8859-1", "us-ascii", "ascii",
                                   "windows-1252", "cp1252"})


def declared_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header value, lower-cased; None when absent."""
    if not content_type:
        return None
    m = _CHARSET_RE.search(content_type)
    return m.group(1).lower() if m else None


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        # A body cut inside its last UTF-8 character (a head slice, a truncated download) is still
        # UTF-8: lose that one character rather than re-read everything as GB18030 mojibake.
        if encoding == "utf-8" and exc.reason == "unexpected end of data" and exc.start >= len(body) - 3:
            return body.decode("utf-8", errors="replace")
        return None
    except (LookupError, ValueError):
        # Unknown names, non-text codecs (base64), and codecs raising plain UnicodeError (idna).
        return None


def decode_body(body: bytes, content_type: str | None) -> str:
    """Decode a response body to text. Never raises.

    - declared ``gbk``/``gb2312``/``gb18030`` (and aliases) -> GB18030;
    - declared ``utf-8`` or no charset at all -> UTF-8 (a missing charset means UTF-8 on Guba);
    - declared single-byte defaults (ISO-8859-1, ASCII, cp1252) -> UTF-8 first, because those labels
      are what clients guess, not what Guba sends;
    - any other known codec is honoured.
    If UTF-8 fails on the bytes: GB18030; if another codec fails or is unknown: UTF-8, then GB18030;
    last resort UTF-8 with replacement characters.
    UTF-8 cut inside its last character stays UTF-8 (that character becomes U+FFFD). A UTF-8
    byte-order mark is dropped.
    """
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8):]
    charset = declared_charset(content_type)
    if charset is None or charset in _SINGLE_BYTE_DEFAULTS or charset.replace("_", "-") in ("utf-8", "utf8"):
        first = "utf-8"
    elif charset in _GB_FAMILY:
        first = "gb18030"
    else:
        first = charset
    # After UTF-8 fails the other candidate is GB18030; after any other codec fails (or is unknown),
    # Guba's real encoding, UTF-8, comes first.
    fallbacks = ("gb18030",) if first == "utf-8" else ("utf-8", "gb18030")
    for encoding in (first, *fallbacks):
        text = _strict(body, encoding)
        if text is not None:
            return text
    return body.decode("utf-8", errors="replace")
