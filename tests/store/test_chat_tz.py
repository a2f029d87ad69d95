"""The chats.tz column (/tz), on SQLite and PostgreSQL: set, clear, per chat, moved chats."""

from __future__ import annotations

from bot.store import Database


async def test_chat_tz_set_clear_and_per_chat(db: Database) -> None:
    assert await db.chat_tz("telegram:1") is None  # no row: UTC
    await db.ensure_chat("telegram:1", now_ms=1)
    await db.ensure_chat("telegram:2", now_ms=1)
    assert await db.chat_tz("telegram:1") is None
    await db.set_chat_tz("telegram:1", "Europe/Berlin")
    assert await db.chat_tz("telegram:1") == "Europe/Berlin"
    assert await db.chat_tz("telegram:2") is None
    await db.ensure_chat("telegram:1", kind="private", now_ms=2)  # a later ensure keeps it
    assert await db.chat_tz("telegram:1") == "Europe/Berlin"
    await db.set_chat_tz("telegram:1", None)
    assert await db.chat_tz("telegram:1") is None


async def test_chat_tz_follows_a_migrated_chat(db: Database) -> None:
    await db.ensure_chat("telegram:-5", kind="group", now_ms=1)
    await db.set_chat_tz("telegram:-5", "Asia/Tokyo")
    await db.migrate_chat("telegram:-5", "telegram:-1005", now_ms=2)
    assert await db.chat_tz("telegram:-1005") == "Asia/Tokyo"
