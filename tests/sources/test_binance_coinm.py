"""BinanceCoinMSource against a fake dstream + dapi exchangeInfo over real sockets.

The sizes come from the COIN-M exchangeInfo Binance really answered (recorded by cryptofeed);
the frames are the COIN-M frame tardis-node recorded, as the stream sends it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.config import Secrets, parse_config
from bot.domain.models import ALL, Side, VenueSplit, WindowTotals
from bot.runtime import app
from bot.sources.binance_coinm import BinanceCoinMSource
from tests.fakes.exchanges import FakeConn, FakeVenue
from tests.offline import sources_off
from tests.sources.conftest import FAST, RecordingSink, running

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"
EXCHANGE_INFO = json.loads((RECORDED / "cryptofeed_binance_dapi_exchangeInfo.json").read_text())
TARDIS = json.loads((RECORDED / "tardis_node_liquidations.json").read_text())["frames"]
COINM_FRAME = next(f["frame"] for f in TARDIS if f["stream"] == "binance_coinm")  # BTCUSD_200925


def perp(frame: dict[str, Any], symbol: str) -> dict[str, Any]:
    out = json.loads(json.dumps(frame))
    out["data"]["o"]["s"] = symbol
    return out


@pytest.fixture
async def venue():
    v = await FakeVenue().start()
    yield v
    await v.stop()


async def test_contracts_are_priced_by_their_exchange_info_size(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    listed = EXCHANGE_INFO["response"]
    answers = [listed]

    def exchange_info(request: web.Request) -> Any:
        return answers[-1]

    venue.rest["/dapi/v1/exchangeInfo"] = exchange_info

    async def script(conn: FakeConn) -> None:
        await conn.send(perp(COINM_FRAME, "BTCUSD_PERP"))  # 3 contracts of 100 USD
        await conn.send(perp(COINM_FRAME, "ETHUSD_PERP"))  # 3 contracts of 10 USD
        await conn.send(COINM_FRAME)  # BTCUSD_200925: not in the list yet
        await conn.silent()

    venue.scripts = [script]
    src = BinanceCoinMSource(venue.ws_url, venue.base, timing=FAST)
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 2)
        await sink.until(lambda s: sink.status(src.name).skipped == 1)
    assert [(e.venue, e.coin, e.side, e.usd) for e in sink.events_in] == [
        ("binance", "BTC", Side.LONG, 300.0),
        ("binance", "ETH", Side.LONG, 30.0),
    ]
    assert src.unknown == {"BTCUSD_200925": 1}  # skipped and counted, never guessed
    assert src.name == "binance_coinm" and src.venue == "binance"


class Observed(BinanceCoinMSource):
    """The real source; it only tells the test when a refresh has been applied."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refreshes = 0
        self.refreshed = asyncio.Event()

    async def refresh_instruments(self) -> None:
        await super().refresh_instruments()
        self.refreshes += 1
        if self.refreshes >= 2:
            self.refreshed.set()


async def test_an_unknown_symbol_asks_for_a_refresh_and_then_counts(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    listed = json.loads(json.dumps(EXCHANGE_INFO["response"]))
    calls = 0

    def exchange_info(request: web.Request) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # the refresh lists the new contract
            listed["symbols"].append(
                {"symbol": "BTCUSD_200925", "baseAsset": "BTC", "contractSize": 100,
                 "contractStatus": "TRADING"}
            )  # fmt: skip
        return listed

    venue.rest["/dapi/v1/exchangeInfo"] = exchange_info
    src = Observed(venue.ws_url, venue.base, timing=FAST)  # hourly refresh: only on demand here

    async def script(conn: FakeConn) -> None:
        await conn.send(COINM_FRAME)  # unknown: skipped and counted, a refresh is wanted
        await src.refreshed.wait()
        await conn.send(COINM_FRAME)
        await conn.silent()

    venue.scripts = [script]
    async with running(src, sink):
        await sink.until(lambda s: len(s.events_in) == 1)
    assert sink.events_in[0].usd == 300.0 and sink.status(src.name).skipped == 1
    assert calls == 2  # on connect, then on demand (not an hour later)


async def test_without_any_contract_size_it_is_down_not_guessing(
    venue: FakeVenue, sink: RecordingSink
) -> None:
    venue.scripts = [FakeConn.silent]  # exchangeInfo answers 404
    src = BinanceCoinMSource(venue.ws_url, venue.base, timing=FAST)
    async with running(src, sink):
        await sink.until(lambda s: "down" in s.kinds())
    assert "COIN-M contracts" in sink.status(src.name).note
    assert venue.conns == []  # it never connected to count contracts it cannot size


async def test_wired_by_the_config_its_liquidations_count_as_binance(
    venue: FakeVenue, tmp_path: Path
) -> None:
    """Through app.build: its own health record, its events in the venue `binance`."""
    venue.rest["/dapi/v1/exchangeInfo"] = lambda request: EXCHANGE_INFO["response"]

    async def script(conn: FakeConn) -> None:
        frame = perp(COINM_FRAME, "BTCUSD_PERP")  # 3 contracts of 100 USD, happening now
        frame["data"]["o"]["T"] = frame["data"]["E"] = rt.clock.now_ms()
        await conn.send(frame)
        await conn.silent()

    venue.scripts = [script]
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "cm.sqlite3")},
            "sources": sources_off(
                binance_coinm={"enabled": True, "url": venue.ws_url, "rest_url": venue.base}
            ),
            "console": {"enabled": "off"},
        }
    )
    rt = await app.build(config, Secrets())
    arrived = asyncio.Event()
    poke = rt.market.on_data
    rt.market.on_data = lambda: (poke(), arrived.set())
    try:
        assert [s.name for s in rt.sources] == ["binance_coinm"]
        await app.start(rt)
        await arrived.wait()
        snap = rt.market.snapshot(rt.clock.now_ms())
        assert snap.venues[("BTC", 60)] == (VenueSplit("binance", 300.0, 0.0),)
        assert snap.window_totals(ALL, 60) == WindowTotals(300.0, 0.0)
        assert [s.name for s in rt.market.status(rt.clock.now_ms())] == ["binance_coinm"]
    finally:
        await app.stop(rt)
