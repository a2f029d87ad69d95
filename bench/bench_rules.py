"""Benchmarks of the rules engine (1,000,000 subscriptions) and of the aggregator.

    python bench/bench_rules.py              # rules: indexed evaluate vs the one-by-one loop
    python bench/bench_rules.py --aggregate  # aggregator: add() cost, snapshot cost, memory
    python bench/bench_rules.py --aggregate --worst  # + memory with every bucket filled (~2 min)

Figures go to stdout; nothing is asserted (speed is measured here, not in tests).
"""

from __future__ import annotations

import gc
import math
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain.aggregate import Aggregator, SourceHealth
from bot.domain.market import WINDOWS
from bot.domain.models import (
    ALL,
    Liquidation,
    Side,
    Snapshot,
    Status,
    Subscription,
    VenueSplit,
    WindowTotals,
)
from bot.domain.rules import RuleBook

MIN = 60_000
T0 = 1_767_225_600_000
N_SUBS = 1_000_000
COINS = [f"C{i:03d}" for i in range(200)]
VENUES = ("binance", "bybit", "okx")


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    """Median seconds over `runs` calls, and the last result."""
    times = []
    result = None
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


# ---- rules ---------------------------------------------------------------------------------


def market(rng: random.Random, scale: float, now: int, noise: float = 0.005) -> Snapshot:
    """A market-shaped snapshot: a few coins carry most of the volume (Zipf-like).

    Each coin keeps its own shape from call to call (seeded once); `scale` moves the whole
    market and `noise` is the per-coin, per-window wobble of one tick.
    """
    totals: dict[tuple[str, int], WindowTotals] = {}
    venues: dict[tuple[str, int], tuple[VenueSplit, ...]] = {}
    for coin in COINS:
        day, long_share = SHAPE[coin]
        for w in WINDOWS:
            v = day * scale * (w / 1440) ** 0.7 * rng.uniform(1 - noise, 1 + noise)
            totals[(coin, w)] = WindowTotals(v * long_share, v * (1 - long_share))
            venues[(coin, w)] = tuple(
                VenueSplit(name, v * long_share * f, v * (1 - long_share) * f)
                for name, f in zip(VENUES, (0.5, 0.3, 0.2), strict=True)
            )
    for w in WINDOWS:
        longs = sum(totals[(c, w)].longs for c in COINS)
        shorts = sum(totals[(c, w)].shorts for c in COINS)
        totals[(ALL, w)] = WindowTotals(longs, shorts)
    return Snapshot(
        as_of_ms=now,
        totals=totals,
        venues=venues,
        served_windows=frozenset(WINDOWS),
        complete_windows=frozenset(WINDOWS),
        sources=VENUES,
        sampled=True,
    )


_shape_rng = random.Random(9)
SHAPE = {  # coin -> ($ a day at scale 1, share of longs); BTC-like first: ~$150M a day
    c: (150e6 / r**1.1 * _shape_rng.uniform(0.8, 1.2), _shape_rng.uniform(0.2, 0.8))
    for r, c in enumerate(COINS, start=1)
}


def store_chat_key() -> Callable[[str], str]:
    """How the store of the code under test makes a rule's chat key, so that the rules built
    here hold theirs as that code's loaded rules would: one object per chat since issue 18
    (`bot.store.subscriptions.shared_key`), before it each row's own string."""
    try:
        from bot.store.subscriptions import shared_key
    except ImportError:
        return str
    return shared_key


def build_subscriptions(rng: random.Random) -> list[Subscription]:
    coins = [*COINS, ALL]
    sides = list(Side)
    key = store_chat_key()
    lo, hi = math.log(1e5), math.log(1e9)
    return [
        Subscription(
            i,
            key(f"telegram:{i % 50_000}"),
            rng.choice(coins),
            rng.choice(WINDOWS),
            rng.choice(sides),
            round(math.exp(rng.uniform(lo, hi)), -3),
        )
        for i in range(1, N_SUBS + 1)
    ]


