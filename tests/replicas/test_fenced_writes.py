"""The leader-only writes fenced after the first ones (test_leadership.py has those): expiring
stale alerts, recording source gaps, and delivery's pause and migration of a chat. Each is
allowed for the epoch that leads, refused (NotLeaderError) after a takeover, and a refused write
changes nothing. The chat adapters' own pause and migration (a standby serving a webhook makes
them) stay unfenced. On a real PostgreSQL (tests/pg.py), as another replica would see it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from bot.chat.context import ChatContext
from bot.chat.service_reach import run_test
from bot.config import Secrets, parse_config
from bot.domain.message import Message
from bot.domain.models import Liquidation, Side
from bot.domain.source_fault import DownReason, Fault
from bot.runtime import app
from bot.runtime.delivery import Delivery, SendOutcome
from bot.store import Database, GapRow, OutboxItem
from bot.store.replica_queries import NotLeaderError
from bot.store.settings import EXPIRED
from tests.offline import sources_off


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    """The old leader: it leads under epoch 0 (the epoch of a new store) until a takeover."""
    database = await Database.open(pg_url)
    database.fencing = lambda: 0
    yield database
    await database.close()


@pytest.fixture
async def other(pg_url: str) -> AsyncIterator[Database]:
    """Another replica on the same store (the new leader once `takeover` ran)."""
    database = await Database.open(pg_url)
    yield database
    await database.close()


async def takeover(pg_url: str, new_leader: Database) -> None:
    """What PgLeadership._take_over writes: the epoch moves on; `new_leader` leads under it."""
    conn = await asyncpg.connect(pg_url)
    try:
        epoch = int(
            await conn.fetchval(
                "UPDATE leadership SET epoch = epoch + 1, leader = 'b' WHERE id = 1 RETURNING epoch"
            )
        )
    finally:
        await conn.close()
    new_leader.fencing = lambda: epoch


TABLES = ("chats", "subscriptions", "mutes", "outbox", "digests", "gaps")


async def tables(pg_url: str) -> dict[str, list[Any]]:
    """Every row of the tables these writes touch, as the server holds them."""
    conn = await asyncpg.connect(pg_url)
    try:
        return {
            t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")]
            for t in TABLES
        }
    finally:
        await conn.close()


# ---- expire_outbox ---------------------------------------------------------------------------


async def test_expiring_stale_alerts_is_the_leaders_and_refused_after_a_takeover(
    db: Database, other: Database, pg_url: str
) -> None:
    await db.enqueue(
        [
            OutboxItem("telegram:1", Message(title="a"), "a", 0, expires_ms=100),
            OutboxItem("telegram:1", Message(title="b"), "b", 0, expires_ms=500),
        ]
    )
    a, b = (r.id for r in await db.due_outbox(0, 10))
    assert await db.expire_outbox(200) == 1  # epoch 0 leads: allowed
    await takeover(pg_url, other)
    before = await tables(pg_url)
    with pytest.raises(NotLeaderError, match="moved on"):
        await db.expire_outbox(1000)
    assert await tables(pg_url) == before
    assert await db.outbox_status(b) == ("pending", 0, 0, None)
    assert await other.expire_outbox(1000) == 1  # the new leader's is allowed
    assert await other.outbox_status(a) == ("dead", 0, 0, EXPIRED)
    assert await other.outbox_status(b) == ("dead", 0, 0, EXPIRED)


# ---- record_gap ------------------------------------------------------------------------------


async def test_recording_a_gap_is_the_leaders_and_refused_after_a_takeover(
    db: Database, other: Database, pg_url: str
) -> None:
    await db.record_gap("binance", 1_000, 2_000)  # epoch 0 leads: allowed
    await takeover(pg_url, other)
    before = await tables(pg_url)
    with pytest.raises(NotLeaderError, match="moved on"):
        await db.record_gap("bybit", 3_000, 4_000)
    assert await tables(pg_url) == before
    await other.record_gap("okx", 5_000, 6_000)  # the new leader's is allowed
    assert await other.recent_gaps(0) == [
        GapRow("binance", 1_000, 2_000),
        GapRow("okx", 5_000, 6_000),
    ]


async def test_a_standby_saving_before_a_chart_writes_nothing_and_does_not_fail(
    pg_url: str,
) -> None:
    """In webhook mode a standby answers /chart, which saves the newest buckets and ended gaps
    first (app.persist). Those writes are the leader's: on a standby it is a quiet no-op (it
    was refused mid-way, failing the chart), and the standby keeps them until it leads."""
    config = parse_config(
        {
            "storage": {"url": pg_url},
            "replica": {"id": "standby", "poll": 0.2, "lease": 1},
            "sources": sources_off(),
            "console": {"enabled": "off"},
        }
    )
    rt = await app.build(config, Secrets())
    try:
        now = rt.clock.now_ms()
        rt.market.agg.add([Liquidation("binance", "BTC", Side.LONG, 1e6, now)], now)
        rt.market.health.down("binance", now - 60_000, DownReason(Fault.DISCONNECTED, "test"))
        rt.market.health.up("binance", now - 30_000)
        assert rt.leadership is not None and not rt.leadership.acting()  # never took the lock
        assert rt.service.before_chart is not None
        await rt.service.before_chart()
        assert await rt.db.load_buckets(0) == [] and await rt.db.recent_gaps(0) == []
        assert rt.market.agg.dirty_rows() != []  # kept for when it leads
        assert rt.market.health.take_ended() != []
    finally:
        await app.stop(rt)


# ---- pause_chat ------------------------------------------------------------------------------


async def test_delivery_pausing_a_chat_is_the_leaders_and_refused_after_a_takeover(
    db: Database, other: Database, pg_url: str
) -> None:
    await db.ensure_chat("telegram:1")
    assert await db.pause_chat("telegram:3", "blocked", 10, as_leader=True)  # epoch 0 leads
    await takeover(pg_url, other)
    before = await tables(pg_url)
    for chat in ("telegram:1", "telegram:2"):  # a known chat, and one the pause would add
        with pytest.raises(NotLeaderError, match="moved on"):
            await db.pause_chat(chat, "blocked", 20, as_leader=True)
    assert await tables(pg_url) == before
    assert await other.paused_chats() == {"telegram:3"}
    assert await other.pause_chat("telegram:1", "blocked", 30, as_leader=True)  # the new leader
    assert await other.paused_chats() == {"telegram:1", "telegram:3"}


async def test_delivery_of_a_replaced_leader_does_not_pause_the_chat(
    db: Database, other: Database, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The send fails for good; the takeover comes between marking the row dead (committed
    before it) and pausing the chat: the pause is refused, the new leader's drain decides."""
    await db.enqueue([OutboxItem("telegram:42", Message(title="m1"), "m1", 0)])
    mark_dead = db.mark_dead

    async def mark_dead_then_replaced(row_id: int, reason: str) -> None:
        await mark_dead(row_id, reason)
        await takeover(pg_url, other)

    monkeypatch.setattr(db, "mark_dead", mark_dead_then_replaced)
    sender = Sender(lambda key: SendOutcome.permanent("Forbidden: bot was blocked by the user"))
    with pytest.raises(ExceptionGroup) as raised:
        await Delivery(db, {"telegram": sender}, lambda: 1_000).drain()
    refused, rest = raised.value.split(NotLeaderError)
    assert refused is not None and rest is None  # refused by the fence, nothing else
    chat = await other.get_chat("telegram:42")
    assert chat is None or chat.paused_reason is None
    assert sender.calls == ["telegram:42"]


