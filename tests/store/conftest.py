"""Every store test runs twice: on an SQLite file and on a real PostgreSQL database.

`db_path` is the store's location (a file path, or the URL of a fresh PostgreSQL database), so a
test that reopens the store reopens the same one on either engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import asyncpg
import pytest

from bot.store import Database
from bot.store.migrations import MIGRATIONS, migrate
from bot.store.pg_migrations import PG_MIGRATIONS, migrate_pg
from tests.pg import PgServer, pg_server  # noqa: F401 (the session's server fixture)

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db_path(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    if backend == "sqlite":
        return tmp_path / "bot.sqlite"
    server: PgServer = request.getfixturevalue("pg_server")
    return await server.create_schema()  # a schema of its own: as empty as a new database


@pytest.fixture
async def db(db_path: Path | str) -> AsyncIterator[Database]:
    database = await Database.open(db_path)
    yield database
    await database.close()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """For the tests about SQLite itself (its file format, its pragmas)."""
    return tmp_path / "bot.sqlite"


async def old_store(location: Path | str, version: int, *statements: str) -> None:
    """A store left at schema `version` by an older bot, holding what `statements` write
    (plain SQL both engines run), on whichever engine `location` names."""
    if isinstance(location, Path):
        async with aiosqlite.connect(location, isolation_level=None) as lite:
            await migrate(lite, MIGRATIONS[:version])
            for sql in statements:
                await lite.execute(sql)
        return
    conn = await asyncpg.connect(location)
    try:
        await migrate_pg(conn, PG_MIGRATIONS[:version])
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()
