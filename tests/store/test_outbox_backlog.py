"""The outbox reading behind /healthz's "delivery is stuck": the heads of the chats' queues."""

from __future__ import annotations

from bot.domain.message import Message
from bot.store import Database, OutboxItem

T = 1_800_000_000_000
MSG = Message("alert")


async def test_only_heads_that_delivery_would_take_count(db: Database) -> None:
    assert await db.outbox_backlog(T, ("telegram",)) == (0, None)
    await db.enqueue(
        [
            OutboxItem("telegram:1", MSG, "a1", T),  # backing off: its chat waits behind it
            OutboxItem("telegram:1", MSG, "a2", T + 1),
            OutboxItem("telegram:2", MSG, "b1", T + 5_000),
            OutboxItem("discord:channel:3", MSG, "c1", T - 60_000),  # no Discord sender
        ]
    )
    head = next(r for r in await db.due_outbox(T + 10_000, 10) if r.chat_key == "telegram:1")
    await db.mark_retry(head.id, T + 600_000, "NetworkError")
    # telegram:1's second row is old but waits behind the backing-off head; discord is off
    assert await db.outbox_backlog(T + 10_000, ("telegram",)) == (4, T + 5_000)
    assert await db.outbox_backlog(T + 10_000, ("telegram", "discord")) == (4, T - 60_000)
    await db.pause_chat("telegram:2", "blocked", T)
    assert await db.outbox_backlog(T + 10_000, ("telegram",)) == (4, None)
    # once the backoff is over, the head is due since then, not since it was created
    assert await db.outbox_backlog(T + 700_000, ("telegram",)) == (4, T + 600_000)
