"""Memory of a flood of invented symbols (issue 17 item 6): old code (git archive of 6b0fe0d) and
new, each in a fresh process, alternately.

Each run feeds 20,000 invented coins (a Binance-shaped Liquidation each, one per minute over 10
minutes) into a LiveMarket with a default Aggregator and prints its peak RSS before and after.

    python bench/bench_unknown_symbols.py [--symbols 20000] [--rounds 2]

Prints `rss growth old: N MB` / `rss growth new: N MB` last.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = "6b0fe0d"

CHILD = r"""
import resource, sys, time
sys.path.insert(0, sys.argv[1])
n = int(sys.argv[2])
try:
    from bot.runtime.market_view import LiveMarket
    from bot.runtime.clock import Clock
except ImportError:  # the base's layout
    from bot.market_view import LiveMarket
    from bot.clock import Clock
from bot.domain.aggregate import Aggregator
from bot.domain.health import SourceHealth
from bot.domain.models import Liquidation, Side

T0 = 1_800_000_000_000
class Fixed(Clock):
    def __init__(self): self.t = T0
    def now_ms(self): return self.t
clock = Fixed()
agg = Aggregator(venues=("binance",))
m = LiveMarket(agg, SourceHealth(["binance"], T0), clock)
m.up("binance", T0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
for minute in range(10):
    clock.t = T0 + minute * 60_000
    m.events("binance", [Liquidation("binance", f"QZ{i}X", Side.LONG, 1000.0, clock.t, f"QZ{i}XUSDT")
                         for i in range(n)])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{before:.0f} {after:.0f} {len(agg.coins())}")
"""


def base_tree(dest: Path) -> Path:
    blob = subprocess.run(
        ["git", "-C", str(ROOT), "archive", BASE, "bot"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as t:
        t.extractall(dest, filter="data")
    return dest


def run(tree: Path, n: int) -> tuple[float, float, int]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(n)], capture_output=True, text=True, check=True
    )
    b, a, coins = out.stdout.split()
    return float(b), float(a), int(coins)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old_tree = base_tree(Path(tmp))
        growth: dict[str, list[float]] = {"old": [], "new": []}
        for r in range(args.rounds):
            for name, tree in (("old", old_tree), ("new", ROOT)):
                b, a, coins = run(tree, args.symbols)
                load = Path("/proc/loadavg").read_text().split()[0]
                print(
                    f"round {r + 1} {name}: rss {b:.0f} -> {a:.0f} MB, {coins} coins tracked (load {load})"
                )
                growth[name].append(a - b)
        for name in ("old", "new"):
            print(f"rss growth {name}: {min(growth[name]):.0f} MB")


if __name__ == "__main__":
    main()
