from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest

from tests.services import MongoServer

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
