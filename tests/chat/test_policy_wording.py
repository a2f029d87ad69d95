"""Alert and /list wording follows the configured policy (issue 8, item 5), through app.build."""

from __future__ import annotations

import io
import json
from pathlib import Path

from bot.config import Secrets, parse_config
from bot.runtime import app
from tests.test_e2e_console import ManualClock

T0 = 1_800_000_000_000


async def test_escalation_factor_3_says_3x_and_the_rearm_note_says_the_policy(
    tmp_path: Path,
) -> None:
    replay = tmp_path / "wave.jsonl"
    rows = [
        {"t": -600 + i, "venue": "bybit", "symbol": "ETHUSDT", "coin": "ETH", "side": "long",
         "usd": 1.5e6}
        for i in range(100)
    ]  # fmt: skip
    replay.write_text("\n".join(json.dumps(r) for r in rows) + "\n")  # $150M of ETH longs
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "t.sqlite3")},
            "sources": {"replay": {"enabled": True, "url": str(replay)}},
            "console": {"enabled": "on"},
            "alerts": {"escalation_factor": 3, "rearm_ratio": 0.5, "min_quiet": 1800},
        }
    )
    out = io.StringIO()
    rt = await app.build(config, Secrets(), stdout=out, clock=ManualClock(T0))
    try:
        await rt.replay.run(rt.market)
        note = (
            "One alert per wave, one more at each 3× of the amount; it re-arms once the total is "
            "back below 50% of the amount, at least 30m after its first alert."
        )
        await rt.console.handle_line("/subscribe eth 1h 50m")
        assert note in out.getvalue()  # the confirmation
        assert "Warning: this fires now" in out.getvalue()
        assert await rt.engine.tick() == 1
        await rt.delivery.drain()
        text = out.getvalue()
        assert "#1 ETH liquidations in 1h: $150.00M (threshold $50M), now 3× your threshold" in text
        assert "2×" not in text
        out.truncate(0)
        await rt.console.handle_line("/list")
        assert "fired 3×" in out.getvalue() and note in out.getvalue()
    finally:
        await app.stop(rt)
