from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pymongo
import pytest

from tests.services import MongoServer
from tests.site import ReplaySite, SiteModel

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """One nx-27017 server for the session (tests use their own database names)."""
    server = MongoServer(tmp_path_factory.mktemp("mongo")).start()
    yield server
    server.stop()


_db_counter = 0


@pytest.fixture
def mongo_db(mongo_server: MongoServer) -> Iterator[pymongo.database.Database]:
    """A fresh, empty database on the session's server."""
    global _db_counter
    _db_counter += 1
    client: pymongo.MongoClient = pymongo.MongoClient(mongo_server.uri, serverSelectionTimeoutMS=5000)
    db = client[f"test_{_db_counter}"]
    yield db
    client.close()


@pytest.fixture
def start_site() -> Iterator[Callable[..., ReplaySite]]:
    """``start_site(model)`` -> a running ReplaySite, stopped after the test."""
    sites: list[ReplaySite] = []

    def start(model: SiteModel) -> ReplaySite:
        site = ReplaySite(model).start()
        sites.append(site)
        return site

    yield start
    for site in sites:
        site.stop()


def expected_posts(model: SiteModel, boards: list[str]) -> set[str]:
    """Every live post listed on any of ``boards``."""
    return {pid for b in boards for pid in model.board_post_ids(b)}


def expected_replies(model: SiteModel, post_ids: set[str]) -> set[str]:
    return {r.reply_id for pid in post_ids for r in model.replies_of(pid)}


@pytest.fixture
def mongo_client(mongo_server: MongoServer) -> Iterator[pymongo.MongoClient]:
    client: pymongo.MongoClient = pymongo.MongoClient(mongo_server.uri, tz_aware=True, serverSelectionTimeoutMS=5000)
    yield client
    client.close()
