"""BinanceSource against a fake `!forceOrder@arr` server over real websockets."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from bot.domain.models import Side
from bot.sources.binance import BinanceSource
from tests.fakes.exchanges import FakeConn, FakeVenue, binance_frame
from tests.sources.conftest import FAST, RecordingSink, running

T0 = 1_700_000_000_000


@pytest.fixture
async def venue():
    v = await FakeVenue().start()
    yield v
    await v.stop()


async def test_normal_flow_exact_usd_and_sides(venue: FakeVenue, sink: RecordingSink) -> None:
    sink.clock = lambda: T0

    async def script(conn: FakeConn) -> None:
        await conn.send(binance_frame("BTCUSDT", "SELL", 0.5, 60000, T0))  # long 30,000
        await conn.send(binance_frame("ETHUSDT", "BUY", 2, 3000, T0 + 1))  # short 6,000
        await conn.send([binance_frame("1000PEPEUSDT", "SELL", 1e6, 0.01, T0 + 2)])  # long 10,000
        await conn.silent()

    venue.scripts = [script]
    src = BinanceSource(venue.ws_url, timing=FAST, clock=lambda: T0)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 3)
    assert sink.usd(Side.LONG) == pytest.approx(40_000)
    assert sink.usd(Side.SHORT) == pytest.approx(6_000)
    assert {e.coin for e in sink.events_in} == {"BTC", "ETH", "PEPE"}
    assert sink.kinds() == ["up"]
    st = sink.status(src.name)
    assert (st.state, st.events, st.skipped, st.last_data_ms) == ("up", 3, 0, T0)


async def test_dropped_connection_is_one_outage_and_data_after_reconnect_counts(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    async def first(conn: FakeConn) -> None:
        await conn.send(binance_frame("BTCUSDT", "SELL", 1, 100, T0))
        await conn.drop()

    async def later(conn: FakeConn) -> None:
        await conn.send(binance_frame("BTCUSDT", "BUY", 1, 200, T0 + 5))
        await conn.silent()

    venue.scripts = [first, later]
    src = BinanceSource(venue.ws_url, timing=FAST)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 2)
    assert sink.kinds() == ["up", "down", "up"]
    down = next(c for c in sink.calls if c[0] == "down")
    assert "closed" in down[2]
    assert [e.usd for e in sink.events_in] == [100.0, 200.0]
    assert sink.status(src.name).events == 2 and src.connections == 2
    assert len(sink.status(src.name).gaps) == 1 and sink.status(src.name).gaps[0].endswith("UTC")


async def test_silent_connection_is_caught_by_the_watchdog(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    async def silent(conn: FakeConn) -> None:
        await conn.send(binance_frame("BTCUSDT", "SELL", 1, 100, T0))
        await conn.silent()  # open, answering protocol pings, but no data

    venue.scripts = [silent]
    # the config knob overrides the venue timing: without it the watchdog would wait 5 s
    src = BinanceSource(venue.ws_url, timing=replace(FAST, silence_s=5), watchdog_s=0.3)
    async with running(src, sink):
        await sink.until(lambda s: s.kinds()[:3] == ["up", "down", "up"])
        await venue.connection(1)
    reason = next(c[2] for c in sink.calls if c[0] == "down")
    assert "watchdog" in reason
    assert venue.conns[0].ws.closed  # the client closed the silent link


async def test_malformed_and_unknown_frames_are_skipped_and_counted(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.send("garbage{")
        await conn.send(json.dumps({"e": "aggTrade", "s": "BTCUSDT"}))
        await conn.send(json.dumps({"e": "forceOrder", "o": {"s": "BTCUSDT", "S": "SELL"}}))
        await conn.send(binance_frame("SOLUSDT", "SELL", 10, 150, T0))
        await conn.silent()

    venue.scripts = [script]
    src = BinanceSource(venue.ws_url, timing=FAST)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 1)
    assert sink.status(src.name).skipped == 3
    assert sink.status(src.name).events == 1 and sink.events_in[0].usd == 1500.0
    assert "down" not in sink.kinds()


async def test_refused_handshakes_report_down_once_and_keep_retrying(sink: RecordingSink) -> None:
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
    src = BinanceSource(f"ws://127.0.0.1:{port}/ws", timing=FAST)
    async with running(src, sink) as task:
        async with accepted:
            await asyncio.wait_for(accepted.wait_for(lambda: count >= 4), 5)
        assert not task.done()
    server.close()
    assert sink.kinds() == ["down"]  # four failures, one outage
    assert sink.status(src.name).state == "down" and sink.status(src.name).note


async def test_nothing_listening_is_an_outage_not_a_crash(sink: RecordingSink) -> None:
    v = await FakeVenue().start()
    url = v.ws_url
    await v.stop()
    src = BinanceSource(url, timing=FAST)
    async with running(src, sink):
        await sink.until(lambda s: "down" in s.kinds())
    assert "cannot connect" in sink.status(src.name).note


async def test_planned_reconnect_before_max_age_is_not_an_outage(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.send(binance_frame("BTCUSDT", "SELL", 1, 100, T0))
        await conn.silent()

    venue.scripts = [script]
    timing = replace(FAST, max_age_s=0.15, silence_s=5)
    src = BinanceSource(venue.ws_url, timing=timing)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) >= 3)
    assert src.connections >= 3
    assert "down" not in sink.kinds()


async def test_an_open_link_is_up_before_any_liquidation(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    venue.scripts = [lambda conn: conn.silent()]  # a quiet market: nothing to send yet
    src = BinanceSource(venue.ws_url, timing=replace(FAST, silence_s=5))
    async with running(src, sink):
        await sink.until(lambda s: "up" in s.kinds())
        assert sink.status(src.name).state == "up" and sink.status(src.name).events == 0
