"""Invented symbols cannot grow the service without limit (issue 17 item 6).

A recorded Binance frame (tests/fixtures/recorded/tardis_node_liquidations.json, tardis-dev/
tardis-node) with its symbol replaced by 2,000 invented ones goes through the Binance parser into
the service built by `app.build`: only `sources.unknown_coins_max` of them get series, the rest are
rejected and counted in /status, a listed coin is counted all along, and coins gone quiet give
their place (and their memory) back while a coin a list names by then stays.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

from bot.config import Secrets, parse_config
from bot.domain.models import Liquidation
from bot.domain.venues import parse_binance
from bot.runtime import app
from tests.offline import sources_off
from tests.test_restart_health import ManualClock

T0 = 1_800_000_000_000 + 10_000
RECORDED = Path(__file__).parent / "fixtures" / "recorded" / "tardis_node_liquidations.json"
_FRAME = {f["id"]: f["frame"] for f in json.loads(RECORDED.read_text())["frames"]}[
    "tardis/binance-futures/BTCUSDT"
]


def _binance(symbol: str, t: int) -> list[Liquidation]:
    f = copy.deepcopy(_FRAME)
    f["data"]["o"].update(s=symbol, T=t)
    return parse_binance(json.dumps(f))


async def test_invented_symbols_get_a_bounded_budget(tmp_path: Path) -> None:
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "unknown.sqlite3")},
            "sources": sources_off(binance={})
            | {"unknown_coins_max": 50, "unknown_coin_quiet": "1h"},
            "console": {"enabled": "on"},
        }
    )
    out = io.StringIO()
    clock = ManualClock(T0)
    rt = await app.build(config, Secrets(), stdout=out, clock=clock)
    try:
        assert rt.console is not None
        rt.market.up("binance", T0)
        for i in range(2_000):
            rt.market.events("binance", _binance(f"QZ{i}XUSDT", T0))
        rt.market.events("binance", _binance("BTCUSDT", T0))  # a coin the majors name
        coins = rt.market.agg.coins()
        assert len(coins) == 51 and "BTC" in coins  # 50 invented + BTC, not 2,001
        await rt.console.handle_line("/status")
        assert "binance: 1950 events rejected (1950 unknown coin over budget)" in out.getvalue()

        rt.market.universe.update("binance", ["QZ0X"])  # a list names one of them by now
        clock.now = T0 + 3_600_000 + 60_000  # an hour later every invented coin is quiet
        rt.market.events("binance", _binance("QZNEWXUSDT", clock.now))
        coins = rt.market.agg.coins()
        assert "QZNEWX" in coins and "QZ0X" in coins and "BTC" in coins
        assert "QZ1X" not in coins and len(coins) == 3  # 49 quiet unknown coins dropped
        await rt.console.handle_line("/liqs btc")
    finally:
        await app.stop(rt)
    text = out.getvalue()
    assert "Sorry" not in text and "Traceback" not in text
