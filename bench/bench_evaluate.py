"""The crash tick's evaluate stage, old code against new, side by side (issue 18).

    python bench/bench_evaluate.py                  # this tree against 6b0fe0d, 3 rounds
    python bench/bench_evaluate.py --base COMMIT --rounds 2 --subs 200000

The book, history and crash snapshot of bench_crash_tick.py (1,000,000 subscriptions, seeded;
213,583 transitions). The base commit's `bot` is exported with `git archive` into a temporary
directory; the two codes run in alternating child processes on the shared machine, each child
timing `RuleBook.evaluate` 3 times (and loading the book and applying the moves once, to show
what the index's extra columns cost there). The load average is printed beside every child.
The last line is the new code's best evaluate. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = "6b0fe0d"  # main before issue 18


def measure(n_subs: int) -> dict[str, object]:
    import bot.domain.rules  # the code under test first: bench_rules puts this tree on the path

    sys.path.insert(1, str(ROOT / "bench"))
    import bench_rules as br

    from bot.domain.moves import paused_gc
    from bot.domain.rules import RuleBook

    br.N_SUBS = n_subs
    rng = br.random.Random(42)
    subs = br.build_subscriptions(rng)
    t = time.perf_counter()
    with paused_gc():
        book = RuleBook()
        book.load(subs, {})
    load_ms = (time.perf_counter() - t) * 1e3
    now = br.T0
    for scale in (1.0, 3.0, 1.2):  # bench_crash_tick's history: a realistic mix of states
        now += 20 * br.MIN
        book.apply(book.evaluate(br.market(rng, scale, now), now))
    for scale, noise in ((1.2, 0.005), (1.5, 0.1), (6.0, 0.1)):
        now += 5_000
        crash = br.market(rng, scale, now, noise)
    gc.freeze()  # as the app does after start-up
    times = []
    transitions = None
    for _ in range(3):
        transitions = None
        t = time.perf_counter()
        transitions = book.evaluate(crash, now)
        times.append((time.perf_counter() - t) * 1e3)
    t = time.perf_counter()
    with paused_gc():
        book.apply(transitions)  # type: ignore[arg-type]
    apply_ms = (time.perf_counter() - t) * 1e3
    return {
        "code": str(Path(bot.domain.rules.__file__).resolve().parents[2]),
        "transitions": len(transitions),  # type: ignore[arg-type]
        "evaluate": times,
        "load": load_ms,
        "apply": apply_ms,
    }


def export(commit: str, into: Path) -> None:
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "bot"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as t:
        t.extractall(into, filter="data")


def child(code_root: Path, n_subs: int) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(code_root))
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--subs", str(n_subs)],
        env=env, cwd=code_root, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subs", type=int, default=1_000_000)
    ap.add_argument("--base", default=BASE)
    ap.add_argument("--rounds", type=int, default=3, help="child processes per code, alternating")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.subs)))
        return
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        export(args.base, Path(d))
        roots = {f"old ({args.base})": Path(d), "new": ROOT}
        print(f"evaluate, crash tick over {args.subs:,} subscriptions (ms; load = 1-min average)")
        print(f"  {'code':<16}{'load avg':>9}{'evaluate x3':>26}{'book.load':>11}{'apply':>9}")
        for _ in range(args.rounds):
            for name, root in roots.items():
                load_avg = os.getloadavg()[0]
                r = child(root, args.subs)
                ev: list[float] = r["evaluate"]  # type: ignore[assignment]
                best[name] = min(best.get(name, float("inf")), *ev)
                runs = " / ".join(f"{v:.0f}" for v in ev)
                print(
                    f"  {name:<16}{load_avg:>9.2f}{runs:>26}{r['load']:>11.0f}{r['apply']:>9.0f}"
                    f"   ({r['transitions']:,} transitions)"
                )
    old, new = best[f"old ({args.base})"], best["new"]
    print(f"best: old {old:.0f} ms, new {new:.0f} ms ({old / new:.1f}x)")
    print(f"evaluate: {new:.0f} ms")


if __name__ == "__main__":
    main()
