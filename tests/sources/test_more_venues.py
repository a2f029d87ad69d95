"""Gate, Bitget, HTX, BitMEX and Deribit sources against fake venues over real sockets.

Per venue: what it subscribes, its keep-alive (answered by the fake the venue's way), a dropped
link (reconnect and resubscribe), malformed frames (skipped and counted, the stream goes on),
and the silence watchdog when the fake stops answering keep-alives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.domain.models import Side
from bot.domain.universe import CoinUniverse
from bot.sources.bitget import BitgetSource
from bot.sources.bitmex import BitmexSource
from bot.sources.deribit import DeribitSource
from bot.sources.gate import GateSource
from bot.sources.htx import HtxSource
from tests.fakes.exchanges import (
    FakeConn,
    FakeVenue,
    bitget_frame,
    bitget_reply,
    bitmex_frame,
    bitmex_instruments,
    bitmex_reply,
    deribit_frame,
    deribit_reply,
    gate_contracts,
    gate_frame,
    gate_reply,
    gzip_json,
    htx_frame,
)
from tests.sources.conftest import FAST, RecordingSink, running

T0 = 1_700_000_000_000
BITMEX_ROWS = [
    {"symbol": "XBTUSD", "underlying": "XBT", "state": "Open", "quoteCurrency": "USD",
     "multiplier": -100000000, "isInverse": True, "isQuanto": False},
    {"symbol": "ETHUSD", "underlying": "ETH", "state": "Open", "quoteCurrency": "USD",
     "settlCurrency": "XBt", "multiplier": 100, "isInverse": False, "isQuanto": True},
]  # fmt: skip


@dataclass
class Venue:
    """How one venue is driven: its fake, its source, a subscribe check and two liquidations
    (one long, one short) with their USD."""

    make: Callable[[FakeVenue], Any]
    reply: Callable[[str], str | None] | None
    is_sub: Callable[[str], bool]
    is_ping: Callable[[str], bool] | None  # None: the server pings (HTX)
    long_frame: Any
    short_frame: Any
    long_usd: float
    short_usd: float
    rest: dict[str, Any] | None = None


def _is(key: str, value: str) -> Callable[[str], bool]:
    def pred(m: str) -> bool:
        try:
            msg = json.loads(m)
        except ValueError:
            return False
        return isinstance(msg, dict) and msg.get(key) == value

    return pred


VENUES = {
    "gate": Venue(
        make=lambda v: GateSource(v.ws_url, rest_url=v.base, timing=FAST),
        reply=gate_reply,
        is_sub=_is("event", "subscribe"),
        is_ping=_is("channel", "futures.ping"),
        long_frame=gate_frame([("BTC_USDT", -30, 50_000.0)], T0),  # sells 30 × 0.0001 BTC
        short_frame=gate_frame([("PEPE_USDT", 2, 0.000001)], T0),  # buys 2 × 10,000,000 PEPE
        long_usd=30 * 0.0001 * 50_000,
        short_usd=2 * 10_000_000 * 0.000001,
        rest={
            "/api/v4/futures/usdt/contracts": gate_contracts(
                {"BTC_USDT": "0.0001", "PEPE_USDT": "10000000"}
            )
        },
    ),
    "bitget": Venue(
        make=lambda v: BitgetSource(v.ws_url, timing=FAST),
        reply=bitget_reply,
        is_sub=_is("op", "subscribe"),
        is_ping=lambda m: m == "ping",
        long_frame=bitget_frame([("BTCUSDT", "buy", 1234.5)], T0),
        short_frame=bitget_frame([("ETHUSDT", "sell", 99.0)], T0),
        long_usd=1234.5,
        short_usd=99.0,
    ),
    "htx": Venue(
        make=lambda v: HtxSource(v.ws_url, timing=FAST),
        reply=None,
        is_sub=_is("op", "sub"),
        is_ping=None,
        long_frame=gzip_json(htx_frame("BTC-USDT", "sell", 5300.5635, T0)),
        short_frame=gzip_json(htx_frame("ETH-USDT", "buy", 10.0, T0)),
        long_usd=5300.5635,
        short_usd=10.0,
    ),
    "bitmex": Venue(
        make=lambda v: BitmexSource(v.ws_url, rest_url=v.base, timing=FAST),
        reply=bitmex_reply,
        is_sub=_is("op", "subscribe"),
        is_ping=lambda m: m == "ping",
        long_frame=bitmex_frame("XBTUSD", "Sell", 9214, 10106),
        short_frame=bitmex_frame("XBTUSD", "Buy", 100, 10106),
        long_usd=9214.0,
        short_usd=100.0,
        rest={"/api/v1/instrument/active": bitmex_instruments(BITMEX_ROWS)},
    ),
    "deribit": Venue(
        make=lambda v: DeribitSource(v.ws_url, timing=FAST),
        reply=deribit_reply,
        is_sub=_is("method", "public/subscribe"),
        is_ping=_is("method", "public/test"),
        long_frame=deribit_frame("BTC-PERPETUAL", "sell", 1120, 4469.5, "T", T0),
        short_frame=deribit_frame("ETH-PERPETUAL", "sell", 2500, 200.0, "M", T0),
        long_usd=1120.0,
        short_usd=2500.0,
    ),
}
NAMES = pytest.mark.parametrize("name", list(VENUES))


async def _fake(v: Venue) -> FakeVenue:
    fake = FakeVenue(reply=v.reply)
    fake.rest.update(v.rest or {})
    return await fake.start()


async def _keepalive(v: Venue, conn: FakeConn, count: int) -> None:
    """Wait for `count` client pings, or (HTX) send `count` server pings and await the pongs."""
    if v.is_ping is not None:
        await conn.wait_for(v.is_ping, count=count)
        return
    for i in range(count):
        await conn.send(gzip_json({"op": "ping", "ts": str(T0 + i)}))
        await conn.wait_for(_is("op", "pong"), count=i + 1)


@NAMES
async def test_subscribe_keepalive_sides_and_usd(name: str, sink: RecordingSink) -> None:
    v = VENUES[name]
    fake = await _fake(v)

    async def script(conn: FakeConn) -> None:
        await conn.wait_for(v.is_sub)
        await _keepalive(v, conn, 12)  # longer than the watchdog (0.4 s): pings keep it alive
        await conn.send(v.long_frame)
        await conn.send(v.short_frame)
        await conn.silent()

    fake.scripts = [script]
    src = v.make(fake)
    try:
        async with running(src, sink):
            await sink.until(lambda s: len(s.events_in) == 2)
    finally:
        await fake.stop()
    assert sink.usd(Side.LONG) == pytest.approx(v.long_usd)
    assert sink.usd(Side.SHORT) == pytest.approx(v.short_usd)
    assert {e.venue for e in sink.events_in} == {name}
    assert src.connections == 1 and "down" not in sink.kinds()
    assert sink.status(name).skipped == 0


@NAMES
async def test_drop_reconnects_resubscribes_and_malformed_frames_are_counted(
    name: str, sink: RecordingSink
) -> None:
    v = VENUES[name]
    fake = await _fake(v)

    async def first(conn: FakeConn) -> None:
        await conn.wait_for(v.is_sub)
        await conn.send("{not json")
        await conn.send(b"\x00\x01 binary garbage")
        await conn.send(v.long_frame)
        await conn.drop()

    async def second(conn: FakeConn) -> None:
        await conn.wait_for(v.is_sub)
        await conn.send(v.short_frame)
        await conn.silent()

    fake.scripts = [first, second]
    src = v.make(fake)
    try:
        async with running(src, sink):
            await sink.until(lambda s: len(s.events_in) == 2)
    finally:
        await fake.stop()
    assert [e.side for e in sink.events_in] == [Side.LONG, Side.SHORT]
    assert sink.status(name).skipped == 2
    assert sum(map(v.is_sub, fake.conns[1].received)) >= 1  # subscribed again
    assert sink.kinds() == ["up", "down", "up"]


@NAMES
async def test_silence_without_keepalive_answers_is_an_outage(
    name: str, sink: RecordingSink
) -> None:
    v = VENUES[name]
    fake = await _fake(v)
    fake.reply = lambda m: None  # no acks, no pongs: silence means silence
    fake.scripts = [lambda conn: conn.silent()]
    src = v.make(fake)
    try:
        async with running(src, sink):
            await fake.connection(1)  # given up by the watchdog, then a retry
            reason = sink.status(name).note
    finally:
        await fake.stop()
    assert "watchdog" in reason
    assert not sink.events_in


async def test_gate_unknown_contract_is_skipped_counted_and_refreshed(sink: RecordingSink) -> None:
    v = VENUES["gate"]
    multipliers = {"BTC_USDT": "0.0001"}
    fake = FakeVenue(reply=gate_reply)
    fake.rest["/api/v4/futures/usdt/contracts"] = lambda r: [
        {"name": k, "quanto_multiplier": m, "in_delisting": False} for k, m in multipliers.items()
    ]
    await fake.start()

    async def script(conn: FakeConn) -> None:
        await conn.wait_for(v.is_sub)
        await conn.send(gate_frame([("NEW_USDT", 5, 2.0)], T0))
        await conn.wait_for(v.is_ping, count=4)
        await conn.send(gate_frame([("NEW_USDT", -5, 2.0)], T0))
        await conn.silent()

    fake.scripts = [script]
    universe = CoinUniverse()
    src = GateSource(fake.ws_url, rest_url=fake.base, timing=FAST, universe=universe)
    try:
        async with running(src, sink):
            await sink.until(lambda s: src.unknown["NEW_USDT"] == 1)
            multipliers["NEW_USDT"] = "10"  # listed now
            await sink.until(lambda s: len(s.events_in) == 1)
    finally:
        await fake.stop()
    assert sink.status("gate").skipped == 1
    assert sink.events_in[0].usd == pytest.approx(5 * 10 * 2.0)
    assert "NEW" in universe.listed("gate")


async def test_bitmex_quanto_without_a_bitcoin_price_is_skipped_counted_and_refreshed(
    sink: RecordingSink,
) -> None:
    v = VENUES["bitmex"]  # its instrument list names no XBTUSD price
    fake = await _fake(v)

    async def script(conn: FakeConn) -> None:
        await conn.wait_for(v.is_sub)
        await conn.send({"info": "Welcome to the BitMEX Realtime API."})
        await conn.send(bitmex_frame("ETHUSD", "Sell", 10, 2000))  # quanto: no USD without BTC
        await conn.send(v.long_frame)
        await conn.silent()

    fake.scripts = [script]
    src = v.make(fake)
    try:
        async with running(src, sink):
            await sink.until(lambda s: len(s.events_in) == 1)
            async with asyncio.timeout(5):  # a refresh may bring the bitcoin price
                while sum("/instrument/active" in c for c in fake.rest_calls) < 2:
                    await asyncio.sleep(0.01)
    finally:
        await fake.stop()
    assert src.unknown == {"ETHUSD": 1} and sink.status("bitmex").skipped == 1
    assert [e.symbol for e in sink.events_in] == ["XBTUSD"]  # never valued at $0


async def test_bitmex_counts_growth_and_values_quanto_at_the_live_bitcoin_price(
    sink: RecordingSink,
) -> None:
    """One connection: `instrument:XBTUSD` gives the bitcoin price; an order that grows
    after its insert (recorded: 900 -> 1,400) counts the growth too."""
    v = VENUES["bitmex"]
    fake = await _fake(v)

    async def script(conn: FakeConn) -> None:
        await conn.wait_for(v.is_sub)
        await conn.send({"table": "instrument", "action": "update",
                         "data": [{"symbol": "XBTUSD", "markPrice": 90_000.0}]})  # fmt: skip
        await conn.send(bitmex_frame("XBTUSD", "Sell", 900, 90_300.8))
        grown = bitmex_frame("XBTUSD", "Sell", 1400, 90_214.5)
        grown["action"] = "update"
        grown["data"][0]["orderID"] = "XBTUSD-900"  # the same order
        await conn.send(grown)
        await conn.send(bitmex_frame("ETHUSD", "Buy", 40, 3208.61))
        await conn.silent()

    fake.scripts = [script]
    src = v.make(fake)
    try:
        async with running(src, sink):
            await sink.until(lambda s: len(s.events_in) == 3)
    finally:
        await fake.stop()
    (sub,) = [json.loads(m) for m in fake.conns[0].received if v.is_sub(m)]
    assert sub["args"] == ["liquidation", "instrument:XBTUSD"]
    assert [(e.symbol, e.side, e.usd) for e in sink.events_in[:2]] == [
        ("XBTUSD", Side.LONG, 900.0),
        ("XBTUSD", Side.LONG, 500.0),
    ]
    eth = sink.events_in[2]
    assert (eth.coin, eth.side) == ("ETH", Side.SHORT)
    assert eth.usd == pytest.approx(40 * 100 / 1e8 * 3208.61 * 90_000.0)
    assert sink.status("bitmex").skipped == 0


async def test_sized_venue_without_an_instrument_list_is_down_not_guessing(
    sink: RecordingSink,
) -> None:
    fake = await FakeVenue(reply=gate_reply).start()  # no REST route: 404
    src = GateSource(fake.ws_url, rest_url=fake.base, timing=FAST)
    try:
        async with running(src, sink):
            await sink.until(lambda s: "down" in s.kinds())
    finally:
        await fake.stop()
    assert "cannot list gate instruments" in sink.status("gate").note
    assert not fake.conns  # it never connected without sizes


async def test_bitget_subscribes_usdt_coin_and_usdc_futures(sink: RecordingSink) -> None:
    """One connection reads the liquidations of the three futures books."""
    v = VENUES["bitget"]
    fake = await _fake(v)

    async def script(conn: FakeConn) -> None:
        await conn.wait_for(v.is_sub)
        coin_m = bitget_frame([("BTCUSD", "sell", 5000.0)], T0)
        coin_m["arg"] = {"instType": "coin-futures", "topic": "liquidation"}
        await conn.send(coin_m)
        await conn.silent()

    fake.scripts = [script]
    src = v.make(fake)
    try:
        async with running(src, sink):
            await sink.until(lambda s: len(s.events_in) == 1)
    finally:
        await fake.stop()
    (sub,) = [json.loads(m) for m in fake.conns[0].received if v.is_sub(m)]
    assert [(a["instType"], a["topic"]) for a in sub["args"]] == [
        ("usdt-futures", "liquidation"),
        ("coin-futures", "liquidation"),
        ("usdc-futures", "liquidation"),
    ]
    (e,) = sink.events_in
    assert (e.coin, e.side, e.usd, e.venue) == ("BTC", Side.SHORT, 5000.0, "bitget")


async def test_bitmex_recorded_session_through_the_source_with_the_recorded_list(
    sink: RecordingSink,
) -> None:
    """The recorded 2024 session (orders growing after their insert, quanto ETHUSD) replayed
    by the fake over a real socket; the fake serves the recorded instrument list."""
    recorded = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"
    session = json.loads((recorded / "bitmex_liquidation_session.json").read_text())
    listed = json.loads((recorded / "cryptofeed_bitmex_instrument_active.json").read_text())
    v = VENUES["bitmex"]
    fake = FakeVenue(reply=bitmex_reply)
    fake.rest["/api/v1/instrument/active"] = bitmex_instruments(listed["response"])
    liq = [f for f in session["frames"] if f.get("table") == "liquidation" and f["data"]]

    async def script(conn: FakeConn) -> None:
        await conn.wait_for(v.is_sub)
        for f in liq:
            await conn.send(f)
        await conn.silent()

    fake.scripts = [script]
    await fake.start()
    src = v.make(fake)
    want = session["expected_contracts"]
    eth_orders = [f["data"][0] for f in liq if f["action"] == "insert"
                  and f["data"][0]["symbol"] == "ETHUSD"]  # fmt: skip
    try:
        async with running(src, sink):
            await sink.until(lambda s: s.status("bitmex").skipped == want["XBTUSDT_orders"]
                             and len([e for e in s.events_in if e.coin == "ETH"]) == 5)  # fmt: skip
    finally:
        await fake.stop()
    btc = {side: sum(e.usd for e in sink.events_in if e.coin == "BTC" and e.side is side)
           for side in (Side.SHORT, Side.LONG)}  # fmt: skip
    assert btc == {Side.SHORT: want["XBTUSD"]["short"], Side.LONG: want["XBTUSD"]["long"]}
    eth = sum(e.usd for e in sink.events_in if e.coin == "ETH")
    assert eth == pytest.approx(sum(o["leavesQty"] * 1e-6 * o["price"] for o in eth_orders)
                                * 32182.72)  # fmt: skip
    assert src.unknown == {"XBTUSDT": want["XBTUSDT_orders"]}  # not in the 2021 list
    assert len(src.orders) == 0  # every order was deleted
