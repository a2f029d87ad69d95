"""End to end through the console adapter: replayed data in, replies and alerts out."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

from bot.config import Secrets, parse_config
from bot.domain.models import Status
from bot.runtime import app
from bot.runtime.clock import Clock

COMMANDS = [
    "/subscribe btc 1h 100m",
    "/list",
    "/liqs",
    # a dozen malformed lines, each must get its own clear error
    "/subscribe",
    "/subscribe dogz 1h 100m",
    "/subscribe btc 3h 100m",
    "/subscribe btc 1h 0",
    "/subscribe btc 1h -5m",
    "/subscribe btc 1h 1000t",
    "/subscribe btc 1h abc",
    "/subscribe btc 1h 4h",
    "/subscribe btc 1h 100m sideways extra",
    "/unsubscribe x",
    "/mute",
    "/frobnicate",
    "/liqs btc 7h",
    "/status",
]
ERROR_MARKERS = ("Not quite", "Nothing removed")


class ManualClock(Clock):
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


def demo_config(tmp_path: Path, speed: float, url: str = "demo"):
    return parse_config(
        {
            "storage": {"path": str(tmp_path / "e2e.sqlite3")},
            "sources": {"replay": {"enabled": True, "url": url, "speed": speed}},
            "console": {"enabled": "on"},
            "broadcasts": [{"chat": "console:local", "rule": "all 1h 300m shorts"}],
        }
    )


async def test_piped_session_over_the_replayed_cascade(tmp_path: Path) -> None:
    out = io.StringIO()
    stdin = io.StringIO("\n".join(COMMANDS) + "\n")
    code = await app.run(
        demo_config(tmp_path, speed=4000), Secrets(), stdin=stdin, stdout=out,
        exit_when_replay_done=True,
    )  # fmt: skip
    text = out.getvalue()
    assert code == 0
    assert "Traceback" not in text
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert blocks[0].startswith("Subscribed") and "BTC total over 1h above $100M" in blocks[0]
    assert blocks[1].startswith("Your subscriptions") and "$100M" in blocks[1]
    assert blocks[2].startswith("Liquidations") and all(
        w in blocks[2] for w in ("1h", "4h", "12h", "24h")
    )
    errors = blocks[3:16]
    assert len(errors) == 13 and all(b.startswith(ERROR_MARKERS) for b in errors), errors
    assert blocks[16].startswith("Status")
    # the squeeze crosses both rules: the user's BTC rule and the operator's broadcast
    assert "BTC liquidations in 1h" in text
    assert "Market-wide shorts liquidated in 1h" in text
    assert "short squeeze" in text
    # through the production wiring the engine hands its snapshot to the alert: the coins of the
    # market-wide wave, the total beside the side's value, and the date
    assert re.search(r"^Shorts by coin: BTC \$[\d.]+M · ETH \$[\d.]+M · ", text, re.M), text
    assert re.search(r"^Total \$[\d.]+M: longs \$[\d.]+M \(\d+%\) · shorts ", text, re.M)
    assert re.search(
        r"^as of \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d UTC · sources: replay", text, re.M
    )
    # one alert per episode, plus escalations (2x), never a repeat of the same level
    assert text.count("#1 BTC liquidations in 1h") == len(
        {line for line in text.splitlines() if line.startswith("#1 BTC liquidations in 1h")}
    )


def test_cli_demo_with_piped_commands(tmp_path: Path) -> None:
    """The README's demo command, driven by a script through standard input."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "demo",
            "--speed",
            "4000",
            "--storage",
            str(tmp_path / "d.db"),
        ],
        input="\n".join(COMMANDS) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "SYNTHETIC" in proc.stdout
    assert "Subscribed" in proc.stdout and "Status" in proc.stdout
    assert "BTC liquidations in 1h" in proc.stdout


async def test_restart_does_not_refire(tmp_path: Path) -> None:
    replay = tmp_path / "wave.jsonl"
    events = [
        {
            "t": -600 + i,
            "venue": "binance",
            "symbol": "BTCUSDT",
            "coin": "BTC",
            "side": "short",
            "usd": 1.5e6,
        }
        for i in range(100)
    ]  # $150M of BTC shorts within the last 10 minutes
    replay.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    config = demo_config(tmp_path, speed=1, url=str(replay))
    t0 = 1_800_000_000_000

    out1 = io.StringIO()
    rt = await app.build(config, Secrets(), stdout=out1, clock=ManualClock(t0))
    try:
        assert rt.console is not None
        await rt.console.handle_line("/subscribe btc 1h 100m")
        await rt.replay.run(rt.market)  # history only: all of it is fed at once
        assert await rt.engine.tick() == 1
        await rt.delivery.drain()
    finally:
        await app.stop(rt)
    assert out1.getvalue().count("BTC liquidations in 1h: $150.00M") == 1

    out2 = io.StringIO()
    rt2 = await app.build(config, Secrets(), stdout=out2, clock=ManualClock(t0 + 60_000))
    try:
        sub = (await rt2.db.list_subscriptions("console:local"))[-1]
        assert rt2.book.state(sub.id).status is Status.FIRED  # the episode survived the restart
        rt2.market.up("replay", t0 + 60_000)  # the source reconnects after the restart
        assert rt2.market.snapshot(t0 + 60_000).value("BTC", 60, sub.side) == 150e6  # buckets too
        assert await rt2.engine.tick() == 0
        await rt2.delivery.drain()
    finally:
        await app.stop(rt2)
    assert "liquidations in 1h" not in out2.getvalue()
