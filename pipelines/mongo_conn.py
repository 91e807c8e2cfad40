"""One way to open MongoDB for every stage: the MONGO_* settings, a redacted URI for logs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple

import pymongo
from pymongo.collection import Collection
from pymongo.database import Database

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

_CREDENTIALS = re.compile(r"(?<=://)[^@/]+@")

# Errors after which the same write may succeed if tried again (the server restarted, a failover, a timeout).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    pymongo.errors.AutoReconnect,
    pymongo.errors.ConnectionFailure,
    pymongo.errors.ServerSelectionTimeoutError,
    pymongo.errors.NetworkTimeout,
    pymongo.errors.ExecutionTimeout,
    pymongo.errors.WTimeoutError,
)


DUPLICATE_KEY = 11000


def duplicate_key_indexes(exc: pymongo.errors.BulkWriteError) -> list[int]:
    """Indexes of the operations an unordered bulk write refused only because their ``_id`` (or unique key) was
    already stored. Anything else in the error (another write error, a write-concern error) re-raises ``exc``."""
    errors = exc.details.get("writeErrors", [])
    if exc.details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
        raise exc
    return [int(e["index"]) for e in errors]


def insert_new(coll: Collection[Any], docs: list[dict[str, Any]]) -> list[int]:
    """Insert ``docs`` (unordered); the indexes of those whose ``_id`` was already stored (not written). Other
    errors raise."""
    if not docs:
        return []
    try:
        coll.insert_many(docs, ordered=False)
    except pymongo.errors.BulkWriteError as exc:
        return duplicate_key_indexes(exc)
    return []


def redact_uri(uri: str) -> str:
    """``mongodb://user:secret@host/db`` -> ``mongodb://***@host/db``: the only form of a URI that is logged."""
    return _CREDENTIALS.sub("***@", uri)


def open_database(uri: str, database: str, *, timeout_ms: int = 5000, **kwargs: Any) -> Database[Any]:
    """Connect and ping. Raises ``pymongo.errors.PyMongoError`` when the server cannot be reached."""
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(
        uri,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        tz_aware=True,
        appname="guba-crawler",
        **kwargs,
    )
    try:
        client.admin.command("ping")
    except Exception:
        client.close()
        raise
    return client[database]


class MongoTarget(NamedTuple):
    """Where the MONGO_* settings point: ``uri`` is empty when MongoDB is not configured."""

    uri: str
    database: str
    timeout_ms: int


def mongo_target(settings: BaseSettings) -> MongoTarget:
    """MONGO_URI, MONGO_DATABASE and MONGO_CONNECT_TIMEOUT_MS, with their defaults, read in one place."""
    return MongoTarget(
        settings.get("MONGO_URI") or "",
        settings.get("MONGO_DATABASE") or "guba",
        settings.getint("MONGO_CONNECT_TIMEOUT_MS", 5000),
    )
