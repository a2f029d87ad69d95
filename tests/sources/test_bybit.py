"""BybitSource against a fake v5 linear stream and instruments REST over real sockets."""

from __future__ import annotations

import json

import pytest

from bot.domain.models import Side
from bot.domain.source_fault import Fault
from bot.sources.bybit import BybitSource
from tests.fakes.exchanges import FakeConn, FakeVenue, bybit_frame, bybit_instruments, bybit_reply
from tests.sources.conftest import FAST, RecordingSink, running

T0 = 1_739_502_302_929
# 23 trading symbols over two pages, plus one that is not trading
PAGES = [
    [(f"C{i}USDT", "Trading") for i in range(15)] + [("DEADUSDT", "Closed")],
    [(f"C{i}USDT", "Trading") for i in range(15, 21)]
    + [("BTCUSDT", "Trading"), ("ROSEUSDT", "Trading")],
]


def is_sub(m: str) -> bool:
    return json.loads(m).get("op") == "subscribe"


def is_ping(m: str) -> bool:
    return json.loads(m).get("op") == "ping"


def topics(conn: FakeConn) -> list[str]:
    return [t for m in conn.received if is_sub(m) for t in json.loads(m)["args"]]


@pytest.fixture
async def venue():
    v = FakeVenue(reply=bybit_reply)
    v.rest["/v5/market/instruments-info"] = bybit_instruments(PAGES)
    await v.start()
    yield v
    await v.stop()


def make(venue: FakeVenue) -> BybitSource:
    return BybitSource(venue.ws_url, rest_url=venue.base, timing=FAST, batch_size=10)


async def test_discovers_symbols_subscribes_in_batches_and_sums(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.wait_for(is_sub, count=3)
        await conn.send(bybit_frame([("BTCUSDT", "Buy", 0.5, 100_000)], T0))  # LONG 50,000
        await conn.send(
            bybit_frame([("ROSEUSDT", "Sell", 20000, 0.04499), ("ROSEUSDT", "Buy", 1000, 0.05)], T0)
        )  # SHORT 899.8, LONG 50
        await conn.silent()

    venue.scripts = [script]
    src = make(venue)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 3)
    conn = venue.conns[0]
    subs = [json.loads(m) for m in conn.received if is_sub(m)]
    assert [len(s["args"]) for s in subs] == [10, 10, 3]
    assert sorted(topics(conn)) == sorted(f"allLiquidation.{s}" for s in src.symbols)
    assert len(src.symbols) == 23 and "DEADUSDT" not in src.symbols
    assert sum("cursor=1" in c for c in venue.rest_calls) == 1  # followed the page cursor
    assert sink.usd(Side.LONG) == pytest.approx(50_050)
    assert sink.usd(Side.SHORT) == pytest.approx(899.8)
    assert sink.status(src.name).skipped == 0  # acks and pongs are not counted as junk


async def test_sends_ping_op_and_pongs_keep_the_watchdog_quiet(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.wait_for(is_ping, count=12)  # 12 × 50 ms: longer than the 400 ms watchdog
        await conn.send(bybit_frame([("BTCUSDT", "Sell", 1, 10)], T0))
        await conn.silent()

    venue.scripts = [script]
    src = make(venue)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 1)
    assert json.loads(next(m for m in venue.conns[0].received if is_ping(m))) == {"op": "ping"}
    assert "down" not in sink.kinds()  # pong answers proved the link alive
    assert src.connections == 1


