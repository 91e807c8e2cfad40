"""The JSON Schemas of schema v1 (``pipelines/schemas/*.json``, JSON Schema draft-07) and validators for documents.

Two validators read the same files: :func:`first_error` (fastjsonschema, compiled to Python: ~20x faster, used on
every item during a crawl) and :func:`iter_errors` (jsonschema: every violation, readable; used by tests and
tools).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
import jsonschema

COLLECTIONS = ("posts", "articles", "replies")


@cache
def load_schema(collection: str) -> dict[str, Any]:
    """The JSON Schema of ``collection`` (posts, articles, replies), as shipped in the package."""
    if collection not in COLLECTIONS:
        raise ValueError(f"no schema for collection {collection!r}")
    text = resources.files("pipelines").joinpath(f"schemas/{collection}.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


_SCALARS = frozenset({str, int, float, bool, type(None)})


def to_json_compatible(value: Any) -> Any:
    """BSON-ish values -> JSON values: datetimes become ISO-8601 strings (dates are ``format: date-time``).

    Runs on every stored document during a crawl, so plain values are passed through without a call each."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {k: v if type(v) in _SCALARS else to_json_compatible(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [v if type(v) in _SCALARS else to_json_compatible(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_json_compatible(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_compatible(v) for v in value]
    return value


# Every UTC datetime passes ``format: date-time`` as the same string would: the fast check needs no real isoformat.
_UTC_DATETIME = "2000-01-01T00:00:00+00:00"


def _for_fast_check(value: Any) -> Any:
    """:func:`to_json_compatible` for :func:`first_error`: the same verdicts, less work. UTC datetimes (what the
    pipelines store) become one constant valid date-time string; any other datetime is converted as usual."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is datetime:
        return _UTC_DATETIME if value.tzinfo is UTC else value.isoformat()
    if kind is dict:
        return {k: v if type(v) in _SCALARS else _for_fast_check(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [v if type(v) in _SCALARS else _for_fast_check(v) for v in value]
    return to_json_compatible(value)


@cache
def _validator(collection: str) -> Any:
    # Built once per collection: compiling the schema costs more than validating a document.
    schema = load_schema(collection)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@cache
def _fast(collection: str) -> Any:
    return fastjsonschema.compile(load_schema(collection))


def first_error(collection: str, doc: dict[str, Any]) -> str | None:
    """The first schema violation of ``doc`` as ``field/path: message`` (None when valid); fast."""
    try:
        _fast(collection)(_for_fast_check(doc))
    except fastjsonschema.JsonSchemaValueException as exc:
        path = "/".join(str(p) for p in (exc.path or [])[1:]) or "<doc>"
        return f"{path}: {exc.message}"
    return None


def validate_document(collection: str, doc: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``doc`` (as read from MongoDB) breaks the schema."""
    _validator(collection).validate(to_json_compatible(doc))


def iter_errors(collection: str, doc: dict[str, Any]) -> list[str]:
    """Every schema violation of ``doc`` as a readable line (empty when valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<doc>'}: {e.message}"
        for e in _validator(collection).iter_errors(to_json_compatible(doc))
    ]
