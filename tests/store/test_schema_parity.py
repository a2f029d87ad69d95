"""The two schemas stay one: after every step, SQLite and PostgreSQL hold the same tables,
columns (with their NOT NULL) and indexes. A step appended to one list only fails here."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from bot.store import Database
from bot.store.migrations import MIGRATIONS
from bot.store.pg_migrations import PG_MIGRATIONS
from tests.pg import PgServer

Shape = tuple[set[tuple[str, str, bool]], set[str]]


async def sqlite_shape(path: Path) -> Shape:
    db = await Database.open(path)
    try:
        tables = [r[0] for r in await db._all("SELECT name FROM sqlite_master WHERE type='table'")]
        cols: set[tuple[str, str, bool]] = set()
        for t in tables:
            if t.startswith("sqlite_"):
                continue
            for _, name, _type, notnull, _default, pk in await db._all(f"PRAGMA table_info({t})"):
                # a primary key column is NOT NULL in PostgreSQL (and in SQLite's intent)
                cols.add((t, name, bool(notnull or pk)))
        idx = await db._all(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
        return cols, {r[0] for r in idx}
    finally:
        await db.close()


async def pg_shape(url: str) -> Shape:
    await (await Database.open(url)).close()
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name, is_nullable = 'NO' AS notnull "
            "FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name != 'schema_version'"
        )
        # indexes written as CREATE INDEX (not those behind PRIMARY KEY / UNIQUE constraints)
        idx = await conn.fetch(
            "SELECT indexname FROM pg_indexes i WHERE schemaname = current_schema() "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
        return {(r[0], r[1], r[2]) for r in rows}, {r[0] for r in idx}
    finally:
        await conn.close()


def test_both_engines_have_every_step() -> None:
    assert len(PG_MIGRATIONS) == len(MIGRATIONS)


async def test_both_engines_reach_the_same_schema(tmp_path: Path, pg_server: PgServer) -> None:
    lite_cols, lite_idx = await sqlite_shape(tmp_path / "s.sqlite")
    pg_cols, pg_idx = await pg_shape(pg_server.create_database())
    assert pg_cols == lite_cols
    assert pg_idx == lite_idx
