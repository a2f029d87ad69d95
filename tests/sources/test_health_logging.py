"""A source that keeps failing is logged once per transition, not once per retry."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.domain.aggregate import Aggregator
from bot.domain.health import SourceHealth
from bot.domain.source_fault import Fault
from bot.runtime.clock import Clock
from bot.runtime.market_view import LiveMarket
from bot.sources.binance import BinanceSource
from tests.fakes.exchanges import FakeConn, FakeVenue, binance_frame
from tests.sources.conftest import FAST, running

NOW = Clock().now_ms()


async def test_offline_source_logs_one_warning_for_many_retries_and_one_on_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    accepted = asyncio.Condition()
    count = 0

    async def slam(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        writer.close()  # TCP accepted, websocket handshake never answered
        async with accepted:
            count += 1
            accepted.notify_all()

    server = await asyncio.start_server(slam, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = Clock()
    market = LiveMarket(Aggregator(), SourceHealth(["binance"], clock.now_ms()), clock)
    url = f"127.0.0.1:{port}"
    src = BinanceSource(f"ws://{url}/ws", rest_url=f"http://{url}", timing=FAST)
    async with running(src, market), accepted:
        await asyncio.wait_for(accepted.wait_for(lambda: count >= 12), 10)  # REST and websocket
    server.close()
    noisy = sorted(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert len(noisy) == 2, noisy  # one line per failing thing, however many retries
    assert noisy[0].startswith("binance: exchangeInfo failed")
    assert noisy[1] == (
        "source binance is down (handshake_refused): websocket handshake failed: did not receive"
        " a valid HTTP response"
    )
    (status,) = market.status(clock.now_ms())
    assert status.state == "down" and "handshake" in status.note
    assert status.fault is Fault.HANDSHAKE_REFUSED
    assert status.gaps == ()  # no ended outage: the current one is the state and its Fault
    assert [end for _, end in market.health.gaps(0, "binance")] == [None]  # one, still open


async def test_recovery_is_one_info_line_and_the_outage_is_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    venue = await FakeVenue().start()

    async def first(conn: FakeConn) -> None:
        await conn.send(binance_frame("BTCUSDT", "SELL", 1, 100, NOW))
        await conn.drop()

    async def later(conn: FakeConn) -> None:
        await conn.send(binance_frame("BTCUSDT", "BUY", 1, 200, NOW))
        await conn.silent()

    venue.scripts = [first, later]
    clock = Clock()
    market = LiveMarket(Aggregator(), SourceHealth(["binance"], clock.now_ms()), clock)
    arrived = asyncio.Event()
    market.on_data = arrived.set
    src = BinanceSource(venue.ws_url, rest_url=venue.base, timing=FAST)
    try:
        async with running(src, market):
            async with asyncio.timeout(10):
                while market.status(clock.now_ms())[0].events < 2:
                    arrived.clear()
                    await arrived.wait()
    finally:
        await venue.stop()
    lines = [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "bot.runtime.market_view"
    ]
    assert [level for level, _ in lines] == ["INFO", "WARNING", "INFO"]  # up, down, up
    (status,) = market.status(clock.now_ms())
    assert status.state == "up" and status.events == 2
    assert len(market.health.take_ended()) == 2  # the start-up gap and the drop, to persist
