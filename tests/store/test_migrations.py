from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import asyncpg
import pytest

from bot.domain.models import Side
from bot.store import SCHEMA_VERSION, Database, SchemaTooNewError
from bot.store.migrations import MIGRATIONS, migrate
from bot.store.pg_migrations import MIGRATION_LOCK, PG_MIGRATIONS, migrate_pg
from tests.pg import PgServer
from tests.store.conftest import old_store

TABLES = {"chats", "subscriptions", "alert_states", "mutes", "outbox", "buckets", "gaps"}


async def table_names(db: Database) -> set[str]:
    if db.dialect == "sqlite":
        rows = await db._all("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = await db._all("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {r[0] for r in rows}


async def test_fresh_store_gets_every_table_and_the_version(db: Database) -> None:
    assert await db.schema_version() == SCHEMA_VERSION == len(MIGRATIONS) == len(PG_MIGRATIONS)
    assert await table_names(db) >= TABLES


async def test_sqlite_file_is_wal_with_rowid_free_buckets(sqlite_path: Path) -> None:
    await (await Database.open(sqlite_path)).close()
    with sqlite3.connect(sqlite_path) as raw:
        mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
        buckets_sql = raw.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'buckets'"
        ).fetchone()[0]
    assert mode == "wal"
    assert "WITHOUT ROWID" in buckets_sql


async def test_reopen_keeps_version_and_data(db_path: Path | str) -> None:
    db = await Database.open(db_path)
    sub = await db.add_subscription("telegram:1", "BTC", 60, Side.LONG, 1e8, now_ms=5)
    await db.close()
    db = await Database.open(db_path)
    try:
        assert await db.schema_version() == SCHEMA_VERSION
        assert await db.list_subscriptions("telegram:1") == [sub]
    finally:
        await db.close()


async def test_foreign_keys_are_enforced(db: Database) -> None:
    # a state for a subscription that does not exist is refused (SQLite: only with the pragma on)
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await db._write(
            "INSERT INTO alert_states (sub_id, status, level, episode) VALUES (999, 'armed', 0, 0)"
        )


async def test_newer_schema_is_refused(db_path: Path | str, backend: str) -> None:
    if backend == "sqlite":
        with sqlite3.connect(db_path) as raw:
            raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    else:
        await (await Database.open(db_path)).close()
        conn = await asyncpg.connect(str(db_path))
        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", SCHEMA_VERSION + 1)
        await conn.close()
    with pytest.raises(SchemaTooNewError, match="newer"):
        await Database.open(db_path)


BROKEN_STEP = ("CREATE TABLE b (z INTEGER)", "INSERT INTO nowhere VALUES (1)")
STEPS: list[tuple[str, ...]] = [
    ("CREATE TABLE a (x INTEGER)",),
    ("ALTER TABLE a ADD COLUMN y TEXT", "INSERT INTO a (x, y) VALUES (1, 'one')"),
]


async def test_sqlite_steps_apply_in_order_and_a_failing_step_rolls_back(
    sqlite_path: Path,
) -> None:
    async with aiosqlite.connect(sqlite_path, isolation_level=None) as conn:
        assert await migrate(conn, STEPS[:1]) == 1
        assert await migrate(conn, STEPS) == 2
        async with conn.execute("SELECT x, y FROM a") as cur:
            assert await cur.fetchall() == [(1, "one")]
        with pytest.raises(sqlite3.OperationalError):
            await migrate(conn, [*STEPS, BROKEN_STEP])
        async with conn.execute("PRAGMA user_version") as cur:
            assert (await cur.fetchone())[0] == 2  # the failed step left no trace
        async with conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'b'") as cur:
            assert (await cur.fetchone())[0] == 0


async def test_postgresql_steps_apply_in_order_and_a_failing_step_rolls_back(
    pg_server: PgServer,
) -> None:
    url = pg_server.create_database()
    conn = await asyncpg.connect(url)
    try:
        assert await migrate_pg(conn, STEPS[:1]) == 1
        assert await migrate_pg(conn, STEPS) == 2
        assert [tuple(r) for r in await conn.fetch("SELECT x, y FROM a")] == [(1, "one")]
        with pytest.raises(asyncpg.UndefinedTableError):
            await migrate_pg(conn, [*STEPS, BROKEN_STEP])
        assert await conn.fetchval("SELECT max(version) FROM schema_version") == 2
        assert await conn.fetchval("SELECT to_regclass('b')") is None  # no trace of step 3
        # the advisory lock was released: another session can migrate
        other = await asyncpg.connect(url)
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK) is True
        await other.close()
    finally:
        await conn.close()


async def test_per_chat_numbers_keep_what_an_older_store_showed(db_path: Path | str) -> None:
    # a store of schema 1 (global ids only): chat 1 saw #1 and #3, chat 2 saw #2
    await old_store(
        db_path,
        1,
        *(
            "INSERT INTO subscriptions (chat_key, coin, window_min, side, threshold, origin, "
            f"created_ms) VALUES ('{chat}', 'BTC', 60, 'total', 1e8, 'user', 0)"
            for chat in ("telegram:1", "telegram:2", "telegram:1")
        ),
    )
    db = await Database.open(db_path)
    try:
        assert [s.number for s in await db.list_subscriptions("telegram:1")] == [1, 3]
        new = await db.add_subscription("telegram:1", "ETH", 60, Side.TOTAL, 1e8, now_ms=1)
        assert new.number == 4  # after the last number the chat saw: none reused
        op = await db.add_subscription("telegram:1", "ALL", 60, Side.SHORT, 3e8, 1, "config")
        assert op.number == 0
        fresh = await db.add_subscription("telegram:9", "SOL", 60, Side.TOTAL, 1e8, now_ms=1)
        assert fresh.number == 1
        await db.migrate_chat("telegram:1", "telegram:-1001")
        moved = await db.list_subscriptions("telegram:-1001")
        assert [s.number for s in moved] == [1, 3, 4, 0]
        again = await db.add_subscription("telegram:-1001", "SOL", 60, Side.TOTAL, 1e8, now_ms=2)
        assert again.number == 5
    finally:
        await db.close()


async def test_update_ids_become_per_bot_and_old_claims_belong_to_no_bot(
    db_path: Path | str,
) -> None:
    # a store of schema 6: update 5 claimed, whichever bot it was (the ids had no bot then)
    await old_store(
        db_path, 6, "INSERT INTO telegram_updates (update_id, seen_ms) VALUES (5, 1000)"
    )
    db = await Database.open(db_path)
    try:
        rows = await db._all("SELECT bot_id, update_id, seen_ms FROM telegram_updates")
        assert [tuple(r) for r in rows] == [(0, 5, 1000)]  # kept, pruned with its day
        assert await db.claim_update(5, 2000, bot_id=111)
        assert await db.claim_update(5, 2000, bot_id=222)
        assert not await db.claim_update(5, 2001, bot_id=111)
        assert await db.prune_updates(before_ms=1500) == 1
    finally:
        await db.close()
