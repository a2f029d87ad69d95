"""Fencing the Telegram poll: a leader frozen (SIGSTOP) and thawed after a takeover sends no
more getUpdates. With real Telegram a newer poll ends the older one, so a poll from the old
leader could take updates meant for the new one; the lease is checked before every poll, as
before every send.

Each replica talks to its own fake Telegram (same token), so every poll is known by its sender.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable

import pytest

from tests.fakes.exchanges import FakeVenue
from tests.fakes.telegram_api import FakeTelegram
from tests.lifecycle.conftest import TOKEN
from tests.lifecycle.process import ServiceProcess
from tests.replicas.conftest import leads, replica_config

USER = 3003


@pytest.fixture
async def telegram_two() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


def polls(fake: FakeTelegram) -> int:
    return sum(1 for method, _ in fake.calls if method == "getUpdates")


async def test_a_thawed_old_leader_sends_no_more_get_updates(
    pg_url: str,
    telegram: FakeTelegram,
    telegram_two: FakeTelegram,
    binance: FakeVenue,
    replicas: Callable[..., ServiceProcess],
) -> None:
    one = replicas("one", replica_config("one", pg_url, telegram, binance, []))
    two = replicas("two", replica_config("two", pg_url, telegram_two, binance, []))
    await one.start()
    await one.wait_log(leads)
    await telegram.wait_parked()  # the leader's long poll is on the wire
    await two.start()
    await two.wait_log(
        lambda ln: "bot.runtime.app: liqbot run:" in ln
    )  # a standby, trying the lock
    assert polls(telegram_two) == 0  # a standby does not poll

    assert one.proc is not None
    one.proc.send_signal(signal.SIGSTOP)
    try:
        await two.wait_log(leads, timeout=30)
        await telegram_two.wait_parked()  # the new leader polls
        # an update for the frozen leader's poll: its answer waits in the socket, so the thawed
        # PTB loop goes straight on to its next getUpdates (and at stop, to its last one)
        telegram.message(USER, "/help")
        await asyncio.sleep(0.2)
        before = polls(telegram)
    finally:
        one.proc.send_signal(signal.SIGCONT)

    # thawed: its lease has lapsed; it stops (exit 3) without polling again
    assert await asyncio.wait_for(one.proc.wait(), 30) == 3
    await one.terminate()  # collects the rest of its log
    assert polls(telegram) == before, "the old leader polled after the takeover"
    log = one.log_text()
    assert "one no longer leads" in log and "Traceback" not in log, log

    # the new leader answers what its own poll brings (one Telegram numbers the bot's updates
    # once: the second fake goes on from the first one's numbers)
    telegram_two._next_update_id = telegram._next_update_id
    telegram_two.message(USER, "/help")
    await telegram_two.wait_sent(1, USER, timeout=30)
    assert await two.terminate() == 0
    assert "Traceback" not in two.log_text()
