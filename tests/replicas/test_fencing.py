"""Fencing: a leader frozen (SIGSTOP) with its sends on the wire is replaced; thawed (SIGCONT)
after the takeover, it writes nothing: no outbox mark, no alert state, no send. It sees its lease
lapsed, finds its lock session ended by PostgreSQL, and exits for its supervisor to restart.

Each replica talks to its own fake Telegram (same token), so every send is known by its sender.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable

import pytest

from bot.chat.telegram_bot import SEND_CONNECTIONS
from tests.fakes.exchanges import FakeVenue
from tests.fakes.telegram_api import FakeTelegram
from tests.lifecycle.conftest import TOKEN
from tests.lifecycle.process import ServiceProcess
from tests.replicas.conftest import leads, query, replica_config, wave

CHATS = list(range(8001, 8101))  # 100 chats: more than one leader has on the wire at once


@pytest.fixture
async def telegram_two() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


async def store_rows(url: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Everything a leader writes about alerts: the outbox and the alert states."""
    outbox = await query(
        url, "SELECT id, chat_key, status, attempts, next_ms, sent_ms FROM outbox ORDER BY id"
    )
    states = await query(url, "SELECT * FROM alert_states ORDER BY sub_id")
    return [tuple(r) for r in outbox], [tuple(r) for r in states]


async def test_frozen_old_leader_writes_nothing_after_the_takeover(
    pg_url: str,
    telegram: FakeTelegram,
    telegram_two: FakeTelegram,
    binance: FakeVenue,
    replicas: Callable[..., ServiceProcess],
) -> None:
    one = replicas("one", replica_config("one", pg_url, telegram, binance, CHATS))
    two = replicas("two", replica_config("two", pg_url, telegram_two, binance, CHATS))
    await one.start()
    await one.wait_log(leads)
    conn_one = await asyncio.wait_for(binance.connection(0), 30)
    await two.start()
    conn_two = await asyncio.wait_for(binance.connection(1), 30)

    # The leader's sends reach Telegram but their answers wait: when it freezes, every send it
    # started is on the wire (one per HTTP connection) and the rest wait for a connection
    # before the sender's last check, so none is between that check and the wire.
    telegram.hold_answers()
    await wave([conn_one, conn_two], "ETHUSDT", 600_000, 2, one.now_ms())
    await telegram.wait_sent(SEND_CONNECTIONS, timeout=30)
    assert one.proc is not None
    one.proc.send_signal(signal.SIGSTOP)
    frozen = time.monotonic()
    try:
        line = await two.wait_log(leads, timeout=30)
        print(f"\ntakeover from a frozen leader: {time.monotonic() - frozen:.2f} s ({line})")
        for chat in CHATS:  # the new leader delivers all, the ones in flight included
            await telegram_two.wait_sent(1, chat, timeout=30)
        await asyncio.wait_for(_outbox_settled(pg_url, len(CHATS)), 30)
        sent_by_old = len(telegram.sent)
        assert sent_by_old == SEND_CONNECTIONS
        before = await store_rows(pg_url)
        telegram.release_answers()  # its answers arrive while it is still frozen
    finally:
        one.proc.send_signal(signal.SIGCONT)

    # thawed: its lease has lapsed, its lock session is gone; it stops without writing
    assert await asyncio.wait_for(one.proc.wait(), 30) == 3
    await one.terminate()  # collects the rest of its log
    assert await store_rows(pg_url) == before, "the old leader wrote after the takeover"
    assert len(telegram.sent) == sent_by_old, "the old leader sent after the takeover"
    log = one.log_text()
    assert "one no longer leads" in log, log
    assert "Traceback" not in log, log

    epoch = await query(pg_url, "SELECT epoch, leader FROM leadership")
    assert (epoch[0][0], epoch[0][1]) == (2, "two")
    per_chat = {c: len(telegram_two.texts(c)) for c in CHATS}
    assert set(per_chat.values()) == {1}, "the new leader sent each alert once"
    assert await two.terminate() == 0
    assert "Traceback" not in two.log_text()


async def _outbox_settled(url: str, rows: int) -> None:
    """Until the new leader has marked every alert row sent (polls the store)."""
    while True:
        done = await query(url, "SELECT count(*) FROM outbox WHERE status = 'sent'")
        if done[0][0] >= rows:
            return
        await asyncio.sleep(0.1)