def bench_rules() -> None:
    rng = random.Random(42)
    t = time.perf_counter()
    subs = build_subscriptions(rng)
    book = RuleBook()
    book.load(subs, {})
    print(f"built and loaded {len(book):,} subscriptions in {time.perf_counter() - t:.1f} s")

    # history: a calm market, then a shock, then calm again, so states are a realistic mix
    now = T0
    for scale in (1.0, 3.0, 1.2):
        now += 20 * MIN
        s = market(rng, scale, now)
        transitions = book.evaluate(s, now)
        book.apply(transitions)
    fired = sum(1 for x in subs if book.state(x.id).status is Status.FIRED)  # type: ignore[union-attr]
    print(f"states: {fired:,} fired, {N_SUBS - fired:,} armed")

    ticks = (("a calm tick", 1.2, 0.005), ("a shock tick", 1.5, 0.1), ("a crash tick", 6.0, 0.1))
    for label, scale, noise in ticks:
        now += 5_000
        tick = market(rng, scale, now, noise)
        indexed_s, indexed = timed(lambda tick=tick, now=now: book.evaluate(tick, now), 7)
        naive_s, naive = timed(lambda tick=tick, now=now: book.evaluate_naive(tick, now), 3)
        assert indexed == naive, "the index disagrees with the one-by-one loop"
        print(f"{label}, {len(indexed):,} transitions (not applied):")  # type: ignore[arg-type]
        print(f"  indexed evaluate  {indexed_s * 1e3:8.1f} ms (median of 7)")
        print(f"  one-by-one loop   {naive_s * 1e3:8.1f} ms (median of 3)")
        print(f"  ratio             {naive_s / indexed_s:8.1f} x")

    # steady state: a tick every 5 s, the market drifting a little, transitions applied
    evals, applies, counts = [], [], []
    scale = 1.2
    for _ in range(30):
        now += 5_000
        scale *= rng.uniform(0.99, 1.01)
        s = market(rng, scale, now)
        t = time.perf_counter()
        transitions = book.evaluate(s, now)
        evals.append(time.perf_counter() - t)
        t = time.perf_counter()
        book.apply(transitions)
        applies.append(time.perf_counter() - t)
        counts.append(len(transitions))
    print("incremental ticks (30, applied):")
    print(
        f"  evaluate median {statistics.median(evals) * 1e3:.1f} ms, max {max(evals) * 1e3:.1f} ms"
    )
    print(f"  apply median    {statistics.median(applies) * 1e3:.1f} ms")
    print(f"  transitions     median {statistics.median(counts):.0f}, max {max(counts)}")
    shock = market(rng, 1.5, now + 5_000, 0.1)
    transitions = book.evaluate(shock, now + 5_000)
    t0 = time.perf_counter()
    book.apply(transitions)
    print(f"  applying a shock tick's {len(transitions):,} transitions: "
          f"{(time.perf_counter() - t0) * 1e3:.1f} ms")  # fmt: skip


# ---- aggregator ----------------------------------------------------------------------------


def events_for(coins: list[str], minute: int, rng: random.Random) -> list[Liquidation]:
    return [
        Liquidation(v, c, Side.LONG if rng.random() < 0.5 else Side.SHORT, 1000.0, minute * MIN)
        for c in coins
        for v in VENUES
    ]


