"""Benchmark: alerts.attach_chart, the chart drawn when an alert is sent.

    python bench/bench_alert_charts.py [--chats 200] [--repeat 5]

The service is composed by bot.runtime.app.build (real SQLite file, 24 h of BTC minute buckets). Prints
the time to draw one alert's chart (store read + matplotlib render, as delivery does it) and the
time to prepare one broadcast's alert for N chats, where the chats share one render.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import Secrets, parse_config
from bot.domain.message import ChartRef, Message
from bot.features.chart_view import AlertCharts
from bot.runtime import app
from bot.runtime.clock import Clock
from bot.store import BucketRow

NOW = 1_800_000_000_000


class FixedClock(Clock):
    def now_ms(self) -> int:
        return NOW


async def main(chats: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config(
            {
                "storage": {"path": str(Path(tmp) / "b.sqlite3")},
                "sources": {
                    n: {"enabled": False} for n in ("okx", "bitget", "bitmex", "htx", "deribit")
                },
                "console": {"enabled": "off"},
            }
        )
        rt = await app.build(config, Secrets(), clock=FixedClock())
        try:
            minute = NOW // 60_000 * 60_000
            rows = [
                BucketRow(minute - i * 60_000, "BTC", v, 1e5 * (i % 7), 5e4 * (i % 3))
                for i in range(1440)
                for v in ("binance", "bybit")
            ]
            await rt.db.upsert_buckets(rows)
            for venue in ("binance", "bybit"):
                rt.market.up(venue, NOW - 2 * 86_400_000)
            one, broadcast = [], []
            for r in range(repeat + 1):  # the first round warms matplotlib up
                charts = AlertCharts(rt.db, rt.market)
                msg = Message("alert", chart=ChartRef("BTC", 60, NOW - r))
                t = time.perf_counter()
                out = await charts.prepare("telegram:1", msg)
                single = time.perf_counter() - t
                assert out.image is not None
                msg = Message("alert", chart=ChartRef("BTC", 240, NOW - r))
                t = time.perf_counter()
                done = await asyncio.gather(
                    *(charts.prepare(f"telegram:{c}", msg) for c in range(chats))
                )
                many = time.perf_counter() - t
                assert all(m.image is not None for m in done) and charts.drawn == 2
                if r:
                    one.append(single)
                    broadcast.append(many)
        finally:
            await app.stop(rt)
    ms = 1000
    print(f"one alert's chart (1h, 60 bars): median {statistics.median(one) * ms:.1f} ms, "
          f"best {min(one) * ms:.1f} ms")  # fmt: skip
    print(f"one broadcast to {chats} chats (4h chart): median "
          f"{statistics.median(broadcast) * ms:.1f} ms, best {min(broadcast) * ms:.1f} ms, "
          f"1 render shared")  # fmt: skip


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--chats", type=int, default=200)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    asyncio.run(main(a.chats, a.repeat))
