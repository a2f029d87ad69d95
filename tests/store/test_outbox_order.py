"""The outbox hands out the freshest news first, drops alerts past their window, and keeps a
small key/value table: on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

from bot.domain.message import Message
from bot.store import Database, OutboxItem
from bot.store.migrations import MIGRATIONS
from bot.store.settings import EXPIRED
from tests.store.conftest import old_store


def item(chat: str, key: str, created_ms: int, expires_ms: int | None = None) -> OutboxItem:
    return OutboxItem(chat, Message(key), key, created_ms, expires_ms)


async def titles(db: Database, now_ms: int = 10**9, limit: int = 100) -> list[str]:
    return [r.message.title for r in await db.due_outbox(now_ms, limit)]


async def test_channels_then_the_freshest_queues_first_each_chat_in_order(db: Database) -> None:
    await db.ensure_chat("telegram:-100", "channel")
    await db.enqueue(
        [
            item("telegram:1", "old1", 1_000),
            item("telegram:2", "mid2", 2_000),
            item("telegram:1", "new1", 3_000),  # queued behind chat 1's old one
            item("telegram:-100", "chan", 500),  # a channel: many readers, oldest of all
            item("telegram:3", "mid3", 2_500),
        ]
    )
    # chats by the head of their queue, newest first; each chat's rows in their order
    assert await titles(db) == ["chan", "mid3", "mid2", "old1", "new1"]
    assert await titles(db, limit=2) == ["chan", "mid3"]
    # a LIMIT cuts a chat's tail, never its head: "new1" never goes without "old1"
    assert await titles(db, limit=4) == ["chan", "mid3", "mid2", "old1"]


async def test_alerts_past_their_window_are_dropped_and_counted(db: Database) -> None:
    await db.enqueue(
        [
            item("telegram:1", "5m alert", 1_000, expires_ms=1_000 + 300_000),
            item("telegram:1", "24h alert", 1_000, expires_ms=1_000 + 86_400_000),
            item("telegram:2", "a notice", 1_000),  # no window of its own: never expires here
        ]
    )
    assert await db.expire_outbox(now_ms=300_999) == 0
    assert await db.expire_outbox(now_ms=301_000) == 1
    assert await titles(db) == ["24h alert", "a notice"]
    assert await db.count_expired(since_ms=0) == 1
    assert await db.count_expired(since_ms=1_001) == 0  # counted by when the alert was made
    assert await db.expire_outbox(now_ms=10**12) == 1  # once dead, not counted again
    assert await db.count_expired(since_ms=0) == 2


async def test_settings_round_trip_and_survive_a_reopen(db_path: Path) -> None:
    db = await Database.open(db_path)
    assert await db.get_setting("discord.commands") is None
    await db.set_setting("discord.commands", "abc")
    await db.set_setting("discord.commands", "def")
    await db.close()
    db = await Database.open(db_path)
    try:
        assert await db.get_setting("discord.commands") == "def"
    finally:
        await db.close()


async def test_a_version_1_store_with_pending_rows_is_upgraded(db_path: Path | str) -> None:
    await old_store(
        db_path,
        1,
        "INSERT INTO outbox (chat_key, message, dedupe_key, created_ms, next_ms) "
        "VALUES ('telegram:1', '{\"title\": \"kept\"}', 'k', 5, 5)",
    )
    db = await Database.open(db_path)
    try:
        assert await titles(db) == ["kept"]
        assert await db.expire_outbox(10**12) == 0  # old rows have no expiry: not dropped
        assert await db.schema_version() == len(MIGRATIONS)
        assert EXPIRED not in {r[0] for r in await db._all("SELECT last_error FROM outbox")}
    finally:
        await db.close()
