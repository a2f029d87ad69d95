"""The crash tick's Python pieces alone, in one process per tree: collecting the alerts
(`TickItems.add_series`), rendering and encoding every outbox row as the engine commits them, and
the states' groups with their JSON. Best of 5 with the collector paused, as inside the tick.

    python bench/bench_tick_pieces.py [TREE ...]   (default: this tree)

Each TREE is a checkout (for example `git archive a092f00 | tar x -C /tmp/old`); each runs in
its own child, one after another, and prints one line. A tree from before `TickItems.rows`
renders through `items()` and encodes those, as its engine did. Nothing is asserted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(root: str) -> None:
    import gc
    import json
    import time

    sys.path.insert(0, root + "/bench")
    sys.path.insert(0, root)
    import bench_rules as br

    from bot.domain.render_alerts import AlertContext
    from bot.domain.rules import RuleBook
    from bot.runtime.tick_items import TickItems
    from bot.store.outbox_parts import BodyIds
    from bot.store.tick_commit import state_groups

    br.N_SUBS = 1_000_000
    rng = br.random.Random(42)
    book = RuleBook()
    book.load(br.build_subscriptions(rng), {})
    now = br.T0
    for scale in (1.0, 3.0, 1.2):  # the crash bench's history and crash
        now += 20 * br.MIN
        book.apply(book.evaluate(br.market(rng, scale, now), now))
    for scale, noise in ((1.2, 0.005), (1.5, 0.1), (6.0, 0.1)):
        now += 5_000
        crash = br.market(rng, scale, now, noise)
    gc.freeze()
    moves = book.evaluate(crash, now)
    times: dict[str, list[float]] = {"collect": [], "render+encode": [], "states": []}
    for _ in range(5):
        for m in moves.series:  # new states made afresh each run
            if hasattr(m, "_new"):
                m._new = None
        gc.disable()
        t0 = time.perf_counter()
        groups = state_groups(moves)
        json.dumps([[*v, ids] for v, ids in groups.items()])
        t1 = time.perf_counter()
        made = TickItems(now, AlertContext(crash, book.policy))
        made.add_series(moves)
        t2 = time.perf_counter()
        ids, bodies = BodyIds(1), []  # type: ignore[var-annotated]
        if hasattr(made, "rows"):
            rows = [
                x if isinstance(x, tuple) else ids.encode_one(x, bodies)
                for x in made.rows(lambda b, ms: ids.name(b, ms, bodies))  # noqa: B023
            ]
        else:
            rows = ids.encode(list(made.items()), bodies)
        t3 = time.perf_counter()
        times["states"].append(t1 - t0)
        times["collect"].append(t2 - t1)
        times["render+encode"].append(t3 - t2)
        del made, rows, groups  # before the collector is back on, as in the tick
        gc.enable()
    best = ", ".join(f"{k} {min(v) * 1e3:.0f} ms" for k, v in times.items())
    print(f"{root}: {len(moves):,} moves, {len(list(moves.series)):,} series: {best}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        measure(sys.argv[2])
    else:
        for tree in sys.argv[1:] or [str(ROOT)]:
            subprocess.run([sys.executable, __file__, "--child", tree], check=True)