# ---- migrate_chat ----------------------------------------------------------------------------


async def _a_group(db: Database, key: str) -> int:
    """A group with what migrate_chat moves: a rule, a mute, a pending alert and a digest."""
    await db.ensure_chat(key, kind="group")
    sub = await db.add_subscription(key, "BTC", 60, Side.LONG, 1e6, 0)
    await db.set_mute(key, "BTC", 10**12)
    await db.enqueue([OutboxItem(key, Message(title="m"), f"{key}/m", 0)])
    await db.set_digest(key, 9 * 60, "UTC", 0)
    return sub.id


async def test_delivery_migrating_a_chat_is_the_leaders_and_refused_after_a_takeover(
    db: Database, other: Database, pg_url: str
) -> None:
    first = await _a_group(db, "telegram:-1")
    second = await _a_group(db, "telegram:-2")
    await db.migrate_chat("telegram:-1", "telegram:-1001", 10, as_leader=True)  # epoch 0 leads
    assert [s.id for s in await db.list_subscriptions("telegram:-1001")] == [first]
    moved: list[tuple[str, str]] = []
    db.on_chat_migrated.append(lambda old, new: moved.append((old, new)))
    await takeover(pg_url, other)
    before = await tables(pg_url)
    with pytest.raises(NotLeaderError, match="moved on"):
        await db.migrate_chat("telegram:-2", "telegram:-1002", 20, as_leader=True)
    assert await tables(pg_url) == before
    assert moved == []  # the rule book is not re-keyed either
    await other.migrate_chat("telegram:-2", "telegram:-1002", 30, as_leader=True)  # new leader
    assert [s.id for s in await other.list_subscriptions("telegram:-1002")] == [second]
    assert await other.list_subscriptions("telegram:-2") == []


