"""chats.quiet (/quiet) and subscriptions.thread_id (forum topics), on SQLite and PostgreSQL:
set, clear, per chat, kept across a reopen, moved with a migrated chat; an outbox row keeps
a message's topic and silence."""

from __future__ import annotations

from pathlib import Path

from bot.domain.message import Message
from bot.domain.models import Side
from bot.store import Database, OutboxItem


async def test_quiet_set_clear_per_chat_and_across_a_reopen(db_path: Path | str) -> None:
    db = await Database.open(db_path)
    try:
        assert await db.chat_quiet("telegram:1") is None  # no row
        await db.ensure_chat("telegram:1", now_ms=1)
        await db.ensure_chat("telegram:2", now_ms=1)
        await db.set_chat_quiet("telegram:1", "23:00-07:00 except big")
        assert await db.chat_quiet("telegram:1") == "23:00-07:00 except big"
        assert await db.chat_quiet("telegram:2") is None
        assert await db.chats_quiet() == {"telegram:1": "23:00-07:00 except big"}
        await db.ensure_chat("telegram:1", kind="private", now_ms=2)  # a later ensure keeps it
    finally:
        await db.close()
    db = await Database.open(db_path)
    try:
        assert await db.chat_quiet("telegram:1") == "23:00-07:00 except big"
        await db.set_chat_quiet("telegram:1", None)
        assert await db.chat_quiet("telegram:1") is None
        assert await db.chats_quiet() == {}
    finally:
        await db.close()


async def test_quiet_follows_a_migrated_chat(db: Database) -> None:
    await db.ensure_chat("telegram:-5", kind="group", now_ms=1)
    await db.set_chat_quiet("telegram:-5", "22:00-06:00")
    await db.migrate_chat("telegram:-5", "telegram:-1005", now_ms=2)
    assert await db.chat_quiet("telegram:-1005") == "22:00-06:00"


async def test_a_subscriptions_topic_is_stored_and_read_back(db_path: Path | str) -> None:
    db = await Database.open(db_path)
    try:
        in_topic = await db.add_subscription(
            "telegram:-100", "BTC", 60, Side.TOTAL, 1e8, 1, thread=42
        )
        plain = await db.add_subscription("telegram:-100", "ETH", 60, Side.TOTAL, 1e8, 1)
        assert in_topic.thread == 42 and plain.thread is None
    finally:
        await db.close()
    db = await Database.open(db_path)
    try:
        by_id = {s.id: s for s in await db.list_subscriptions("telegram:-100")}
        assert by_id[in_topic.id].thread == 42 and by_id[plain.id].thread is None
        assert {s.id: s.thread for s in await db.active_subscriptions()} == {
            in_topic.id: 42,
            plain.id: None,
        }
        assert [s.thread for s in await db.subscriptions_by_id([in_topic.id])] == [42]
        await db.migrate_chat("telegram:-100", "telegram:-200", now_ms=2)
        moved = await db.list_subscriptions("telegram:-200")
        assert sorted((s.coin, s.thread) for s in moved) == [("BTC", 42), ("ETH", None)]
    finally:
        await db.close()


async def test_an_outbox_row_keeps_the_topic_and_the_silence(db: Database) -> None:
    items = [
        OutboxItem("telegram:-1", Message("a", thread=7, silent=True), "k1", 1),
        OutboxItem("telegram:-1", Message("b"), "k2", 2),
    ]
    await db.enqueue(items)
    rows = await db.due_outbox(10, 10)
    got = {r.message.title: (r.message.thread, r.message.silent) for r in rows}
    assert got == {"a": (7, True), "b": (None, None)}
