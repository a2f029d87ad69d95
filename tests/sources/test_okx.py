"""OkxSource against a fake v5 public stream and instruments REST over real sockets."""

from __future__ import annotations

import json

import pytest

from bot.domain.models import Side
from bot.sources.okx import OkxSource
from tests.fakes.exchanges import FakeConn, FakeVenue, okx_frame, okx_instruments, okx_reply
from tests.sources.conftest import FAST, RecordingSink, running

T0 = 1_692_266_434_010
CT = {
    "SWAP": {"BTC-USDT-SWAP": "0.01", "IOST-USDT-SWAP": "1000", "BTC-USD-SWAP": "100"},
    "FUTURES": {"BTC-USD-250926": "100"},
}


def is_sub(m: str) -> bool:
    return m.startswith("{") and json.loads(m).get("op") == "subscribe"


@pytest.fixture
async def venue():
    v = FakeVenue(reply=okx_reply)
    v.rest["/api/v5/public/instruments"] = okx_instruments(CT)
    await v.start()
    yield v
    await v.stop()


def make(venue: FakeVenue, **kw) -> OkxSource:
    return OkxSource(venue.ws_url, rest_url=venue.base, timing=FAST, **kw)


async def test_every_detail_with_ct_val_swap_and_futures(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.wait_for(is_sub)
        # one push, three details: sell = LONG, buy = SHORT
        await conn.send(
            okx_frame(
                "BTC-USDT-SWAP",
                [("sell", 100, 50_000), ("sell", 10, 50_000), ("buy", 20, 51_000)],
                T0,
            )
        )
        await conn.send(okx_frame("IOST-USDT-SWAP", [("buy", 13, 0.007831)], T0))
        await conn.send(okx_frame("BTC-USD-250926", [("sell", 3, 60_000)], T0))  # inverse: 3 × 100
        await conn.silent()

    venue.scripts = [script]
    src = make(venue)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 5)
    sub = json.loads(next(m for m in venue.conns[0].received if is_sub(m)))
    assert sub["args"] == [
        {"channel": "liquidation-orders", "instType": "SWAP"},
        {"channel": "liquidation-orders", "instType": "FUTURES"},
    ]
    assert sink.usd(Side.LONG) == pytest.approx(110 * 0.01 * 50_000 + 300)
    assert sink.usd(Side.SHORT) == pytest.approx(20 * 0.01 * 51_000 + 13 * 1000 * 0.007831)
    assert {e.coin for e in sink.events_in} == {"BTC", "IOST"}
    assert src.ct_val["BTC-USD-250926"] == 100.0  # FUTURES were listed too


async def test_text_ping_and_pong(venue: FakeVenue, sink: RecordingSink) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.wait_for(lambda m: m == "ping", count=12)  # longer than the watchdog
        await conn.send(okx_frame("BTC-USDT-SWAP", [("sell", 1, 100)], T0))
        await conn.silent()

    venue.scripts = [script]
    src = make(venue)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 1)
    assert "down" not in sink.kinds() and sink.status(src.name).skipped == 0
    assert src.connections == 1


async def test_unknown_instrument_is_skipped_counted_and_refreshes_ct_val(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.wait_for(is_sub)
        await conn.send(okx_frame("NEW-USDT-SWAP", [("sell", 5, 2.0), ("buy", 1, 2.0)], T0))
        await conn.wait_for(lambda m: m == "ping", count=4)
        await conn.send(okx_frame("NEW-USDT-SWAP", [("sell", 5, 2.0)], T0 + 1))
        await conn.silent()

    venue.scripts = [script]
    src = make(venue, ct_refresh_s=3600)
    async with running(src, sink):
        await sink.until(lambda s: src.unknown["NEW-USDT-SWAP"] == 2)
        CT["SWAP"]["NEW-USDT-SWAP"] = "10"  # the venue lists it now
        try:
            await sink.until(lambda s: len(s.events_in) == 1)
        finally:
            del CT["SWAP"]["NEW-USDT-SWAP"]
    assert sink.status(src.name).skipped == 2  # both details of the unknown instrument
    assert sink.events_in[0].usd == pytest.approx(5 * 10 * 2.0)
    assert sum("instType=SWAP" in c for c in venue.rest_calls) == 2  # start + on-demand refresh


async def test_drop_silence_and_malformed(venue: FakeVenue, sink: RecordingSink) -> None:
    async def first(conn: FakeConn) -> None:
        await conn.wait_for(is_sub)
        await conn.send('{"event":"error","code":"60012","msg":"Invalid request"}')
        await conn.send("{not json")
        await conn.send(okx_frame("BTC-USDT-SWAP", [("sell", 1, 100)], T0))
        await conn.drop()

    async def second(conn: FakeConn) -> None:
        await conn.wait_for(is_sub)
        await conn.send(okx_frame("BTC-USDT-SWAP", [("buy", 2, 100)], T0))
        await conn.ws.close()  # then a third connection that goes silent, pongs and all

    venue.scripts = [first, second, lambda conn: conn.silent()]
    venue.reply = lambda m: None  # no pongs: silence means silence
    src = make(venue)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 2)
        await venue.connection(3)  # the silent third link was given up by the watchdog
        reason = sink.status(src.name).note
    assert sink.status(src.name).skipped == 2
    assert [e.usd for e in sink.events_in] == [1.0, 2.0]
    assert "watchdog" in reason
    assert sink.kinds() == ["up", "down", "up", "down"]  # no up for the silent link
