from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from bot.domain.models import Side
from bot.store import SCHEMA_VERSION, Database, SchemaTooNewError
from bot.store.migrations import MIGRATIONS, migrate


async def test_fresh_file_gets_every_table_wal_and_version(db_path: Path) -> None:
    db = await Database.open(db_path)
    assert await db.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    await db.close()
    with sqlite3.connect(db_path) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
        buckets_sql = raw.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'buckets'"
        ).fetchone()[0]
    assert {
        "chats",
        "subscriptions",
        "alert_states",
        "mutes",
        "outbox",
        "buckets",
        "gaps",
    } <= tables
    assert mode == "wal"
    assert "WITHOUT ROWID" in buckets_sql


async def test_reopen_keeps_version_and_data(db_path: Path) -> None:
    db = await Database.open(db_path)
    sub = await db.add_subscription("telegram:1", "BTC", 60, Side.LONG, 1e8, now_ms=5)
    await db.close()
    db = await Database.open(db_path)
    try:
        assert await db.schema_version() == SCHEMA_VERSION
        assert await db.list_subscriptions("telegram:1") == [sub]
    finally:
        await db.close()


async def test_foreign_keys_are_on(db: Database) -> None:
    # deleting a subscription cascades to its state only when foreign keys are enforced
    row = await db._one("PRAGMA foreign_keys")
    assert row[0] == 1


async def test_newer_file_is_refused(db_path: Path) -> None:
    with sqlite3.connect(db_path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNewError, match="newer"):
        await Database.open(db_path)


async def test_steps_apply_in_order_and_a_failing_step_rolls_back(db_path: Path) -> None:
    steps: list[tuple[str, ...]] = [
        ("CREATE TABLE a (x INTEGER)",),
        ("ALTER TABLE a ADD COLUMN y TEXT", "INSERT INTO a (x, y) VALUES (1, 'one')"),
    ]
    async with aiosqlite.connect(db_path, isolation_level=None) as conn:
        assert await migrate(conn, steps[:1]) == 1
        assert await migrate(conn, steps) == 2
        async with conn.execute("SELECT x, y FROM a") as cur:
            assert await cur.fetchall() == [(1, "one")]
        broken = [*steps, ("CREATE TABLE b (z INTEGER)", "INSERT INTO nowhere VALUES (1)")]
        with pytest.raises(sqlite3.OperationalError):
            await migrate(conn, broken)
        async with conn.execute("PRAGMA user_version") as cur:
            assert (await cur.fetchone())[0] == 2  # the failed step left no trace
        async with conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'b'") as cur:
            assert (await cur.fetchone())[0] == 0


async def test_per_chat_numbers_keep_what_an_older_file_showed(db_path: Path) -> None:
    # a file of schema 1 (global ids only): chat 1 saw #1 and #3, chat 2 saw #2
    async with aiosqlite.connect(db_path) as conn:
        await migrate(conn, MIGRATIONS[:1])
        for chat, origin in (
            ("telegram:1", "user"),
            ("telegram:2", "user"),
            ("telegram:1", "user"),
        ):
            await conn.execute(
                "INSERT INTO subscriptions (chat_key, coin, window_min, side, threshold, origin, "
                "created_ms) VALUES (?, 'BTC', 60, 'total', 1e8, ?, 0)",
                (chat, origin),
            )
        await conn.commit()
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
