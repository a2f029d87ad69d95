from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.domain.message import Message
from bot.domain.models import Side
from bot.runtime.delivery import Delivery, SendOutcome
from bot.store import Database, OutboxItem

H = 3_600_000


class Clock:
    def __init__(self, now: int = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class RecordingSender:
    """The Sender port double: records every call; `decide` picks each outcome."""

    def __init__(
        self,
        platform: str,
        decide: Callable[[str, Message], SendOutcome] | None = None,
        gate: Callable[[], object] | None = None,
    ) -> None:
        self.platform = platform
        self.calls: list[tuple[str, str]] = []
        self.decide = decide or (lambda _k, _m: SendOutcome.sent())
        self.in_flight: dict[str, int] = {}
        self.max_total = 0
        self.max_per_chat = 0
        self.gate = gate
        self.sent_event = asyncio.Event()

    async def send(self, chat_key: str, message: Message, *, delivery_id: str = "") -> SendOutcome:
        self.calls.append((chat_key, message.title))
        self.in_flight[chat_key] = self.in_flight.get(chat_key, 0) + 1
        self.max_per_chat = max(self.max_per_chat, self.in_flight[chat_key])
        self.max_total = max(self.max_total, sum(self.in_flight.values()))
        try:
            if self.gate is not None:
                await self.gate()  # type: ignore[misc]
            for _ in range(3):
                await asyncio.sleep(0)  # give other chats the chance to overlap
            outcome = self.decide(chat_key, message)
        finally:
            self.in_flight[chat_key] -= 1
        if outcome.outcome == "sent":
            self.sent_event.set()
        return outcome


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.sqlite")
    yield database
    await database.close()


async def enqueue(db: Database, chat: str, *titles: str, created_ms: int = 1_000_000) -> None:
    await db.enqueue(
        [OutboxItem(chat, Message(title=t), f"{chat}/{t}", created_ms) for t in titles]
    )


def titles_for(sender: RecordingSender, chat: str) -> list[str]:
    return [t for k, t in sender.calls if k == chat]


async def test_per_chat_order_and_chats_run_concurrently(db: Database) -> None:
    chats = ["telegram:1", "telegram:2", "telegram:3"]
    for c in chats:
        await enqueue(db, c, "m1", "m2", "m3")
    all_in = asyncio.Event()
    sender: RecordingSender

    async def gate() -> None:
        if sum(sender.in_flight.values()) == len(chats):
            all_in.set()
        # every chat's first send waits until all three chats are in flight at once
        await asyncio.wait_for(all_in.wait(), timeout=5)

    sender = RecordingSender("telegram", gate=gate)
    stats = await Delivery(db, {"telegram": sender}, Clock()).drain()
    assert (stats.fetched, stats.sent, stats.retried, stats.dead) == (9, 9, 0, 0)
    assert sender.max_total == 3 and sender.max_per_chat == 1
    for c in chats:
        assert titles_for(sender, c) == ["m1", "m2", "m3"]
    assert await db.due_outbox(10**12, 100) == []  # all marked sent


async def test_max_concurrency_bounds_chats_in_flight(db: Database) -> None:
    for i in range(6):
        await enqueue(db, f"telegram:{i}", "a", "b")
    sender = RecordingSender("telegram")
    stats = await Delivery(db, {"telegram": sender}, Clock(), max_concurrency=2).drain()
    assert stats.sent == 12
    assert sender.max_total == 2


async def test_retry_after_is_honoured_and_keeps_order(db: Database) -> None:
    await enqueue(db, "telegram:1", "a1", "a2")
    await enqueue(db, "telegram:2", "b1")
    flaky = {"a1": [SendOutcome.retry(30.0, "429 Too Many Requests")]}

    def decide(_k: str, m: Message) -> SendOutcome:
        queued = flaky.get(m.title)
        return queued.pop(0) if queued else SendOutcome.sent()

    clock = Clock()
    sender = RecordingSender("telegram", decide)
    delivery = Delivery(db, {"telegram": sender}, clock, rng=random.Random(1))
    t0 = clock.now
    stats = await delivery.drain()
    assert (stats.sent, stats.retried) == (1, 1)
    assert titles_for(sender, "telegram:1") == ["a1"]  # a2 did not overtake a1
    a1 = (await db.due_outbox(10**12, 10))[0]
    assert await db.outbox_status(a1.id) == ("pending", 1, t0 + 30_000, "429 Too Many Requests")
    clock.now = t0 + 29_999
    assert (await delivery.drain()).fetched == 0
    clock.now = t0 + 30_000
    stats = await delivery.drain()
    assert stats.sent == 2
    assert titles_for(sender, "telegram:1") == ["a1", "a1", "a2"]


def test_backoff_is_exponential_jittered_and_capped() -> None:
    d = Delivery(None, {}, Clock(), rng=random.Random(7))  # type: ignore[arg-type]
    for attempts, lo, hi in [(0, 500, 1_000), (3, 4_000, 8_000), (20, 150_000, 300_000)]:
        samples = {d.backoff_ms(attempts) for _ in range(50)}
        assert all(lo <= s <= hi for s in samples), (attempts, samples)
        assert len(samples) > 1  # jittered: a herd of retries does not come back together
    assert d.backoff_ms(0, retry_after_s=600) == 600_000  # the platform's word beats the cap


async def test_permanent_pauses_once_logs_once_without_token(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    chat = "telegram:42"
    sub = await db.add_subscription(chat, "BTC", 60, Side.LONG, 1e8, now_ms=1)
    await enqueue(db, chat, "m1", "m2")
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    sender = RecordingSender(
        "telegram",
        lambda _k, _m: SendOutcome.permanent(f"Forbidden: bot was blocked (url bot{token})"),
    )
    delivery = Delivery(db, {"telegram": sender}, Clock())
    caplog.set_level(logging.INFO, logger="bot.runtime.delivery")
    stats = await delivery.drain()
    assert (stats.dead, stats.paused, stats.sent) == (1, 1, 0)
    chat_row = await db.get_chat(chat)
    assert chat_row is not None and "blocked" in (chat_row.paused_reason or "")
    assert token not in (chat_row.paused_reason or "")
    assert sub.id not in {s.id for s in await db.active_subscriptions()}
    # m2 stays pending but is not fetched while the chat is paused
    assert (await delivery.drain()).fetched == 0
    assert titles_for(sender, chat) == ["m1"]
    paused_logs = [r for r in caplog.records if "paused" in r.getMessage()]
    assert len(paused_logs) == 1 and paused_logs[0].levelno == logging.WARNING
    assert token not in caplog.text
    # /start resumes: the kept message goes out
    await db.resume_chat(chat)
    sender.decide = lambda _k, _m: SendOutcome.sent()
    assert (await delivery.drain()).sent == 1
    assert titles_for(sender, chat) == ["m1", "m2"]


async def test_migrated_moves_the_chat_and_resends(db: Database) -> None:
    old, new = "telegram:-100", "telegram:-100999"
    sub = await db.add_subscription(old, "ETH", 15, Side.SHORT, 5e6, now_ms=1)
    await enqueue(db, old, "m1", "m2")

    def decide(key: str, _m: Message) -> SendOutcome:
        return SendOutcome.migrated(new) if key == old else SendOutcome.sent()

    sender = RecordingSender("telegram", decide)
    stats = await Delivery(db, {"telegram": sender}, Clock()).drain()
    assert (stats.sent, stats.migrated, stats.dead) == (2, 1, 0)
    assert sender.calls == [(old, "m1"), (new, "m1"), (new, "m2")]
    assert [s.id for s in await db.list_subscriptions(new)] == [sub.id]
    assert await db.list_subscriptions(old) == []
    assert await db.due_outbox(10**12, 10) == []


async def test_migration_loop_is_not_followed_forever(db: Database) -> None:
    await enqueue(db, "telegram:1", "m")
    sender = RecordingSender("telegram", lambda k, _m: SendOutcome.migrated(k + "0"))
    stats = await Delivery(db, {"telegram": sender}, Clock()).drain()
    assert len(sender.calls) == 2 and stats.retried == 1


async def test_a_raising_sender_is_a_retry(db: Database) -> None:
    await enqueue(db, "telegram:1", "boom")
    await enqueue(db, "telegram:2", "fine")

    def decide(_k: str, m: Message) -> SendOutcome:
        if m.title == "boom":
            raise RuntimeError("connection reset")
        return SendOutcome.sent()

    sender = RecordingSender("telegram", decide)
    stats = await Delivery(db, {"telegram": sender}, Clock()).drain()
    assert (stats.sent, stats.retried) == (1, 1)
    row = (await db.due_outbox(10**12, 10))[0]
    status = await db.outbox_status(row.id)
    assert status is not None and status[0:2] == ("pending", 1)
    assert status[3] == "sender raised RuntimeError"


async def test_gives_up_after_max_attempts_then_moves_on(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await enqueue(db, "telegram:1", "bad", "good")
    sender = RecordingSender(
        "telegram",
        lambda _k, m: SendOutcome.retry(0, "502") if m.title == "bad" else SendOutcome.sent(),
    )
    clock = Clock()
    delivery = Delivery(db, {"telegram": sender}, clock, max_attempts=3)
    caplog.set_level(logging.WARNING, logger="bot.runtime.delivery")
    results = []
    for _ in range(3):
        results.append(await delivery.drain())
        clock.now += 10 * 60_000  # past any backoff
    assert [(s.retried, s.dead, s.sent) for s in results] == [(1, 0, 0), (1, 0, 0), (0, 1, 1)]
    assert titles_for(sender, "telegram:1") == ["bad", "bad", "bad", "good"]
    assert "after 3 attempts" in caplog.text


async def test_too_old_rows_are_dropped_unsent(db: Database) -> None:
    await enqueue(db, "telegram:1", "stale", created_ms=0)
    await enqueue(db, "telegram:1", "fresh", created_ms=6 * H)
    sender = RecordingSender("telegram")
    stats = await Delivery(db, {"telegram": sender}, Clock(6 * H + 1)).drain()
    assert (stats.dead, stats.sent) == (1, 1)
    assert sender.calls == [("telegram:1", "fresh")]


async def test_platform_without_sender_stays_pending_logged_once(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await enqueue(db, "discord:channel:5", "d")
    await enqueue(db, "telegram:1", "t")
    sender = RecordingSender("telegram")
    delivery = Delivery(db, {"telegram": sender}, Clock())
    caplog.set_level(logging.WARNING, logger="bot.runtime.delivery")
    first, second = await delivery.drain(), await delivery.drain()
    assert (first.sent, second.fetched) == (1, 0)
    assert [r.chat_key for r in await db.due_outbox(10**12, 10)] == ["discord:channel:5"]
    assert sum("discord" in r.getMessage() for r in caplog.records) == 1


async def test_drains_never_overlap(db: Database) -> None:
    for i in range(4):
        await enqueue(db, f"telegram:{i}", "a", "b")
    sender = RecordingSender("telegram")
    delivery = Delivery(db, {"telegram": sender}, Clock())
    a, b = await asyncio.gather(delivery.drain(), delivery.drain())
    assert a.sent + b.sent == 8
    assert sorted(sender.calls) == sorted({*sender.calls})  # nothing sent twice


async def test_run_forever_wakes_on_the_event(db: Database) -> None:
    sender = RecordingSender("telegram")
    delivery = Delivery(db, {"telegram": sender}, Clock())
    wake = asyncio.Event()
    task = asyncio.create_task(delivery.run_forever(wake, interval_s=3600))
    try:
        await asyncio.sleep(0)
        await enqueue(db, "telegram:1", "alert")
        wake.set()
        await asyncio.wait_for(sender.sent_event.wait(), timeout=5)
        assert sender.calls == [("telegram:1", "alert")]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# ---- freshness: the newest news first, stale alerts dropped -----------------------------------


async def test_a_fresh_alert_overtakes_an_old_burst_and_channels_go_first(db: Database) -> None:
    clock = Clock(10 * H)
    await db.ensure_chat("telegram:-100777", "channel")
    for i in range(20):  # an old burst to 20 private chats
        await enqueue(db, f"telegram:{i + 1}", "old", created_ms=10 * H - 600_000)
    await enqueue(db, "telegram:-100777", "chan", created_ms=10 * H - 900_000)
    await enqueue(db, "telegram:999", "fresh", created_ms=10 * H - 1_000)
    sender = RecordingSender("telegram")
    delivery = Delivery(db, {"telegram": sender}, clock, max_concurrency=1)
    await delivery.drain()
    # one at a time, so the send order is the delivery order
    assert sender.calls[0] == ("telegram:-100777", "chan")
    assert sender.calls[1] == ("telegram:999", "fresh")
    assert len(sender.calls) == 22


async def test_an_alert_older_than_its_window_is_dropped_and_shown_in_status(
    db: Database,
) -> None:
    from bot.chat.context import ChatContext
    from bot.chat.service import CommandService, ServiceSettings
    from bot.domain.rules import Policy, RuleBook
    from tests.chat.test_service import FakeMarket

    clock = Clock(10 * H)
    made = 10 * H - 6 * 60_000  # 6 minutes ago
    await db.enqueue(
        [
            OutboxItem("telegram:1", Message("5m alert"), "a5", made, made + 5 * 60_000),
            OutboxItem("telegram:1", Message("1h alert"), "a60", made, made + H),
        ]
    )
    sender = RecordingSender("telegram")
    stats = await Delivery(db, {"telegram": sender}, clock).drain()
    assert (stats.expired, stats.sent) == (1, 1)
    assert sender.calls == [("telegram:1", "1h alert")]  # the stale one never went out
    assert await Delivery(db, {"telegram": sender}, clock).drain() == type(stats)()  # once
    service = CommandService(db, FakeMarket(), RuleBook(Policy()), ServiceSettings(), clock)
    reply = await service.handle_text(ChatContext("telegram:5", "telegram"), "/status")
    assert "1 alert dropped in 24h: older than its window" in reply.messages[0].lines


async def test_sent_marks_are_group_committed_and_each_stored_before_the_chats_next_row(
    db: Database,
) -> None:
    """Issue 18 item 2: marks that arrive during one write go in the next, so 300 sends take
    far fewer transactions; yet a chat's next row goes only once its previous one is stored."""
    chats = [f"telegram:{i}" for i in range(100)]
    for chat in chats:
        await enqueue(db, chat, "m1", "m2", "m3")
    stored_before_next: list[bool] = []
    last_id: dict[str, int] = {}

    class Checking(RecordingSender):
        async def send(
            self, chat_key: str, message: Message, *, delivery_id: str = ""
        ) -> SendOutcome:
            if chat_key in last_id:
                status = await db.outbox_status(last_id[chat_key])
                stored_before_next.append(status is not None and status[0] == "sent")
            last_id[chat_key] = int(delivery_id)
            return await super().send(chat_key, message, delivery_id=delivery_id)

    writes = 0
    real = db.mark_sent_many

    async def counting(marks):  # type: ignore[no-untyped-def]
        nonlocal writes
        writes += 1
        await real(marks)

    db.mark_sent_many = counting  # type: ignore[method-assign]
    sender = Checking("telegram")
    stats = await Delivery(db, {"telegram": sender}, Clock()).drain()
    assert stats.sent == 300
    assert len(stored_before_next) == 200 and all(stored_before_next)
    assert writes < 300 / 4, f"{writes} transactions for 300 marks"
    assert await db.due_outbox(10**9, 1000) == []


async def test_a_failed_mark_write_fails_every_send_of_its_batch(db: Database) -> None:
    for i in range(10):
        await enqueue(db, f"telegram:{i}", "m1")

    async def broken(marks):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk I/O error")

    db.mark_sent_many = broken  # type: ignore[method-assign]
    with pytest.raises(ExceptionGroup) as group:
        await Delivery(db, {"telegram": RecordingSender("telegram")}, Clock()).drain()
    assert all("disk I/O error" in str(e) for e in group.value.exceptions)
    assert len(await db.due_outbox(10**9, 100)) == 10  # nothing counted as stored


async def test_rows_for_a_platform_that_is_off_are_told_once_and_kept(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    await enqueue(db, "discord:channel:1", "d1")
    await enqueue(db, "telegram:1", "t1")
    sender = RecordingSender("telegram")
    delivery = Delivery(db, {"telegram": sender}, clock)
    with caplog.at_level(logging.WARNING):
        await delivery.drain()
        clock.now += 120_000  # checked again a minute later: still off, not told again
        await enqueue(db, "discord:channel:2", "d2", created_ms=clock.now)
        await delivery.drain()
    told = [r for r in caplog.records if "which is off" in r.getMessage()]
    assert len(told) == 1 and "discord" in told[0].getMessage()
    assert sender.calls == [("telegram:1", "t1")]
    assert await db.pending_platforms() == {"discord"}  # kept for when discord is on
