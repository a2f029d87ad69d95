"""A restart through the production wiring: alerts still fire and /liqs still answers.

Built with `app.build` on a real SQLite file and live sources configured (not started: the test
feeds the Sink itself), stopped with `app.stop`, built again on the same file. A quick restart
(within the minute of the last data) made the restored downtime gap share its start with the
open start-up gap; every evaluation then raised TypeError and /liqs answered "Sorry".
"""

from __future__ import annotations

import io
from itertools import pairwise
from pathlib import Path

import pytest

from bot.config import Secrets, parse_config
from bot.domain.models import Liquidation, Side
from bot.runtime import app
from bot.runtime.clock import Clock
from tests.offline import sources_off

T0 = 1_800_000_000_000 + 10_000  # ten seconds into a minute


class ManualClock(Clock):
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


def live_config(tmp_path: Path):
    return parse_config(
        {
            "storage": {"path": str(tmp_path / "restart.sqlite3")},
            "sources": sources_off(binance={}, bybit={}),
            "console": {"enabled": "on"},
        }
    )


def _is_well_formed(gaps: list[tuple[int, int | None]]) -> bool:
    """Sorted, disjoint, and only the last may be open."""
    return all(a[1] is not None and a[1] < b[0] for a, b in pairwise(gaps))


@pytest.mark.parametrize("downtime_ms", [20_000, 7 * 60_000], ids=["same-minute", "7-minutes"])
async def test_after_a_restart_alerts_fire_and_liqs_answers(
    tmp_path: Path, downtime_ms: int
) -> None:
    config = live_config(tmp_path)
    out1 = io.StringIO()
    rt = await app.build(config, Secrets(), stdout=out1, clock=ManualClock(T0))
    try:
        assert rt.console is not None
        await rt.console.handle_line("/subscribe btc 1h 100m")
        for venue in ("binance", "bybit"):
            rt.market.up(venue, T0)
        rt.market.events("binance", [Liquidation("binance", "BTC", Side.SHORT, 150e6, T0)])
        assert await rt.engine.tick() == 1
        await rt.delivery.drain()
    finally:
        await app.stop(rt)
    assert "BTC liquidations in 1h: $150.00M" in out1.getvalue()

    t1 = T0 + downtime_ms
    out2 = io.StringIO()
    rt2 = await app.build(config, Secrets(), stdout=out2, clock=ManualClock(t1))
    try:
        assert rt2.console is not None
        for venue in ("binance", "bybit"):
            assert _is_well_formed(rt2.market.health.gaps(0, venue))
        assert await rt2.engine.tick() == 0  # the BTC episode survived: no re-fire, no raise
        await rt2.console.handle_line("/subscribe eth 1h 50m")
        rt2.market.up("binance", t1)
        rt2.market.events("binance", [Liquidation("binance", "ETH", Side.LONG, 60e6, t1)])
        assert await rt2.engine.tick() == 1  # a new wave after the restart still FIRES
        await rt2.delivery.drain()
        await rt2.console.handle_line("/liqs")
        await rt2.console.handle_line("/status")
        # up() closed binance's open gap (it was the last one), bybit is still connecting
        assert rt2.market.health.gaps(0, "binance")[-1][1] is not None
        assert rt2.market.health.gaps(0, "bybit")[-1][1] is None
    finally:
        await app.stop(rt2)
    text = out2.getvalue()
    assert "Sorry" not in text and "Traceback" not in text
    assert "ETH liquidations in 1h: $60.00M" in text
    liqs = text[text.index("Liquidations") :]
    assert "$150.00M" in liqs and "$60.00M" in liqs  # /liqs has the totals from before and after
    assert "binance" in text and "bybit" in text and "Status" in text
