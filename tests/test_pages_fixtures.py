"""Table-driven: every case directory under tests/fixtures/pages/ through its parser.

A case is ``<case>/meta.json`` (url, fetched_at, note, ``parser``, and the parser's arguments),
the page (``page.html`` / ``page.json`` in the directory, or ``meta.page`` pointing into ``real/``),
and ``expected.json``: either ``{"error": "<PageError subclass>", ...}`` or a subset of the parsed
result. Lists of objects in ``expected`` must match the result's list in length, item by item as
subsets; ``<field>_startswith`` / ``<field>_endswith`` check a prefix/suffix of a long field.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from crawler.pages import (
    PageError,
    decode_body,
    parse_list_page,
    parse_post_page,
    parse_replies,
)

CASES_DIR = Path(__file__).parent / "fixtures" / "pages"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.is_dir() and p.name != "real")


def _page_bytes(case: Path, meta: dict[str, Any]) -> bytes:
    if "page" in meta:
        return (CASES_DIR / meta["page"]).read_bytes()
    (page,) = [p for p in case.iterdir() if p.name.startswith("page.")]
    return page.read_bytes()


def run_case(case: Path) -> Any:
    meta = json.loads((case / "meta.json").read_text(encoding="utf-8"))
    body = _page_bytes(case, meta)
    parser = meta["parser"]
    if parser == "decode":
        return decode_body(body, meta.get("content_type"))
    text = decode_body(body, "text/html; charset=utf-8")
    url = meta["url"]
    if parser == "list":
        return parse_list_page(text, url=url)
    if parser == "post":
        return parse_post_page(text, url=url, expected_post_id=meta.get("expected_post_id"))
    if parser == "replies":
        return parse_replies(text, post_id=meta["post_id"], page=meta.get("page_number", 1), url=url)
    raise AssertionError(f"{case.name}: unknown parser {parser!r}")


def assert_matches(actual: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    for key, want in expected.items():
        for suffix, check in (("_startswith", str.startswith), ("_endswith", str.endswith)):
            if key.endswith(suffix):
                field = key[: -len(suffix)]
                assert check(actual[field], want), f"{where}.{field}: {actual[field]!r:.200} lacks {want!r}"
                break
        else:
            assert key in actual, f"{where}: no field {key!r}"
            got = actual[key]
            if isinstance(want, list) and want and all(isinstance(w, dict) for w in want):
                assert isinstance(got, list) and len(got) == len(want), f"{where}.{key}: {len(got)} items, want {len(want)}"
                for i, (g, w) in enumerate(zip(got, want, strict=True)):
                    assert_matches(g, w, f"{where}.{key}[{i}]")
            else:
                assert got == want, f"{where}.{key}: got {got!r}, want {want!r}"


def test_case_inventory() -> None:
    """The issue's minimum: ≥15 cases covering these situations."""
    names = {c.name for c in CASES}
    assert len(names) >= 15
    required = {
        "verification-page", "deleted-post", "truncated-post-json", "nested-row-list", "empty-list",
        "rc-zero-list", "news-repost-us-board", "hk-board-news-repost", "user-post-cashtags", "forward",
        "legacy-post-wrapper", "caifuhao-footer", "list-with-brace-in-title", "no-charset-utf8",
        "login-redirect", "anonymous-author",
    }
    assert required <= names, required - names
    assert sum(name.startswith("real-") for name in names) >= 5
    for case in CASES:
        meta = json.loads((case / "meta.json").read_text(encoding="utf-8"))
        assert {"url", "fetched_at", "note", "parser"} <= meta.keys(), case.name
        assert (case / "expected.json").is_file(), case.name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path) -> None:
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    if "error" in expected:
        with pytest.raises(PageError) as info:
            run_case(case)
        assert type(info.value).__name__ == expected["error"], info.value
        if "kind" in expected:
            assert getattr(info.value, "kind", None) == expected["kind"]
        if "message_contains" in expected:
            assert expected["message_contains"] in str(info.value)
        meta = json.loads((case / "meta.json").read_text(encoding="utf-8"))
        assert info.value.url == meta["url"], "errors must name the page"
        return
    result = run_case(case)
    if isinstance(result, str):  # decode cases
        for needle in expected.get("contains", []):
            assert needle in result
        for needle in expected.get("not_contains", []):
            assert needle not in result
        return
    actual = dataclasses.asdict(result)
    assert_matches(actual, expected, case.name)
    if "url" in actual:
        meta = json.loads((case / "meta.json").read_text(encoding="utf-8"))
        assert actual["url"] == meta["url"]
