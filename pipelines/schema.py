"""The JSON Schemas of schema v1 (``pipelines/schemas/*.json``) and a validator for stored documents."""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

COLLECTIONS = ("posts", "articles", "replies")


@cache
def load_schema(collection: str) -> dict[str, Any]:
    """The JSON Schema of ``collection`` (posts, articles, replies), as shipped in the package."""
    if collection not in COLLECTIONS:
        raise ValueError(f"no schema for collection {collection!r}")
    text = resources.files("pipelines").joinpath(f"schemas/{collection}.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def to_json_compatible(value: Any) -> Any:
    """BSON-ish values -> JSON values: datetimes become ISO-8601 strings (dates are ``format: date-time``)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_json_compatible(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_compatible(v) for v in value]
    return value


@cache
def _validator(collection: str) -> jsonschema.Draft202012Validator:
    # Built once per collection: compiling the schema costs more than validating a document.
    return jsonschema.Draft202012Validator(
        load_schema(collection), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def validate_document(collection: str, doc: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``doc`` (as read from MongoDB) breaks the schema."""
    _validator(collection).validate(to_json_compatible(doc))


def iter_errors(collection: str, doc: dict[str, Any]) -> list[str]:
    """Every schema violation of ``doc`` as a readable line (empty when valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<doc>'}: {e.message}"
        for e in _validator(collection).iter_errors(to_json_compatible(doc))
    ]
