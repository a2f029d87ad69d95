"""Alerts through the real path: RuleBook + Engine -> outbox (SQLite) -> Delivery ->
TelegramSender -> real PTB client -> fake Bot API. Failures injected per chat."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot

from bot.chat.telegram_sender import TelegramLimits, TelegramSender
from bot.delivery import Delivery
from bot.domain.models import Liquidation, Side
from bot.engine import Engine
from bot.store import Database
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import Stack, make_stack

THRESHOLD = 100_000_000.0
BURST = TelegramLimits(global_per_s=300)


class Skew:
    """Delivery's clock: wall time plus a jump, so backoffs come due without sleeping."""

    def __init__(self, stack: Stack) -> None:
        self.base = stack.service.clock
        self.ahead_ms = 0

    def __call__(self) -> int:
        return self.base() + self.ahead_ms


@pytest.fixture
async def stack(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[Stack]:
    st = await make_stack(tmp_path, fake)
    yield st
    await st.close()


async def subscribe(stack: Stack, chat_ids: list[int]) -> None:
    now = stack.service.clock()
    for cid in chat_ids:
        key = f"telegram:{cid}"
        await stack.db.ensure_chat(key, "private" if cid > 0 else "group")
        sub = await stack.db.add_subscription(key, "BTC", 60, Side.TOTAL, THRESHOLD, now)
        stack.book.add(sub)


async def wave(stack: Stack) -> int:
    """BTC liquidations cross every subscription's line; the engine queues the alerts."""
    now = stack.service.clock()
    stack.market.events(
        "binance", [Liquidation("binance", "BTC", Side.LONG, 150_000_000.0, now - 1000, "BTCUSDT")]
    )
    return await Engine(stack.db, stack.book, stack.market, stack.bot_clock).tick()


def pending_rows(path: Path) -> int:
    with sqlite3.connect(path) as c:
        return c.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]


async def test_alert_to_200_chats_with_a_429_and_a_403(stack: Stack, tmp_path: Path) -> None:
    chats = list(range(1, 201))
    await subscribe(stack, chats)
    stack.fake.fail_next(17, 429, "Too Many Requests: retry after 30", retry_after=30)
    stack.fake.fail_always(42, 403, "Forbidden: bot was blocked by the user")
    assert await wave(stack) == 200

    clock = Skew(stack)
    delivery = Delivery(stack.db, {"telegram": stack.bot.sender}, clock)
    first = await delivery.drain()
    assert (first.sent, first.retried, first.paused) == (198, 1, 1)
    # Chat 17 waits at least the 30 s Telegram asked for: not due yet 20 s later.
    clock.ahead_ms = 20_000
    assert (await delivery.drain()).sent == 0
    clock.ahead_ms = 10 * 60_000
    assert (await delivery.drain()).sent == 1

    per_chat = Counter(s.chat_id for s in stack.fake.sent)
    assert per_chat[42] == 0
    assert all(per_chat[c] == 1 for c in chats if c != 42), "exactly one alert per chat"
    assert "BTC" in stack.fake.texts(17)[0]
    blocked = await stack.db.get_chat("telegram:42")
    assert blocked is not None and "blocked" in (blocked.paused_reason or "")
    active = {s.chat_key for s in await stack.db.active_subscriptions()}
    assert "telegram:42" not in active and "telegram:17" in active
    assert pending_rows(tmp_path / "bot.db") == 0


async def test_migrated_group_gets_the_alert_at_its_new_id(stack: Stack) -> None:
    old, new = -7001, -1007001
    await subscribe(stack, [old])
    stack.fake.fail_next(
        old,
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=new,
    )
    assert await wave(stack) == 1
    stats = await Delivery(stack.db, {"telegram": stack.bot.sender}, stack.service.clock).drain()
    assert stats.sent == 1
    assert stack.fake.texts(old) == [] and len(stack.fake.texts(new)) == 1
    assert await stack.db.list_subscriptions(f"telegram:{old}") == []
    assert len(await stack.db.list_subscriptions(f"telegram:{new}")) == 1


async def test_killed_mid_burst_then_restarted_loses_nothing(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    path = tmp_path / "bot.db"
    stack = await make_stack(tmp_path, fake)
    chats = list(range(1, 121))
    await subscribe(stack, chats)
    assert await wave(stack) == 120
    # Paced at 300/s so the burst lasts ~0.4 s and can be cut in the middle.
    sender = TelegramSender(stack.bot.app.bot, BURST)
    delivery = Delivery(stack.db, {"telegram": sender}, stack.service.clock)
    drain = asyncio.create_task(delivery.drain())
    await fake.wait_sent(40)
    drain.cancel()  # the process dies here: sends in flight, rows not yet marked
    with pytest.raises(asyncio.CancelledError):
        await drain
    delivered_before = len(fake.sent)
    await stack.close()
    assert 40 <= delivered_before < 120

    db = await Database.open(path)  # a new process on the same file
    try:
        with sqlite3.connect(path) as c:
            marked = c.execute("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").fetchone()[0]
        in_flight = delivered_before - marked  # delivered, but the kill came before mark_sent
        sender2 = TelegramSender(Bot(fake.token, base_url=fake.base_url), BURST)
        await sender2.bot.initialize()
        stats = await Delivery(db, {"telegram": sender2}, stack.service.clock).drain()
        await sender2.bot.shutdown()
        assert stats.sent == 120 - marked
    finally:
        await db.close()
    per_chat = Counter(s.chat_id for s in fake.sent)
    assert set(per_chat) == set(chats), "no alert lost"
    resent = [c for c, n in per_chat.items() if n > 1]
    assert all(per_chat[c] == 2 for c in resent)
    assert len(resent) == in_flight  # only what was in flight at the kill went twice
    assert in_flight <= 64  # bounded by Delivery's concurrency
    assert pending_rows(path) == 0
