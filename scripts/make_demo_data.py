"""Generate bot/data/demo_cascade.jsonl: a SYNTHETIC liquidation data set for the offline demo.

Shaped after real events in shared/reference/market-events.md: a day of ordinary liquidations,
a quiet stretch, then a one-hour short squeeze of about $458M (shorts ~$419M, longs ~$39M) led
by BTC and ETH, then calm. Times are seconds relative to the replay's start (negative: history
fed at once when the replay starts). Deterministic (fixed seed): run again to get the same file.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "bot" / "data" / "demo_cascade.jsonl"
SEED = 20260113

COINS = {  # coin: (share of volume, Binance symbol, Bybit symbol, OKX instId)
    "BTC": (0.44, "BTCUSDT", "BTCUSDT", "BTC-USDT-SWAP"),
    "ETH": (0.30, "ETHUSDT", "ETHUSDT", "ETH-USDT-SWAP"),
    "SOL": (0.09, "SOLUSDT", "SOLUSDT", "SOL-USDT-SWAP"),
    "XRP": (0.06, "XRPUSDT", "XRPUSDT", "XRP-USDT-SWAP"),
    "DOGE": (0.04, "DOGEUSDT", "DOGEUSDT", "DOGE-USDT-SWAP"),
    "PEPE": (0.03, "1000PEPEUSDT", "1000PEPEUSDT", "PEPE-USDT-SWAP"),
    "SUI": (0.02, "SUIUSDT", "SUIUSDT", "SUI-USDT-SWAP"),
    "BNB": (0.02, "BNBUSDT", "BNBUSDT", "BNB-USDT-SWAP"),
}
VENUES = (("binance", 0.45), ("bybit", 0.35), ("okx", 0.20))


def pick(rng: random.Random, weighted):
    x = rng.random() * sum(w for _, w in weighted)
    for item, w in weighted:
        x -= w
        if x <= 0:
            return item
    return weighted[-1][0]


def phase(rng, start_s, end_s, total_usd, short_share, intensity=lambda f: 1.0):
    """Events spread over [start_s, end_s) summing to total_usd, shaped by intensity(fraction)."""
    n = max(1, int(total_usd / 60_000))
    # sizes: lognormal, then scaled to the exact total
    sizes = [rng.lognormvariate(math.log(20_000), 1.4) for _ in range(n)]
    scale = total_usd / sum(sizes)
    # times: rejection sampling on the intensity curve
    times = []
    while len(times) < n:
        f = rng.random()
        if rng.random() <= intensity(f):
            times.append(start_s + f * (end_s - start_s))
    times.sort()
    coins = [(c, s[0]) for c, s in COINS.items()]
    out = []
    for t, size in zip(times, sizes, strict=True):
        coin = pick(rng, coins)
        venue = pick(rng, VENUES)
        sym = COINS[coin][{"binance": 1, "bybit": 2, "okx": 3}[venue]]
        side = "short" if rng.random() < short_share else "long"
        out.append(
            {
                "t": round(t, 3),
                "venue": venue,
                "symbol": sym,
                "coin": coin,
                "side": side,
                "usd": round(size * scale, 2),
            }
        )
    return out


def main() -> None:
    rng = random.Random(SEED)
    events = []
    # a day of ordinary liquidations, long-heavy, with a busier stretch 10-14 hours ago
    events += phase(rng, -24 * 3600, -14 * 3600, 60e6, 0.35)
    events += phase(rng, -14 * 3600, -10 * 3600, 95e6, 0.30)
    events += phase(rng, -10 * 3600, 0, 70e6, 0.45)
    # quiet: 10 minutes of small change
    events += phase(rng, 0, 600, 2.5e6, 0.5)

    # the squeeze: one hour, shorts $419.03M and longs $39.04M, in waves that build then fade
    def wave(f: float) -> float:
        return 0.25 + 0.75 * math.sin(math.pi * f) ** 2 * (
            0.7 + 0.3 * math.sin(6 * math.pi * f) ** 2
        )

    squeeze = phase(rng, 600, 4200, 458.07e6, 419.03 / 458.07, wave)
    events += squeeze
    # calm after the storm
    events += phase(rng, 4200, 6000, 6e6, 0.5)
    events.sort(key=lambda e: e["t"])
    header = {
        "synthetic": True,
        "description": "SYNTHETIC demo data shaped after the 2026-01-13 one-hour short squeeze "
        "($458M in 60 minutes: shorts $419.03M, longs $39.04M). Not real market data.",
        "seed": SEED,
        "events": len(events),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        f.write(json.dumps(header) + "\n")
        for e in events:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
    print(f"wrote {len(events)} events to {OUT}")


if __name__ == "__main__":
    main()
