"""Benchmark: rendering one tick's alerts (engine.group_alerts) for N chats.

    python bench/bench_alert_render.py [--chats 5000] [--coins 500] [--repeat 5]

Half the alerts are market-wide (they name the coins that carried the wave, ranked once per
tick), half are one coin's; every message carries the total, the split, venues, the re-arm note
and a dated footer. Prints the best and median time per tick and per message.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.domain.market import WINDOWS
from bot.domain.models import (
    ALL,
    Alert,
    AlertKind,
    AlertState,
    Side,
    Snapshot,
    Subscription,
    Transition,
    VenueSplit,
    WindowTotals,
)
from bot.runtime.engine import group_alerts

T = 1768313100000


def snapshot(coins: int) -> Snapshot:
    totals = {}
    for w in WINDOWS:
        lg = sh = 0.0
        for i in range(coins):
            t = WindowTotals(1e4 * (i % 17 + 1) * w, 2e4 * (i % 13 + 1) * w)
            totals[(f"C{i}", w)] = t
            lg, sh = lg + t.longs, sh + t.shorts
        totals[(ALL, w)] = WindowTotals(lg, sh)
    return Snapshot(T, totals, served_windows=frozenset(WINDOWS), sources=("binance", "bybit"))


def transitions(chats: int) -> list[Transition]:
    venues = (VenueSplit("binance", 1e7, 2e8), VenueSplit("bybit", 5e6, 1e8))
    out = []
    for i in range(chats):
        coin = ALL if i % 2 else "C3"
        sub = Subscription(i + 1, f"telegram:{i}", coin, 60, Side.SHORT, 1e8, number=1)
        alert = Alert(sub, AlertKind.FIRED, 3e8, 1, 1, T, 3e7, 3e8, venues, ("binance", "bybit"))
        out.append(Transition(sub.id, AlertState(sub.id), AlertState(sub.id), alert))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chats", type=int, default=5000)
    ap.add_argument("--coins", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    snap, trs = snapshot(args.coins), transitions(args.chats)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        items = group_alerts(trs, T, snap)
        times.append(time.perf_counter() - t0)
    assert len(items) == args.chats
    best, median = min(times), statistics.median(times)
    print(f"{args.chats} alert messages, {args.coins} coins in the snapshot")
    print(f"best   {best * 1000:.1f} ms per tick, {best / args.chats * 1e6:.1f} µs per message")
    print(f"median {median * 1000:.1f} ms per tick, {median / args.chats * 1e6:.1f} µs per message")
    # the outbox stores each message as JSON of to_dict: once per message in the commit
    messages = [item.message for item in items]
    t0 = time.perf_counter()
    for m in messages:
        m.to_dict()
    per = (time.perf_counter() - t0) / len(messages)
    t0 = time.perf_counter()
    for m in messages[:500]:
        dataclasses.asdict(m)
    naive = (time.perf_counter() - t0) / min(500, len(messages))
    print(
        f"Message.to_dict {per * 1e6:.1f} µs per message (dataclasses.asdict: {naive * 1e6:.1f} µs)"
    )


if __name__ == "__main__":
    main()
