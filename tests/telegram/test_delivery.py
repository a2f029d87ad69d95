"""Alerts through the real path: RuleBook + Engine -> outbox (SQLite) -> Delivery ->
TelegramSender -> real PTB client -> fake Bot API. Failures injected per chat."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat.telegram_limits import TelegramLimits
from bot.domain.models import Liquidation, Side
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import DB_NAME, UNPACED, Stack, make_stack, stack_config

THRESHOLD = 100_000_000.0
BURST = TelegramLimits(global_per_s=300)


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
    return await stack.rt.engine.tick()


def pending_rows(path: Path) -> int:
    with sqlite3.connect(path) as c:
        return c.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]


async def test_alert_to_200_chats_with_a_429_and_a_403(stack: Stack, tmp_path: Path) -> None:
    chats = list(range(1, 201))
    await subscribe(stack, chats)
    stack.fake.fail_next(17, 429, "Too Many Requests: retry after 30", retry_after=30)
    stack.fake.fail_always(42, 403, "Forbidden: bot was blocked by the user")
    assert await wave(stack) == 200

    clock = stack.clock
    delivery = stack.rt.delivery
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
    stats = await stack.rt.delivery.drain()
    assert stats.sent == 1
    assert stack.fake.texts(old) == [] and len(stack.fake.texts(new)) == 1
    assert await stack.db.list_subscriptions(f"telegram:{old}") == []
    (moved,) = await stack.db.list_subscriptions(f"telegram:{new}")
    # the store re-keyed the rule book (the listener app.build registers, once)
    assert stack.db.on_chat_migrated == [stack.service.book.rekey_chat]  # type: ignore[attr-defined]
    assert stack.book.subscription(moved.id).chat_key == f"telegram:{new}"  # type: ignore[union-attr]


async def test_killed_mid_burst_then_restarted_loses_nothing(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    path = tmp_path / DB_NAME
    # Paced at 300/s so the burst lasts ~0.4 s and can be cut in the middle.
    config = stack_config(tmp_path, fake, rate={**UNPACED, "global_per_second": 300})
    stack = await make_stack(tmp_path, fake, config=config)
    chats = list(range(1, 121))
    await subscribe(stack, chats)
    assert await wave(stack) == 120
    drain = asyncio.create_task(stack.rt.delivery.drain())
    await fake.wait_sent(40)
    drain.cancel()  # the process dies here: sends in flight, rows not yet marked
    with pytest.raises(asyncio.CancelledError):
        await drain
    delivered_before = len(fake.sent)
    await stack.kill()
    assert 40 <= delivered_before < 120

    with sqlite3.connect(path) as c:
        marked = c.execute("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").fetchone()[0]
    in_flight = delivered_before - marked  # delivered, but the kill came before mark_sent
    restarted = await make_stack(tmp_path, fake, config=config)  # a new process, same file
    try:
        stats = await restarted.rt.delivery.drain()
        assert stats.sent == 120 - marked
    finally:
        await restarted.close()
    per_chat = Counter(s.chat_id for s in fake.sent)
    assert set(per_chat) == set(chats), "no alert lost"
    resent = [c for c, n in per_chat.items() if n > 1]
    assert all(per_chat[c] == 2 for c in resent)
    assert len(resent) == in_flight  # only what was in flight at the kill went twice
    assert in_flight <= 64  # bounded by Delivery's concurrency
    assert pending_rows(path) == 0