async def test_resubscribes_after_a_drop(venue: FakeVenue, sink: RecordingSink) -> None:
    async def first(conn: FakeConn) -> None:
        await conn.wait_for(is_sub, count=3)
        await conn.send(bybit_frame([("BTCUSDT", "Buy", 1, 100)], T0))
        await conn.drop()

    async def second(conn: FakeConn) -> None:
        await conn.wait_for(is_sub, count=3)
        await conn.send(bybit_frame([("BTCUSDT", "Sell", 1, 300)], T0 + 1000))
        await conn.silent()

    venue.scripts = [first, second]
    src = make(venue)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 2)
    assert sink.kinds() == ["up", "down", "up"]
    assert sorted(topics(venue.conns[1])) == sorted(topics(venue.conns[0]))
    assert len(topics(venue.conns[1])) == 23
    assert [(e.side, e.usd) for e in sink.events_in] == [(Side.LONG, 100.0), (Side.SHORT, 300.0)]


async def test_unknown_and_malformed_frames_skipped(venue: FakeVenue, sink: RecordingSink) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.send('{"topic":"tickers.BTCUSDT","data":{}}')
        await conn.send('{"topic":"allLiquidation.BTCUSDT","data":[{"s":"BTCUSDT"}]}')
        await conn.send("\x00\x01")
        await conn.send(bybit_frame([("BTCUSDT", "Buy", 2, 5)], T0))
        await conn.silent()

    venue.scripts = [script]
    src = make(venue)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 1)
    assert sink.status(src.name).skipped == 3 and sink.status(src.name).events == 1


async def test_instrument_list_failure_is_an_outage_then_recovers(sink: RecordingSink) -> None:
    v = FakeVenue(reply=bybit_reply)
    fail = {"n": 2}

    def flaky(request):
        if fail["n"] > 0:
            fail["n"] -= 1
            return {"retCode": 10006, "retMsg": "Too many visits", "result": {}}
        return bybit_instruments([[("BTCUSDT", "Trading")]])(request)

    v.rest["/v5/market/instruments-info"] = flaky

    async def script(conn: FakeConn) -> None:
        await conn.wait_for(is_sub)
        await conn.send(bybit_frame([("BTCUSDT", "Buy", 1, 7)], T0))
        await conn.silent()

    v.scripts = [script]
    await v.start()
    try:
        src = make(v)
        async with running(src, sink):
            await sink.until(lambda s: len(s.events_in) == 1)
        assert sink.kinds() == ["down", "up"]
        down = next(c[2] for c in sink.calls if c[0] == "down")
        assert down.fault is Fault.CANNOT_CONNECT and "instruments" in down.detail
    finally:
        await v.stop()


async def test_a_new_listing_is_subscribed_on_the_open_connection_and_mapped_by_base_coin(
    sink: RecordingSink,
) -> None:
    listed = bybit_instruments([[("BTCUSDT", "Trading")]])
    relisted = bybit_instruments(
        [[("BTCUSDT", "Trading"), ("SHIB1000USDT", "Trading")]], {"SHIB1000USDT": "SHIB1000"}
    )
    calls = 0

    def instruments(request):  # the refresh (the second answer) lists a new contract
        nonlocal calls
        calls += 1
        return (listed if calls == 1 else relisted)(request)

    v = FakeVenue(reply=bybit_reply)
    v.rest["/v5/market/instruments-info"] = instruments
    await v.start()

    async def script(conn: FakeConn) -> None:
        await conn.wait_for(lambda m: is_sub(m) and "SHIB1000USDT" in m)
        await conn.send(bybit_frame([("SHIB1000USDT", "Buy", 1000, 0.012)], T0))
        await conn.silent()

    v.scripts = [script]
    src = BybitSource(v.ws_url, rest_url=v.base, timing=FAST, refresh_s=0.05)
    try:
        async with running(src, sink):
            await sink.until(lambda s: len(s.events_in) == 1)
    finally:
        await v.stop()
    [e] = sink.events_in
    assert (e.coin, e.side, e.usd) == ("SHIB", Side.LONG, pytest.approx(12.0))
    assert v.conns[0].index == 0 and src.connections == 1  # no reconnect was needed
    assert topics(v.conns[0]) == ["allLiquidation.BTCUSDT", "allLiquidation.SHIB1000USDT"]
