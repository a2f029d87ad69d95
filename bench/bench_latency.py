"""Alert latency: from the event that crosses a threshold to the alert written by the console.

Runs the real service wiring (scheduler, engine, SQLite outbox, delivery) with the default
debounce (0.5 s) and a 10 s tick, and crosses a fresh threshold N times.

    python bench/bench_latency.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot import app
from bot.config import Secrets, parse_config
from bot.domain.models import Liquidation, Side


class Watch:
    """A stdout that notes when each line arrives."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        now = time.monotonic()
        self.seen.extend((now, line) for line in text.splitlines())
        return len(text)

    def flush(self) -> None:
        pass


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        config = parse_config(
            {
                "storage": {"path": str(Path(d) / "lat.sqlite3")},
                "sources": {n: {"enabled": False} for n in ("binance", "bybit", "okx")},
                "console": {"enabled": "on"},
            }
        )
        out = Watch()
        rt = await app.build(config, Secrets(), stdout=out)  # type: ignore[arg-type]
        await app.start(rt)
        rt.market.up("binance", rt.clock.now_ms())
        coins = ["BTC", "ETH", "SOL", "XRP", "DOGE", "BNB", "ADA", "TRX", "AVAX", "LINK"]
        lat = []
        for i in range(rounds):
            coin = coins[i % len(coins)]
            threshold = 10e6 * (i + 1)
            await rt.console.handle_line(f"/subscribe {coin} 5m {threshold:.0f} shorts")
            await asyncio.sleep(0.3)
            needle = f"{coin} shorts liquidated in 5m"
            start = len(out.seen)
            t0 = time.monotonic()
            ev = Liquidation("binance", coin, Side.SHORT, threshold * 1.5, rt.clock.now_ms())
            rt.market.events("binance", [ev])
            while not any(needle in line for _, line in out.seen[start:]):
                await asyncio.sleep(0.005)
            t1 = next(t for t, line in out.seen[start:] if needle in line)
            lat.append((t1 - t0) * 1000)
            await rt.console.handle_line("/unsubscribe all")
        await app.stop(rt)
    lat.sort()
    print(f"event -> alert on the console, {rounds} rounds (debounce 0.5 s, tick 10 s):")
    print(f"  p50 {statistics.median(lat):.0f} ms, max {lat[-1]:.0f} ms, min {lat[0]:.0f} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    asyncio.run(main(ap.parse_args().rounds))
