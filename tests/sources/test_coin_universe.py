"""The coin universe comes from the venues' instrument lists, through the production wiring.

A fresh start with fake Binance, Bybit and OKX servers (127.0.0.1) that list coins nobody has
seen liquidate yet accepts `/subscribe <that coin> …` as soon as the lists are read; a coin no
venue lists is still refused. The service is built by `bot.runtime.app.build` from a Config.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat.context import ChatContext
from bot.config import Secrets, parse_config
from bot.domain.message import plain_text
from bot.domain.universe import CoinUniverse
from bot.domain.venues import binance_instruments, bybit_instruments
from bot.runtime import app
from tests.fakes.exchanges import (
    FakeConn,
    FakeVenue,
    binance_exchange_info,
    bybit_reply,
    okx_instruments,
    okx_reply,
)
from tests.fakes.exchanges import (
    bybit_instruments as bybit_route,
)
from tests.offline import sources_off

CONSOLE = ChatContext("console:local", "console", "private", user="operator")


@pytest.fixture
async def venues() -> AsyncIterator[dict[str, FakeVenue]]:
    binance = await FakeVenue().start()
    binance.rest["/fapi/v1/exchangeInfo"] = binance_exchange_info(
        {"BTCUSDT": "BTC", "AINUSDT": "AIN", "1000PEPEUSDT": "1000PEPE"}
    )
    bybit = await FakeVenue(reply=bybit_reply).start()
    bybit.rest["/v5/market/instruments-info"] = bybit_route(
        [[("COTIUSDT", "Trading"), ("SHIB1000USDT", "Trading"), ("OLDUSDT", "Closed")]],
        base_coins={"COTIUSDT": "COTI", "SHIB1000USDT": "SHIB1000", "OLDUSDT": "OLD"},
    )
    okx = await FakeVenue(reply=okx_reply).start()
    okx.rest["/api/v5/public/instruments"] = okx_instruments(
        {"SWAP": {"MUBARAK-USDT-SWAP": "1"}, "FUTURES": {"BTC-USD-250328": "100"}}
    )
    for v in (binance, bybit, okx):
        v.scripts = [FakeConn.silent]
    yield {"binance": binance, "bybit": bybit, "okx": okx}
    for v in (binance, bybit, okx):
        await v.stop()


async def say(rt: app.Runtime, text: str) -> str:
    reply = await rt.service.handle_text(CONSOLE, text)
    return "\n".join(plain_text(m) for m in reply.messages)


async def test_a_listed_coin_can_be_subscribed_before_it_ever_liquidates(
    venues: dict[str, FakeVenue], tmp_path: Path
) -> None:
    sources = sources_off(
        **{
            name: {"url": v.ws_url, "rest_url": v.base, "watchdog": 30}
            for name, v in venues.items()
        }
    )
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "u.sqlite3")},
            "sources": sources,
            "console": {"enabled": "on"},
        }
    )
    rt = await app.build(config, Secrets())
    try:
        before = await say(rt, "/subscribe coti 1h 1m")
        assert "unknown coin" in before.lower()  # nothing has listed it yet
        await app.start(rt)
        for v in venues.values():  # a source connects once its instrument list is read
            await v.connection(0)
        for coin in ("coti", "mubarak", "ain"):  # Bybit, OKX, Binance list them
            text = await say(rt, f"/subscribe {coin} 1h 1m")
            assert "unknown" not in text.lower(), text
        subs = await rt.db.list_subscriptions("console:local")
        assert [s.coin for s in subs] == ["COTI", "MUBARAK", "AIN"]
        known = rt.market.known_coins()
        assert {"SHIB", "PEPE"} <= known  # baseCoin SHIB1000 and baseAsset 1000PEPE
        assert "SHIB1000" not in known and "OLD" not in known  # a closed contract is not listed
        assert "unknown coin" in (await say(rt, "/subscribe zzzq 1h 1m")).lower()
    finally:
        await app.stop(rt)


def test_the_universe_keeps_each_sources_last_answer() -> None:
    u = CoinUniverse()
    assert "BTC" in u.coins() and "COTI" not in u.coins()  # the built-in coins, always
    u.update("bybit", {"COTI", "SHIB"})
    u.update("okx", {"MUBARAK"})
    assert {"COTI", "SHIB", "MUBARAK"} <= u.coins()
    u.update("bybit", {"SHIB"})  # COTI delisted on Bybit
    assert "COTI" not in u.coins() and u.listed("okx") == {"MUBARAK"}
    u.update("okx", set())  # an empty answer is no data, not a delisting
    assert u.listed("okx") == {"MUBARAK"}


def test_instrument_parsers_take_the_coin_from_the_listed_base() -> None:
    page = {
        "retCode": 0,
        "result": {
            "list": [
                {"symbol": "SHIB1000USDT", "baseCoin": "SHIB1000", "status": "Trading"},
                {"symbol": "BTCPERP", "baseCoin": "BTC", "status": "Trading"},
                {"symbol": "10000LADYSUSDT", "status": "Trading"},  # no baseCoin: the fallback
                {"symbol": "OLDUSDT", "baseCoin": "OLD", "status": "Closed"},
                "junk",
            ],
            "nextPageCursor": "p2",
        },
    }
    inst, cursor = bybit_instruments(page)
    assert cursor == "p2"
    assert inst.coins == {"SHIB1000USDT": "SHIB", "BTCPERP": "BTC", "10000LADYSUSDT": "LADYS",
                          "OLDUSDT": "OLD"}  # fmt: skip
    assert inst.listed_coins() == {"SHIB", "BTC", "LADYS"}
    info = {"symbols": [{"symbol": "BTCUSD_PERP", "baseAsset": "BTC", "contractSize": 100,
                         "contractStatus": "TRADING"},
                        {"symbol": "XUSD_PERP", "baseAsset": "X", "contractSize": "bad"}]}  # fmt: skip
    coinm = binance_instruments(json.loads(json.dumps(info)))
    assert coinm.sizes == {"BTCUSD_PERP": 100.0}  # a bad size is no size (skipped, counted)
    assert coinm.coins == {"BTCUSD_PERP": "BTC", "XUSD_PERP": "X"}
