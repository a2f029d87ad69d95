"""BinanceSource against a fake `!forceOrder@arr` server over real websockets."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from bot.domain.models import Side
from bot.domain.source_fault import Fault
from bot.sources.binance import BinanceSource
from tests.fakes.exchanges import FakeConn, FakeVenue, binance_exchange_info, binance_frame
from tests.sources.conftest import FAST, RecordingSink, running

T0 = 1_700_000_000_000
RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"


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
    src = BinanceSource(venue.ws_url, rest_url=venue.base, timing=FAST, clock=lambda: T0)
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
    src = BinanceSource(venue.ws_url, rest_url=venue.base, timing=FAST)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 2)
    assert sink.kinds() == ["up", "down", "up"]
    down = next(c for c in sink.calls if c[0] == "down")
    assert down[2].fault is Fault.DISCONNECTED and "closed" in down[2].detail
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
    src = BinanceSource(
        venue.ws_url, rest_url=venue.base, timing=replace(FAST, silence_s=5), watchdog_s=0.3
    )
    async with running(src, sink):
        await sink.until(lambda s: s.kinds()[:3] == ["up", "down", "up"])
        await venue.connection(1)
    reason = next(c[2] for c in sink.calls if c[0] == "down")
    assert reason.fault is Fault.STALE and "watchdog" in reason.detail
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
    src = BinanceSource(venue.ws_url, rest_url=venue.base, timing=FAST)
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
    src = BinanceSource(
        f"ws://127.0.0.1:{port}/ws", rest_url=f"http://127.0.0.1:{port}", timing=FAST
    )
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
    src = BinanceSource(url, rest_url=v.base, timing=FAST)
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
    src = BinanceSource(venue.ws_url, rest_url=venue.base, timing=timing)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) >= 3)
    assert src.connections >= 3
    assert "down" not in sink.kinds()


async def test_an_open_link_is_up_before_any_liquidation(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    venue.scripts = [lambda conn: conn.silent()]  # a quiet market: nothing to send yet
    src = BinanceSource(venue.ws_url, rest_url=venue.base, timing=replace(FAST, silence_s=5))
    async with running(src, sink):
        await sink.until(lambda s: "up" in s.kinds())
        assert sink.status(src.name).state == "up" and sink.status(src.name).events == 0


async def test_live_frames_with_ps_and_st_are_usdm_and_coins_come_from_exchange_info(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    """Every frame of the USDⓈ-M stream is z × ap, whatever its fields or symbol look like."""
    venue.rest["/fapi/v1/exchangeInfo"] = binance_exchange_info(
        {"BTCUSDT_210924": "BTC", "XYZ9USDT": "XYZ"}
    )
    derived = json.loads((RECORDED / "derived_frames.json").read_text())["frames"]
    ps_st = next(f["frame"] for f in derived if f["id"].endswith("BTCUSDT+ps+st"))
    quarterly = next(f["frame"] for f in derived if f["id"].endswith("BTCUSDT_210924"))

    async def script(conn: FakeConn) -> None:
        await conn.send(ps_st)
        await conn.send(quarterly)
        await conn.send(binance_frame("XYZ9USDT", "SELL", 2, 10, T0))
        await conn.silent()

    venue.scripts = [script]
    src = BinanceSource(venue.ws_url, rest_url=venue.base, timing=FAST)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 3)
    assert [(e.coin, e.side) for e in sink.events_in] == [
        ("BTC", Side.SHORT), ("BTC", Side.SHORT), ("XYZ", Side.LONG),
    ]  # fmt: skip
    assert [e.usd for e in sink.events_in] == pytest.approx([0.014 * 4706.04] * 2 + [20.0])
    assert venue.rest_calls == ["/fapi/v1/exchangeInfo"]


async def test_a_failing_exchange_info_does_not_stop_the_stream(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.send(binance_frame("1000PEPEUSDT", "SELL", 1e6, 0.01, T0))
        await conn.silent()

    venue.scripts = [script]  # no exchangeInfo route: 404
    src = BinanceSource(venue.ws_url, rest_url=venue.base, timing=FAST)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 1)
    assert sink.events_in[0].coin == "PEPE" and sink.kinds() == ["up"]
