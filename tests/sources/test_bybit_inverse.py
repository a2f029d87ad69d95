"""BybitInverseSource against a fake v5 inverse stream and instruments REST over real sockets.

The frames are built from the inverse liquidations tardis-node recorded (its v5
`liquidation.XRPUSD` and v2 `liquidation.BTCUSD` pushes, values unchanged; see
tests/fixtures/recorded/): every frame of this stream is sized in 1-USD contracts.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.chat.context import ChatContext
from bot.config import Secrets, parse_config
from bot.domain.message import plain_text
from bot.domain.models import ALL, Side, VenueSplit, WindowTotals
from bot.runtime import app
from bot.sources.bybit import BybitInverseSource
from tests.fakes.exchanges import FakeConn, FakeVenue, bybit_frame, bybit_instruments, bybit_reply
from tests.offline import sources_off
from tests.sources.conftest import FAST, RecordingSink, running

T0 = 1_680_673_944_093  # tardis' recorded XRPUSD inverse liquidation
# 13 inverse contracts over two pages (perpetuals and dated futures), plus one not trading
PAGES = [
    [(f"C{i}USD", "Trading") for i in range(8)] + [("BTCUSDH23", "Closed")],
    [
        ("BTCUSD", "Trading"),
        ("ETHUSD", "Trading"),
        ("XRPUSD", "Trading"),
        ("BTCUSDH25", "Trading"),
        ("ETHUSDM25", "Trading"),
    ],
]
CONSOLE = ChatContext("console:local", "console", "private", user="operator")
BASES = {"BTCUSDH25": "BTC", "ETHUSDM25": "ETH", "BTCUSD": "BTC", "ETHUSD": "ETH"}


def is_sub(m: str) -> bool:
    return json.loads(m).get("op") == "subscribe"


def is_ping(m: str) -> bool:
    return json.loads(m).get("op") == "ping"


def topics(conn: FakeConn) -> list[str]:
    return [t for m in conn.received if is_sub(m) for t in json.loads(m)["args"]]


@pytest.fixture
async def venue():
    v = FakeVenue(reply=bybit_reply)
    v.rest["/v5/market/instruments-info"] = bybit_instruments(PAGES, BASES, category="inverse")
    await v.start()
    yield v
    await v.stop()


def make(venue: FakeVenue) -> BybitInverseSource:
    return BybitInverseSource(venue.ws_url, rest_url=venue.base, timing=FAST, batch_size=5)


async def test_lists_inverse_contracts_subscribes_in_batches_and_counts_usd_contracts(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.wait_for(is_sub, count=3)
        await conn.send(bybit_frame([("XRPUSD", "Sell", 6949, 0.5149)], T0))  # SHORT $6,949
        await conn.send(
            bybit_frame(
                [("BTCUSDH25", "Buy", 1257079, 44662.5), ("BTCUSDH25", "Buy", 650, 44598)], T0
            )
        )  # LONG $1,257,079 and $650: contracts of 1 USD, not × price
        await conn.silent()

    venue.scripts = [script]
    src = make(venue)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 3)
    conn = venue.conns[0]
    subs = [json.loads(m) for m in conn.received if is_sub(m)]
    assert [len(s["args"]) for s in subs] == [5, 5, 3]
    assert sorted(topics(conn)) == sorted(f"allLiquidation.{s}" for s in src.symbols)
    assert len(src.symbols) == 13 and "BTCUSDH23" not in src.symbols
    assert all("category=inverse" in c for c in venue.rest_calls)  # the inverse book's list
    assert sum("cursor=1" in c for c in venue.rest_calls) == 1  # followed the page cursor
    assert [(e.venue, e.coin, e.side, e.usd, e.price) for e in sink.events_in] == [
        ("bybit", "XRP", Side.SHORT, 6949.0, 0.5149),
        ("bybit", "BTC", Side.LONG, 1257079.0, 44662.5),
        ("bybit", "BTC", Side.LONG, 650.0, 44598.0),
    ]
    assert sink.status("bybit_inverse").skipped == 0  # acks and pongs are not junk
    assert sink.status("bybit_inverse").events == 3


async def test_sends_ping_op_and_pongs_keep_the_watchdog_quiet(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.wait_for(is_ping, count=12)  # 12 × 50 ms: longer than the 400 ms watchdog
        await conn.send(bybit_frame([("BTCUSD", "Sell", 836, 23216)], T0))
        await conn.silent()

    venue.scripts = [script]
    src = make(venue)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 1)
    assert json.loads(next(m for m in venue.conns[0].received if is_ping(m))) == {"op": "ping"}
    assert "down" not in sink.kinds()  # pong answers proved the link alive
    assert src.connections == 1
    assert sink.events_in[0].usd == 836.0


async def test_resubscribes_after_a_drop(venue: FakeVenue, sink: RecordingSink) -> None:
    async def first(conn: FakeConn) -> None:
        await conn.wait_for(is_sub, count=3)
        await conn.send(bybit_frame([("ETHUSD", "Sell", 3655, 3384.15)], T0))
        await conn.drop()

    async def second(conn: FakeConn) -> None:
        await conn.wait_for(is_sub, count=3)
        await conn.send(bybit_frame([("ETHUSD", "Buy", 2329, 3384.15)], T0 + 1000))
        await conn.silent()

    venue.scripts = [first, second]
    src = make(venue)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 2)
    assert sink.kinds() == ["up", "down", "up"]
    assert sorted(topics(venue.conns[1])) == sorted(topics(venue.conns[0]))
    assert len(topics(venue.conns[1])) == 13
    assert [(e.side, e.usd) for e in sink.events_in] == [(Side.SHORT, 3655.0), (Side.LONG, 2329.0)]


async def test_unknown_and_malformed_frames_are_skipped_and_counted(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    async def script(conn: FakeConn) -> None:
        await conn.send('{"topic":"tickers.BTCUSD","data":{}}')
        await conn.send('{"topic":"allLiquidation.BTCUSD","data":[{"s":"BTCUSD"}]}')
        await conn.send('{"topic":"allLiquidation.BTCUSD","data":[{"s":"BTCUSD","S":"Buy",'
                        '"v":"-5","p":"1","T":1680673944093}]}')  # fmt: skip
        await conn.send("\x00\x01")
        await conn.send(bybit_frame([("BTCUSD", "Buy", 2, 5)], T0))
        await conn.silent()

    venue.scripts = [script]
    src = make(venue)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 1)
    assert sink.status(src.name).skipped == 4 and sink.status(src.name).events == 1


async def test_a_linear_list_is_not_taken_for_the_inverse_one(sink: RecordingSink) -> None:
    """The fake lists only `category=linear`: asked for inverse it refuses, so the source is
    down ("cannot list Bybit instruments") and never connects with a linear symbol list."""
    v = FakeVenue(reply=bybit_reply)
    v.rest["/v5/market/instruments-info"] = bybit_instruments([[("BTCUSDT", "Trading")]])
    await v.start()
    try:
        src = make(v)
        async with running(src, sink):
            await sink.until(lambda s: "down" in s.kinds())
        assert "instruments" in sink.status(src.name).note
        assert v.conns == []
    finally:
        await v.stop()


async def test_wired_by_the_config_it_counts_as_bybit_with_its_own_health_record(
    venue: FakeVenue, tmp_path: Path
) -> None:
    """Through app.build: linear and inverse are two sources, two health records in /status,
    one venue `bybit` in the splits; the inverse liquidation is $6,949, not × price."""
    linear = FakeVenue(reply=bybit_reply)
    linear.rest["/v5/market/instruments-info"] = bybit_instruments([[("XRPUSDT", "Trading")]])
    await linear.start()

    async def inverse_script(conn: FakeConn) -> None:
        await conn.wait_for(is_sub, count=2)
        await conn.send(bybit_frame([("XRPUSD", "Sell", 6949, 0.5149)], rt.clock.now_ms()))
        await conn.silent()

    async def linear_script(conn: FakeConn) -> None:
        await conn.wait_for(is_sub)
        await conn.send(bybit_frame([("XRPUSDT", "Buy", 1000, 0.5)], rt.clock.now_ms()))
        await conn.silent()

    venue.scripts, linear.scripts = [inverse_script], [linear_script]
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "inv.sqlite3")},
            "sources": sources_off(
                bybit={"url": linear.ws_url, "rest_url": linear.base},
                bybit_inverse={"url": venue.ws_url, "rest_url": venue.base},
            ),
            "console": {"enabled": "on"},
        }
    )
    rt = await app.build(config, Secrets())
    arrived = asyncio.Event()
    poke = rt.market.on_data
    rt.market.on_data = lambda: (poke(), arrived.set())
    try:
        assert [s.name for s in rt.sources] == ["bybit", "bybit_inverse"]
        await app.start(rt)

        def both() -> bool:
            snap = rt.market.snapshot(rt.clock.now_ms())
            return snap.window_totals(ALL, 60) == WindowTotals(500.0, 6949.0)

        async with asyncio.timeout(10):  # until both streams' liquidations are in the market
            while not both():
                arrived.clear()
                await arrived.wait()
        snap = rt.market.snapshot(rt.clock.now_ms())
        assert snap.venues[("XRP", 60)] == (VenueSplit("bybit", 500.0, 6949.0),)
        names = [s.name for s in rt.market.status(rt.clock.now_ms())]
        assert names == ["bybit", "bybit_inverse"]
        reply = await rt.service.handle_text(CONSOLE, "/status")
        status = "\n".join(plain_text(m) for m in reply.messages)
    finally:
        await app.stop(rt)
        await linear.stop()
    lines = [ln for ln in status.splitlines() if "Bybit" in ln or "bybit" in ln]
    assert any("inverse" in ln.lower() for ln in lines), status  # its own health record
    assert any("inverse" not in ln.lower() for ln in lines), status
