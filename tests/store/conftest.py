"""Every store test runs twice: on an SQLite file and on a real PostgreSQL database.

`db_path` is the store's location (a file path, or the URL of a fresh PostgreSQL database), so a
test that reopens the store reopens the same one on either engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import Database
from tests.pg import PgServer, pg_server  # noqa: F401 (the session's server fixture)

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_path(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    if backend == "sqlite":
        return tmp_path / "bot.sqlite"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database()


@pytest.fixture
async def db(db_path: Path | str) -> AsyncIterator[Database]:
    database = await Database.open(db_path)
    yield database
    await database.close()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """For the tests about SQLite itself (its file format, its pragmas)."""
    return tmp_path / "bot.sqlite"
