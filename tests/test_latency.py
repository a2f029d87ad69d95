"""New data triggers an evaluation at once: an alert must not wait for the next tick."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from bot.config import Secrets, parse_config
from bot.domain.models import Liquidation, Side
from bot.runtime import app
from tests.offline import sources_off


async def test_alert_follows_the_data_not_the_tick(tmp_path: Path) -> None:
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "l.sqlite3")},
            "sources": sources_off(),
            "console": {"enabled": "on"},
            "alerts": {"tick": "1h"},  # only a data-triggered run can be in time
        }
    )
    out = io.StringIO()
    rt = await app.build(config, Secrets(), stdout=out)
    try:
        await app.start(rt)
        await rt.console.handle_line("/subscribe btc 1h 100m shorts")
        now = rt.clock.now_ms()
        rt.market.up("binance", now)
        await asyncio.sleep(0.5)  # the scheduler's first runs are over; the next tick is 1 h away
        assert "liquidated" not in out.getvalue()
        evaluate, drain = rt.scheduler.trigger("evaluate"), rt.scheduler.trigger("drain")
        assert evaluate is not None and drain is not None
        data_runs, drains = rt.engine.data_runs, drain.runs
        rt.market.events("binance", [Liquidation("binance", "BTC", Side.SHORT, 150e6, now)])
        assert evaluate.running  # leading edge: started by the frame itself, no delay
        await evaluate.wait_idle()
        assert rt.engine.data_runs == data_runs + 1
        await drain.wait_idle()  # the enqueue poked the drain at once (no 2 s interval wait)
        assert drain.runs == drains + 1
        assert "BTC shorts liquidated in 1h" in out.getvalue()
    finally:
        await app.stop(rt)
