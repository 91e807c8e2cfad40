"""The JSON Guba embeds in its pages (``var article_list={…};``, ``var post_article={…};``) and the
small coercions every parser applies to values taken out of it.

The site serves strict JSON after the ``=`` (guba-site.md §2.3, §3.2). Titles and bodies can contain
``};`` so a greedy regex cuts them short; :func:`extract_js_object` lets ``json.JSONDecoder.raw_decode``
find the end of the object instead.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from crawler.pages.errors import LayoutChanged

_DECODER = json.JSONDecoder()


def _var_re(var_name: str) -> re.Pattern[str]:
    # The lookahead stops ``article_list`` from matching ``article_list2``.
    return re.compile(r"\bvar\s+" + re.escape(var_name) + r"(?![\w$])\s*=\s*")


def has_js_var(text: str, var_name: str) -> bool:
    """True when ``var {var_name} =`` occurs in ``text`` (whatever follows it)."""
    return _var_re(var_name).search(text) is not None


def extract_js_object(text: str, var_name: str, *, url: str = "") -> dict[str, Any] | None:
    """Decode the JSON object assigned by the first ``var {var_name}=`` (spaces around ``=`` allowed).

    Returns None when the variable does not occur at all (the caller decides what that means).
    Raises :class:`LayoutChanged` (carrying ``url``) when it occurs but what follows is not one complete
    JSON object: a truncated response, invalid JSON, absurd nesting, or a non-object value (``null``,
    an array, a string).
    """
    m = _var_re(var_name).search(text)
    if m is None:
        return None
    try:
        value, _end = _DECODER.raw_decode(text, m.end())
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and the int-digit limit; RecursionError deep nesting.
        raise LayoutChanged(f"var {var_name} is not valid JSON ({type(exc).__name__}: {exc})"[:300],
                            url=url) from None
    if not isinstance(value, dict):
        raise LayoutChanged(f"var {var_name} is a {type(value).__name__}, not an object", url=url)
    return value


# --- coercions for values read out of the embedded JSON --------------------------------------------
# The site is inconsistent about types (ids as numbers or strings, "False" strings, "" for absent), and
# a parser must never raise TypeError/ValueError on them: optional fields just become None.


def json_int(value: Any) -> int | None:
    """An integer from a JSON value: ints, integral finite floats, and digit strings (``"12"``, ``"-3"``).
    Booleans, other strings, None and containers -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        s = value.strip()
        if re.fullmatch(r"-?\d{1,20}", s):
            return int(s)
    return None


def json_str(value: Any) -> str | None:
    """A non-empty string from a JSON value: strings as they are (``""`` -> None), ints as decimal
    text; anything else (None, bools, floats, containers) -> None."""
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def json_id(value: Any) -> str | None:
    """An identifier (post, reply, user id) as a string; ``0``, ``"0"``, ``""`` and None -> None."""
    s = json_str(value)
    if s is None:
        return None
    s = s.strip()
    return None if s in ("", "0") else s


def json_bool(value: Any) -> bool:
    """A flag: ``true``, ``1`` and the strings ``"true"``/``"True"``/``"1"`` are True; everything else
    (including absent values) False."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value == 1
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return False


def json_dict(value: Any) -> dict[str, Any]:
    """The value if it is a JSON object, else an empty dict (so lookups on it never fail)."""
    return value if isinstance(value, dict) else {}
