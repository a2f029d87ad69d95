"""The SQLite store's WAL is checkpointed beside the writer, not inside its commits (issue 18:
the crash tick's COMMIT carried a ~0.1 s checkpoint of its own ~42,000 pages)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from bot.store import Database
from bot.store.wal_checkpoint import BACKSTOP_PAGES

ROWS = 3_000  # ~3,000 pages of 1 KB blobs... and more: far past SQLite's default 1,000


async def big_commit(db: Database) -> None:
    async with db._tx() as c:
        await c.execute("CREATE TABLE IF NOT EXISTS ballast (x BLOB)")
        await c.executemany(
            "INSERT INTO ballast VALUES (?)", [(os.urandom(4000),) for _ in range(ROWS)]
        )


async def test_a_big_commit_reaches_the_file_beside_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite"
    db = await Database.open(path)
    try:
        backend = db._backend
        (pages,) = await backend.one("PRAGMA wal_autocheckpoint")
        assert pages == BACKSTOP_PAGES  # the writer's own only as a backstop
        before = path.stat().st_size
        await big_commit(db)
        # the COMMIT itself copied nothing into the file (SQLite's own checkpoint would have)
        assert path.stat().st_size == before
        assert backend._checkpoint is not None
        await backend._checkpoint.wait()
        assert backend._checkpoint.done >= 1
        # the side connection did: every page of the commit is in the database file now
        assert path.stat().st_size > before + ROWS * 4000
        (n,) = await db._one("SELECT count(*) FROM ballast")
        assert n == ROWS
    finally:
        await db.close()
    # both connections closed: the WAL is gone, and what was written is there
    assert not Path(f"{path}-wal").exists()
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM ballast").fetchone() == (ROWS,)


async def test_closing_while_a_checkpoint_runs_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite"
    db = await Database.open(path)
    await big_commit(db)
    await db._write("INSERT INTO ballast VALUES (x'00')")  # a single write asks for one too
    await db.close()  # the checkpoint just started (or not yet): stopped, its connection closed
    assert not Path(f"{path}-wal").exists()
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM ballast").fetchone() == (ROWS + 1,)


async def test_an_in_memory_store_has_no_side_checkpoint() -> None:
    db = await Database.open(":memory:")
    try:
        assert db._backend._checkpoint is None
        await big_commit(db)
    finally:
        await db.close()
