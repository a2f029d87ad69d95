"""Reconnecting politely: backoff resets only after a connection stayed healthy.

A real BinanceSource (it counts as up the moment the link opens) against a fake that accepts
every connection and closes it at once. Simulated time: the source's sleep advances a fake
monotonic clock instead of waiting, so 5 minutes of reconnecting run in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

from bot.sources.binance import BinanceSource
from bot.sources.connection import Backoff, Timing
from tests.fakes.exchanges import FakeConn, FakeVenue
from tests.sources.conftest import RecordingSink

# the production backoff (1 s doubling to 60 s), short protocol timers for the fake
REAL_BACKOFF = Timing(ping_interval_s=5, silence_s=5, max_age_s=3600)
BINANCE_LIMIT_PER_5_MIN = 300  # "300 connections per attempt every 5 minutes per IP"


class SimulatedTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def accept_and_close(conn: FakeConn) -> None:
    await conn.drop()


async def run_for(src: BinanceSource, clock: SimulatedTime, budget_s: float) -> None:
    task = asyncio.create_task(src.run(RecordingSink()))
    try:
        async with asyncio.timeout(20):
            while clock.now < budget_s:
                await asyncio.sleep(0.001)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_accept_and_close_server_gets_few_connections_in_5_minutes() -> None:
    venue = await FakeVenue().start()
    venue.scripts = [accept_and_close]
    clock = SimulatedTime()
    src = BinanceSource(venue.ws_url, rest_url=venue.base, timing=REAL_BACKOFF)
    src.sleep, src.monotonic = clock.sleep, clock.monotonic
    try:
        await run_for(src, clock, 300.0)
    finally:
        await venue.stop()
    opened = len(venue.conns)
    # Worst case (every jitter at its 10% floor): 0.1+0.2+...+3.2 s, then 6 s each: <= 56
    # connections in 300 s. Resetting on each open made it one every 0.1–1 s: hundreds.
    assert 5 <= opened <= 56, opened
    assert opened < BINANCE_LIMIT_PER_5_MIN // 5
    assert max(clock.sleeps) > 30  # it climbed to the cap instead of starting over


def test_backoff_resets_only_after_a_healthy_connection() -> None:
    now = [0.0]
    b = Backoff(1.0, 60.0, random.Random(1), healthy_s=60.0, clock=lambda: now[0])
    for _ in range(6):
        b.opened()
        now[0] += 5  # up for 5 s each time: not healthy
        b.next()
    assert b.attempt == 6
    b.opened()
    now[0] += 59.9
    assert b.next() > 1.0 and b.attempt == 7  # just short of healthy: still climbing
    b.opened()
    now[0] += 60
    assert b.next() <= 1.0 and b.attempt == 1  # healthy for 60 s: a fresh start
    # a failure to connect at all (no open) keeps climbing
    assert b.next() <= 2.0 and b.attempt == 2


@pytest.mark.parametrize("healthy_s", [0.0])
async def test_zero_healthy_time_is_the_old_reset_on_open(healthy_s: float) -> None:
    # The contrast that shows the fake does what the issue describes: with a reset on every
    # open the same server gets about one connection a second (hundreds per 5 minutes, over
    # Binance's 300). Half a simulated minute is enough to show the rate.
    venue = await FakeVenue().start()
    venue.scripts = [accept_and_close]
    clock = SimulatedTime()
    timing = Timing(ping_interval_s=5, silence_s=5, max_age_s=3600, healthy_s=healthy_s)
    src = BinanceSource(venue.ws_url, rest_url=venue.base, timing=timing)
    src.sleep, src.monotonic = clock.sleep, clock.monotonic
    try:
        await run_for(src, clock, 30.0)
    finally:
        await venue.stop()
    assert len(venue.conns) > BINANCE_LIMIT_PER_5_MIN // 10  # the limit's pace: 30 in 30 s
