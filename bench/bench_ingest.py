"""Ingest benchmark: raw venue frames -> parsers -> Aggregator, on one core.

Prints events per second (parse alone, and parse + aggregation) and the peak memory of the
ingest (tracemalloc). Bucket storage over 7 days is measured by bench/bench_storage.py.

    python bench/bench_ingest.py [--events 300000] [--coins 500]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain.aggregate import Aggregator
from bot.domain.venues import parse_binance, parse_bybit, parse_okx

MINUTE = 60_000


def symbols(n: int) -> list[str]:
    base = ["BTC", "ETH", "SOL", "XRP", "DOGE", "PEPE", "WIF", "SUI", "LINK", "AVAX"]
    return base + [f"C{i:03d}X" for i in range(n - len(base))]


def build_frames(
    n_events: int, coins: list[str], now_ms: int, seed: int = 7
) -> tuple[list[tuple[Callable, str]], dict[str, float]]:
    """A realistic mix: ~45% Binance single events, ~35% Bybit (1-3 entries), ~20% OKX
    (1-3 details); coins skewed towards the big ones; times over the last hour."""
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) for i in range(len(coins))]
    ct_val = {f"{c}-USDT-SWAP": 0.01 for c in coins}
    frames: list[tuple[Callable, str]] = []
    made = 0
    while made < n_events:
        coin = rng.choices(coins, weights)[0]
        ts = now_ms - rng.randrange(3_600_000)
        price = round(rng.uniform(0.01, 60_000), 4)
        r = rng.random()
        if r < 0.45:
            side = rng.choice(("BUY", "SELL"))
            q = round(rng.uniform(0.001, 50), 3)
            frame = json.dumps({
                "e": "forceOrder", "E": ts,
                "o": {"s": f"{coin}USDT", "S": side, "o": "LIMIT", "f": "IOC", "q": str(q),
                      "p": str(price), "ap": str(price), "X": "FILLED", "l": str(q), "z": str(q),
                      "T": ts},
            })  # fmt: skip
            frames.append((parse_binance, frame))
            made += 1
        elif r < 0.8:
            k = rng.randint(1, 3)
            data = [
                {"T": ts + j, "s": f"{coin}USDT", "S": rng.choice(("Buy", "Sell")),
                 "v": str(round(rng.uniform(1, 5000), 2)), "p": str(price)}
                for j in range(k)
            ]  # fmt: skip
            frame = json.dumps({"topic": f"allLiquidation.{coin}USDT", "type": "snapshot",
                                "ts": ts, "data": data})  # fmt: skip
            frames.append((parse_bybit, frame))
            made += k
        else:
            k = rng.randint(1, 3)
            details = [
                {"bkLoss": "0", "bkPx": str(price), "ccy": "", "posSide": "", "side":
                 rng.choice(("buy", "sell")), "sz": str(rng.randint(1, 900)), "ts": str(ts + j)}
                for j in range(k)
            ]  # fmt: skip
            frame = json.dumps({
                "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
                "data": [{"details": details, "instFamily": f"{coin}-USDT",
                          "instId": f"{coin}-USDT-SWAP", "instType": "SWAP",
                          "uly": f"{coin}-USDT"}],
            })  # fmt: skip
            frames.append((parse_okx, frame))
            made += k
    return frames, ct_val


def ingest(frames: list[tuple[Callable, str]], ct_val: dict[str, float], agg: Aggregator | None,
           now_ms: int) -> int:  # fmt: skip
    n = 0
    for parse, frame in frames:
        events = parse(frame, ct_val) if parse is parse_okx else parse(frame)
        n += len(events)
        if agg is not None:
            agg.add(events, now_ms)
    return n


def rate(frames, ct_val, now_ms: int, with_agg: bool, repeat: int = 3) -> tuple[float, int]:
    best = 0.0
    n = 0
    for _ in range(repeat):
        agg = Aggregator(venues=("binance", "bybit", "okx")) if with_agg else None
        gc.collect()
        t0 = time.perf_counter()
        n = ingest(frames, ct_val, agg, now_ms)
        if agg is not None:
            agg.snapshot(now_ms)  # the work a tick does on top: included once
        best = max(best, n / (time.perf_counter() - t0))
    return best, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--coins", type=int, default=500)
    args = ap.parse_args()
    now_ms = (int(time.time() * 1000) // MINUTE) * MINUTE + 30_000
    coins = symbols(args.coins)
    frames, ct_val = build_frames(args.events, coins, now_ms)
    print(f"frames: {len(frames):,} holding ~{args.events:,} events, {len(coins)} coins")

    parse_rate, n = rate(frames, ct_val, now_ms, with_agg=False)
    print(f"parse only:            {parse_rate:>12,.0f} events/s ({n:,} events)")
    full_rate, n = rate(frames, ct_val, now_ms, with_agg=True)
    print(f"parse + aggregate:     {full_rate:>12,.0f} events/s")

    gc.collect()
    tracemalloc.start()
    agg = Aggregator(venues=("binance", "bybit", "okx"))
    ingest(frames, ct_val, agg, now_ms)
    agg.snapshot(now_ms)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"ingest peak memory:    {peak / 2**20:>12.1f} MiB (beyond the frames held in memory)")

    print("bucket storage for 7 days of 500 coins: python bench/bench_storage.py")


if __name__ == "__main__":
    main()