def bench_add_and_snapshot() -> None:
    rng = random.Random(1)
    now = T0 + 10 * 1440 * MIN
    coins = [f"C{i:03d}" for i in range(500)]
    weights = [1 / (r + 1) for r in range(500)]
    events = [
        Liquidation(
            rng.choice(VENUES),
            rng.choices(coins, weights)[0],
            Side.LONG if rng.random() < 0.5 else Side.SHORT,
            rng.uniform(100, 1e6),
            # this minute; one in ten from the minute before, already in the running sums
            now + rng.randrange(30_000) if rng.random() < 0.9 else now - 1 - rng.randrange(MIN),
        )
        for _ in range(300_000)
    ]
    agg = Aggregator(VENUES)
    agg.snapshot(now + 30_000)
    per = []
    for _ in range(5):
        t = time.perf_counter()
        agg.add(events, now)
        per.append((time.perf_counter() - t) / len(events))
    print(f"add(): {statistics.median(per) * 1e6:.2f} us/event (median of 5 x 300k events, "
          f"{len(agg._late) / 5 / len(events):.0%} late)")  # fmt: skip
    # a day of history for 500 coins x 3 venues, then snapshots
    for m in range(now // MIN - 1440, now // MIN, 7):
        agg.add(events_for(coins, m, rng), now)
    first, _ = timed(lambda: agg.snapshot(now, WINDOWS), 1)
    health = SourceHealth(VENUES, now - 2 * 1440 * MIN)
    for v in VENUES:
        health.up(v, now - 2 * 1440 * MIN)
    same_minute, _ = timed(lambda: agg.snapshot(now + 5_000, WINDOWS, health), 9)
    late = [Liquidation("okx", "C001", Side.LONG, 5.0, now - 3 * MIN)] * 200
    agg.add(late, now + 5_000)
    with_late, _ = timed(lambda: agg.snapshot(now + 6_000, WINDOWS, health), 1)
    advance = []
    for k in range(1, 11):
        agg.add(events_for(coins[:50], now // MIN + k, rng), now + k * MIN)
        t = time.perf_counter()
        agg.snapshot(now + k * MIN + 1_000, WINDOWS, health)
        advance.append(time.perf_counter() - t)
    print(f"snapshot, {len(agg.coins())} coins x 3 venues, all 8 windows:")
    print(f"  first (full recount)      {first * 1e3:7.1f} ms")
    print(f"  same minute (every tick)  {same_minute * 1e3:7.1f} ms")
    print(f"  with 200 late events      {with_late * 1e3:7.1f} ms")
    print(f"  new minute (advance)      {statistics.median(advance) * 1e3:7.1f} ms median")


def deep_size(agg: Aggregator) -> int:
    """Bytes held by the aggregator's buckets and indexes (a tracemalloc cross-check)."""
    size = sys.getsizeof(agg._series)
    for key, s in agg._series.items():
        size += sys.getsizeof(key) + sys.getsizeof(s) + sys.getsizeof(s.sums)
        size += sys.getsizeof(s.chunks) + sys.getsizeof(s.dirty)
        size += sum(sys.getsizeof(c) + 28 for c in s.chunks.values())
        size += sys.getsizeof(s.cold_min) + sys.getsizeof(s.cold_val)
    return size


def fill(
    agg: Aggregator, now: int, coins_share: list[tuple[list[str], float]], days: int = 7
) -> int:
    rng = random.Random(5)
    n = 0
    for m in range(now // MIN - days * 1440 + 1, now // MIN + 1):
        if m % 60 == 0:
            agg.dirty_rows()  # as the app does every few seconds
        batch = [
            Liquidation(v, c, Side.LONG if rng.random() < 0.5 else Side.SHORT, 1000.0, m * MIN)
            for coins, share in coins_share
            for c in coins
            for v in VENUES
            if share >= 1 or rng.random() < share
        ]
        n += agg.add(batch, now)
    agg.dirty_rows()
    agg.snapshot(now, WINDOWS)  # recount + compaction of what no window reads
    return n


def bench_memory(worst: bool) -> None:
    now = T0 + 10 * 1440 * MIN
    coins = [f"C{i:03d}" for i in range(500)]
    # realistic: 20 coins liquidate every minute on every venue, 100 in 30 % of the minutes,
    # the 380 others in 3 %; measured with tracemalloc
    tracemalloc.start()
    agg = Aggregator(VENUES)
    base = tracemalloc.get_traced_memory()[0]
    n = fill(agg, now, [(coins[:20], 1.0), (coins[20:120], 0.3), (coins[120:], 0.03)])
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    print(f"memory, 7 days x 500 coins x 3 venues, realistic ({n:,} filled buckets):")
    print(f"  tracemalloc {used / 1e6:.1f} MB, deep size {deep_size(agg) / 1e6:.1f} MB")
    del agg
    gc.collect()
    if not worst:
        return
    # worst case: every coin on every venue in every minute (15.1 M buckets)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    agg = Aggregator(VENUES)
    t = time.perf_counter()
    n = fill(agg, now, [(coins, 1.0)])
    print(
        f"memory, worst case, every one of {n:,} buckets filled ({time.perf_counter() - t:.0f} s):"
    )
    print(f"  deep size {deep_size(agg) / 1e6:.1f} MB, peak RSS growth "
          f"{(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1e3:.0f} MB")  # fmt: skip
    del agg
    gc.collect()
    agg = Aggregator(VENUES, retention_minutes=1440 + 60)
    n = fill(agg, now, [(coins, 1.0)], days=2)
    print(f"memory, worst case with a 25 h retention (the store keeps the 7 days): "
          f"{n:,} buckets kept, deep size {deep_size(agg) / 1e6:.1f} MB")  # fmt: skip


if __name__ == "__main__":
    if "--aggregate" in sys.argv:
        if "--memory-only" not in sys.argv:
            bench_add_and_snapshot()
        bench_memory(worst="--worst" in sys.argv)
    else:
        bench_rules()
