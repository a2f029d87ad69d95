"""The new venues through the production wiring: `/status` lists each, `/liqs btc 1h` splits by
each. Built by `bot.runtime.app.build` from a Config whose sources point at fake venues on 127.0.0.1;
each fake sends one BTC liquidation of a size no other venue sends.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.chat.context import ChatContext
from bot.config import Secrets, parse_config
from bot.domain.message import plain_text
from bot.runtime import app
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
from tests.offline import sources_off

CONSOLE = ChatContext("console:local", "console", "private", user="operator")
RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"  # BitMEX's real list


def _once(frame: Any):
    async def script(conn: FakeConn) -> None:
        await conn.wait_for(lambda m: "ping" not in m)  # the subscription
        await conn.send(frame)
        await conn.silent()

    return script


@pytest.fixture
async def venues() -> AsyncIterator[dict[str, FakeVenue]]:
    now = int(time.time() * 1000)
    fakes = {
        "gate": FakeVenue(reply=gate_reply),
        "bitget": FakeVenue(reply=bitget_reply),
        "bitmex": FakeVenue(reply=bitmex_reply),
        "htx": FakeVenue(),
        "deribit": FakeVenue(reply=deribit_reply),
    }
    fakes["gate"].rest["/api/v4/futures/usdt/contracts"] = gate_contracts({"BTC_USDT": "0.0001"})
    listed = json.loads((RECORDED / "cryptofeed_bitmex_instrument_active.json").read_text())
    fakes["bitmex"].rest["/api/v1/instrument/active"] = bitmex_instruments(listed["response"])
    frames = {
        "gate": gate_frame([("BTC_USDT", -2000, 50_000.0)], now),  # $10,000 long (a sell order)
        "bitget": bitget_frame([("BTCUSDT", "buy", 20_000)], now),  # long
        "bitmex": bitmex_frame("XBTUSD", "Buy", 30_000, 50_000),  # short
        "htx": gzip_json(htx_frame("BTC-USDT", "buy", 40_000, now)),  # short
        "deribit": deribit_frame("BTC-PERPETUAL", "sell", 50_000, 50_000, "T", now),  # long
    }
    for name, fake in fakes.items():
        fake.scripts = [_once(frames[name])]
        await fake.start()
    yield fakes
    for fake in fakes.values():
        await fake.stop()


async def say(rt: app.Runtime, text: str) -> str:
    reply = await rt.service.handle_text(CONSOLE, text)
    return "\n".join(plain_text(m) for m in reply.messages)


async def test_status_lists_every_new_venue_and_liqs_splits_by_each(
    venues: dict[str, FakeVenue], tmp_path: Path
) -> None:
    sources: dict[str, Any] = sources_off()
    for name, v in venues.items():
        sources[name] = {"enabled": True, "url": v.ws_url, "watchdog": 30}
        if v.rest:
            sources[name]["rest_url"] = v.base
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "v.sqlite3")},
            "sources": sources,
            "console": {"enabled": "on"},
        }
    )
    rt = await app.build(config, Secrets())
    try:
        assert [s.name for s in rt.sources] == ["gate", "bitget", "bitmex", "htx", "deribit"]
        await app.start(rt)
        for v in venues.values():
            await v.connection(0)
        async with asyncio.timeout(10):  # until every venue's liquidation is in the market
            while len(rt.market.snapshot(rt.clock.now_ms()).venues.get(("BTC", 60), ())) < 5:
                await asyncio.sleep(0.02)
        split = await say(rt, "/liqs btc 1h")
        status = await say(rt, "/status")
    finally:
        await app.stop(rt)
    lines = {ln.split()[0]: ln for ln in split.splitlines() if ln.strip()}
    for label, usd in (("Gate", "$10"), ("Bitget", "$20"), ("BitMEX", "$30"), ("HTX", "$40"),
                       ("Deribit", "$50")):  # fmt: skip
        assert label in lines and usd in lines[label], split
    for name in ("gate", "bitget", "bitmex", "htx", "deribit"):
        assert name in status.lower(), status
