"""Backtest on subscribe: what a confirmation costs over a 7-day store.

Builds the realistic store of bench/bench_storage.py (top 50 coins every minute on 3 venues, the
others one minute in ten), then times `bot.features.insight.rule_history` (the SQL read and the
minute-by-minute replay through rules.step) for one coin, one coin on one venue, the whole
market, and a relative rule (which also computes "usual" for every hour).

    python bench/bench_backtest.py [--coins 500]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_storage import DAYS, MINUTE, VENUES, filled
from bot.domain.models import ALL, Side, Subscription
from bot.domain.rules import Policy
from bot.features.insight import rule_history
from bot.store import BucketRow, Database


async def run(n_coins: int) -> None:
    coins = ["BTC", "ETH", "SOL"] + [f"C{i:03d}" for i in range(n_coins - 3)]
    now = 1_790_000_000_000 // MINUTE * MINUTE
    with tempfile.TemporaryDirectory() as d:
        db = await Database.open(Path(d) / "b.sqlite3")
        start = now - DAYS * 1440 * MINUTE
        n = 0
        for m in range(0, DAYS * 1440, 60):
            rows = [
                BucketRow(start + mm * MINUTE, coin, v, 40_000.0 * (mm & 1), 30_000.0)
                for mm in range(m, m + 60)
                for rank, coin in enumerate(coins)
                if filled(rank, mm, False)
                for v in VENUES
            ]
            n += await db.upsert_buckets(rows)
        print(f"store: {n:,} minute buckets, {n_coins} coins x {len(VENUES)} venues, {DAYS} days")
        cases = [
            ("BTC 1h $10M", Subscription(1, "c", "BTC", 60, Side.TOTAL, 10e6)),
            ("BTC 1h $5M shorts on binance",
             Subscription(1, "c", "BTC", 60, Side.SHORT, 5e6, venue="binance")),
            ("all 1h $1B", Subscription(1, "c", ALL, 60, Side.TOTAL, 1e9)),
            ("BTC 1h 3x (relative)", Subscription(1, "c", "BTC", 60, Side.TOTAL, 0.0, factor=3.0)),
        ]  # fmt: skip
        for label, sub in cases:
            t0 = time.perf_counter()
            h = await rule_history(db, Policy(), sub, now)
            secs = time.perf_counter() - t0
            fired = h.result.fired if h.result else None
            print(f"{label:32s} {secs * 1000:8.0f} ms  (fired {fired})")
        await db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--coins", type=int, default=500)
    asyncio.run(run(ap.parse_args().coins))


if __name__ == "__main__":
    main()
