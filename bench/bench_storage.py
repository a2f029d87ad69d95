"""Bucket storage for 7 days of 500 coins x 3 venues: memory of the hot path and size on disk.

The running service keeps in memory only what the windows read (26 h of minute buckets, see
bot/runtime/hot_buckets.py HOT_MINUTES) and persists every bucket to SQLite, which holds the retention period
(7 days by default) for restarts, charts and backtests. This prints both figures, for a realistic
mix and for the worst case where every coin has liquidations on every venue every minute.

    python bench/bench_storage.py            # realistic mix
    python bench/bench_storage.py --full     # worst case: every minute of every series filled
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

from bot.domain.aggregate import Aggregator, BucketRow
from bot.domain.models import Liquidation, Side
from bot.runtime.hot_buckets import HOT_MINUTES
from bot.store import Database

MINUTE = 60_000
VENUES = ("binance", "bybit", "okx")
DAYS = 7


def filled(rank: int, m: int, full: bool) -> bool:
    """Realistic: the top 50 coins every minute, the rest in one minute out of ten."""
    return full or rank < 50 or m % 10 == rank % 10


def hot_memory(coins: list[str], now_ms: int, full: bool) -> tuple[float, int]:
    gc.collect()
    tracemalloc.start()
    agg = Aggregator(venues=VENUES, retention_minutes=HOT_MINUTES)
    start = now_ms - HOT_MINUTES * MINUTE + MINUTE
    n = 0
    for rank, coin in enumerate(coins):
        events = [
            Liquidation(v, coin, Side.LONG if m & 1 else Side.SHORT, 1234.56, start + m * MINUTE)
            for v in VENUES
            for m in range(HOT_MINUTES)
            if filled(rank, m, full)
        ]
        n += agg.add(events, now_ms)
        agg.dirty_rows()  # the app hands these to the store; memory must not keep them
    agg.snapshot(now_ms)
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return current / 2**20, n


async def disk_size(coins: list[str], now_ms: int, full: bool) -> tuple[float, int, float]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "buckets.sqlite3"
        db = await Database.open(path)
        start = now_ms - DAYS * 1440 * MINUTE
        n = 0
        t0 = time.perf_counter()
        for m in range(0, DAYS * 1440, 60):  # an hour of minutes per transaction
            rows = [
                BucketRow((start // MINUTE + mm) * MINUTE, coin, v, 1234.56 * (mm & 1), 987.65)
                for mm in range(m, m + 60)
                for rank, coin in enumerate(coins)
                if filled(rank, mm, full)
                for v in VENUES
            ]
            n += await db.upsert_buckets(rows)
        secs = time.perf_counter() - t0
        await db.close()
        size = sum(os.path.getsize(p) for p in Path(d).iterdir())
        return size / 2**20, n, secs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--coins", type=int, default=500)
    ap.add_argument("--full", action="store_true", help="worst case: every minute filled")
    args = ap.parse_args()
    coins = [f"C{i:03d}" for i in range(args.coins)]
    now_ms = (int(time.time() * 1000) // MINUTE) * MINUTE + 30_000
    kind = "every minute filled" if args.full else "top 50 every minute, others 1 in 10"
    print(f"{args.coins} coins x {len(VENUES)} venues, {kind}")
    mib, n = hot_memory(coins, now_ms, args.full)
    print(
        f"memory, hot path ({HOT_MINUTES // 60} h of minute buckets): {mib:8.1f} MiB  ({n:,} buckets)"
    )
    mib, n, secs = asyncio.run(disk_size(coins, now_ms, args.full))
    print(f"SQLite, {DAYS} days of minute buckets:          {mib:8.1f} MiB  ({n:,} rows, "
          f"written in {secs:.0f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