async def test_delivery_of_a_replaced_leader_does_not_migrate_the_chat(
    db: Database, other: Database, pg_url: str
) -> None:
    """A send on the wire when the takeover came answers "the group moved": the old leader's
    move is refused; the new leader sends the row again and moves the chat itself."""
    sub = await _a_group(db, "telegram:-5")
    before: dict[str, list[Any]] = {}

    async def replaced_mid_send(key: str) -> SendOutcome:
        await takeover(pg_url, other)
        before.update(await tables(pg_url))
        return SendOutcome.migrated("telegram:-1005")

    sender = Sender(replaced_mid_send)
    with pytest.raises(ExceptionGroup) as raised:
        await Delivery(db, {"telegram": sender}, lambda: 1_000).drain()
    refused, rest = raised.value.split(NotLeaderError)
    assert refused is not None and rest is None  # refused by the fence, nothing else
    assert await tables(pg_url) == before
    assert [s.id for s in await other.list_subscriptions("telegram:-5")] == [sub]


# ---- the adapters' writes stay unfenced ------------------------------------------------------


async def test_a_standby_pauses_and_migrates_chats_for_its_webhook(
    db: Database, other: Database, pg_url: str
) -> None:
    """Telegram's my_chat_member and migration updates reach whichever replica the balancer
    picks (bot/chat/telegram_bot.py): the adapter's pause and move are not the leader's."""
    sub = await _a_group(db, "telegram:-7")
    await takeover(pg_url, other)
    db.fencing = lambda: None  # a standby (as is a replica that never led)
    assert await db.pause_chat("telegram:9", "bot was blocked by the user")
    await db.migrate_chat("telegram:-7", "telegram:-1007")
    assert await other.paused_chats() == {"telegram:9", "telegram:-7"}
    assert [s.id for s in await other.list_subscriptions("telegram:-1007")] == [sub]


async def test_a_standby_queues_the_test_message_of_a_command(
    db: Database, other: Database, pg_url: str
) -> None:
    """/test through a standby (webhook mode) queues its message; the leader sends it. The
    leader's own notices stay fenced: a standby's enqueue of those is refused."""
    db.fencing = lambda: None  # a standby
    poked: list[bool] = []
    reply = await run_test(
        db, ChatContext("telegram:5", "telegram"), 1_000, lambda: poked.append(True)
    )
    assert reply.title == "Test queued" and poked == [True]
    (row,) = await other.due_outbox(1_000, 10)
    assert row.chat_key == "telegram:5" and row.message.title == "Test message"
    with pytest.raises(NotLeaderError, match="does not lead"):
        await db.enqueue([OutboxItem("telegram:5", Message(title="notice"), "n", 0)])
    assert len(await other.due_outbox(1_000, 10)) == 1


class Sender:
    """The Sender port double: `decide(chat key)` gives each outcome (may be a coroutine)."""

    platform = "telegram"

    def __init__(self, decide: Any) -> None:
        self.decide = decide
        self.calls: list[str] = []

    async def send(self, chat_key: str, message: Message, *, delivery_id: str = "") -> SendOutcome:
        self.calls.append(chat_key)
        outcome = self.decide(chat_key)
        if not isinstance(outcome, SendOutcome):
            outcome = await outcome
        return outcome  # type: ignore[no-any-return]
