"""The crash tick: a fifth of 1,000,000 subscriptions move at once (213,583 transitions).

    python bench/bench_crash_tick.py                 # this tree against the code before issue 18
    python bench/bench_crash_tick.py --before COMMIT # compare with another commit
    python bench/bench_crash_tick.py --subs 200000   # smaller, while developing

The same book (seeded), history and crash snapshot go through each stage of `Engine.tick`:
evaluate, the per-chat alert lists, rendering one message per chat, the store commit (states and
outbox in one transaction, into a SQLite file holding every subscription) and applying the
moves to the book. Then one real `Engine.tick` (the code's own, on the same book, crash and
store) gives the whole tick: its wall time up to its commit and apply being done, and the next
allocations after it (they pay for the cyclic collections it leaves behind); its apply is the
apply stage. The "before" figures come from the code at `--before` (default: main before
issue 18, 6b0fe0d), exported with `git archive` and run by this same script in a
child process, on the same data. The machine is shared, so the two codes run in alternating child
processes (`--repeat` each, with the load average beside each) and each stage keeps its best
figure. The last two lines are issue 18's: the new code's best evaluate and best whole tick (the
lowest per-child `Engine.tick`). Figures go to stdout, nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = (
    "6b0fe0d"  # main before issue 18 (b501472: before issue 9, the object-per-transition engine)
)
STAGES = ("evaluate", "alert lists", "render", "commit", "apply")


def measure(n_subs: int, runs: int, split: bool = False) -> dict[str, object]:
    """Time each stage of one crash tick with whatever `bot` package is first on sys.path."""
    # the bot package under test first, so bench_rules (which puts this tree on the path) reuses it
    import bot.domain.aggregate
    import bot.domain.market
    import bot.domain.models
    import bot.domain.render
    import bot.domain.rules
    import bot.store

    try:  # bot/ laid out by role since issue 20
        from bot.runtime import engine
    except ImportError:  # before: bot/engine.py
        from bot import engine  # type: ignore[no-redef]

    sys.path.insert(1, str(ROOT / "bench"))
    import bench_rules as br

    from bot.domain.render import render_alerts
    from bot.domain.rules import RuleBook
    from bot.store import Database

    try:  # the alert text's per-tick context (issue 10)
        from bot.domain.render_alerts import AlertContext
    except ImportError:
        AlertContext = None
    try:  # render once: the engine's items keep shared messages as parts
        from bot.runtime.tick_items import TickItems as tick_items
    except ImportError:  # before: a whole message per chat
        tick_items = None  # type: ignore[assignment, misc]
    try:  # the engine renders, commits and applies with the cyclic GC paused (since issue 9)
        from bot.domain.moves import paused_gc
    except ImportError:  # before: it did not
        paused_gc = contextlib.nullcontext

    br.N_SUBS = n_subs
    rng = br.random.Random(42)
    subs = br.build_subscriptions(rng)
    book = RuleBook()
    book.load(subs, {})
    now = br.T0
    for scale in (1.0, 3.0, 1.2):  # the same history as bench_rules: a realistic mix of states
        now += 20 * br.MIN
        book.apply(book.evaluate(br.market(rng, scale, now), now))
    for scale, noise in ((1.2, 0.005), (1.5, 0.1), (6.0, 0.1)):
        now += 5_000
        crash = br.market(rng, scale, now, noise)
    gc.freeze()  # as the app does after start-up

    def alert_lists(transitions: object) -> dict[str, list[object]]:
        by_chat = getattr(transitions, "alerts_by_chat", None)
        if by_chat is not None:  # the compact form
            return by_chat()
        out: dict[str, list[object]] = {}
        for t in transitions:  # type: ignore[attr-defined]
            if t.alert is not None:
                out.setdefault(t.alert.sub.chat_key, []).append(t.alert)
        for alerts in out.values():
            alerts.sort(key=lambda a: a.sub.id)
        return out

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "crash.sqlite3"

        async def fill() -> None:
            db = await Database.open(path)
            await db.close()

        asyncio.run(fill())
        con = sqlite3.connect(path)
        chats = sorted({s.chat_key for s in subs})
        con.executemany(
            "INSERT INTO chats (chat_key, created_ms) VALUES (?, 0)", [(c,) for c in chats]
        )
        con.executemany(
            "INSERT INTO subscriptions (id, chat_key, coin, window_min, side, threshold, "
            "created_ms) VALUES (?, ?, ?, ?, ?, ?, 0)",
            [(s.id, s.chat_key, s.coin, s.window, s.side.value, s.threshold) for s in subs],
        )
        con.commit()
        con.close()

        times: dict[str, list[float]] = {k: [] for k in STAGES}
        count = alerts = messages = 0
        for run in range(runs + 1):
            t0 = time.perf_counter()
            transitions = book.evaluate(crash, now)
            t1 = time.perf_counter()
            if tick_items is not None:  # render once: the chats' lists without Alert objects
                with paused_gc():
                    made = tick_items(now, AlertContext(crash, book.policy))
                    made.add_series(transitions)
                # its chats' lists; since the columns (issue 18), none: grouped when rendered
                lists = getattr(made, "_chats", None)
            else:
                lists = alert_lists(transitions)
            t2 = time.perf_counter()
            with paused_gc():
                if tick_items is not None:  # as the engine does since render-once: the items
                    rendered = list(made.items())
                elif AlertContext is None:
                    rendered = {c: render_alerts(a) for c, a in lists.items()}  # type: ignore[arg-type]
                else:  # as the engine renders: one context per tick
                    ctx = AlertContext(crash, book.policy)
                    rendered = {c: render_alerts(a, ctx) for c, a in lists.items()}  # type: ignore[arg-type]
            t3 = time.perf_counter()
            if run == 0:
                continue  # warm-up: caches, first allocations
            count, messages = len(transitions), len(rendered)
            alerts = len(made) if lists is None else sum(len(a) for a in lists.values())
            # the engine's items; before render-once, its own keys (untimed: that code rendered
            # again for the commit's items)
            items = rendered if tick_items is not None else engine.group_alerts(transitions, now)

            async def commit(items: object = items, transitions: object = transitions) -> None:
                db = await Database.open(path)
                try:
                    t = time.perf_counter()
                    with paused_gc():
                        await db.commit_transitions(transitions, items)  # type: ignore[arg-type]
                    times["commit"].append(time.perf_counter() - t)
                    if split:
                        with paused_gc():  # as the engine commits
                            await commit_split(db, transitions, items)
                    # undo, so that the next run commits the same work
                    async with db._tx() as c:
                        await c.execute("DELETE FROM outbox")
                        await c.execute("DELETE FROM alert_states")
                finally:
                    await db.close()

            asyncio.run(commit())
            times["evaluate"].append(t1 - t0)
            times["alert lists"].append(t2 - t1)
            times["render"].append(t3 - t2)
        # as before a tick: none of the stages' objects alive
        transitions = made = lists = rendered = items = None  # type: ignore[assignment]
        # the whole tick as the service runs it: Engine.tick on the same book, crash and store
        # (it applies the moves; its apply is timed inside it, its store is the commit's file)
        tick_ms, apply_s = engine_tick(engine, book, path, crash, now)
        times["apply"].append(apply_s)
    return {
        "code": str(Path(bot.domain.rules.__file__).resolve().parents[2]),
        "tick_ms": tick_ms,
        "transitions": count,
        "alerts": alerts,
        "messages": messages,
        "ms": {k: statistics.median(v) * 1e3 for k, v in times.items() if v},
    }


def engine_tick(
    engine: object, book: object, path: Path, crash: object, now: int
) -> tuple[float, float]:
    """One `Engine.tick` (the code under test's) over this crash: (its ms, its apply's s)."""
    from bot.store import Database

    class Market:  # what the engine reads of the live market: this tick's snapshot
        def snapshot(self, now_ms: int) -> object:
            return crash

        def take_touched(self) -> None:
            return None

    class Clock:
        def now_ms(self) -> int:
            return now

    applied: list[float] = []
    apply = book.apply  # type: ignore[attr-defined]

    def timed_apply(transitions: object) -> None:
        t = time.perf_counter()
        apply(transitions)
        applied.append(time.perf_counter() - t)

    book.apply = timed_apply  # type: ignore[attr-defined]

    async def tick() -> float:
        db = await Database.open(path)
        try:
            eng = engine.Engine(db, book, Market(), Clock())  # type: ignore[attr-defined]
            t = time.perf_counter()
            sent = await eng.tick()
            # and the collections the tick leaves behind: the next allocations pay for them
            [[i] for i in range(10_000)]
            ms = (time.perf_counter() - t) * 1e3
            assert sent > 0, "the crash enqueued nothing"
            return ms
        finally:
            await db.close()

    ms = asyncio.run(tick())
    return ms, applied[0]


async def commit_split(db: object, transitions: object, items: object) -> None:
    """--split: the commit's two tables apart, and what sharing repeated lines would save.

    Undoes the full commit first, then commits the states alone and the outbox alone; prints
    to stderr (the child's stdout is its JSON)."""
    from collections import Counter

    try:  # render once: parts rows and their bodies
        from bot.store.outbox_parts import encode
    except ImportError:
        from bot.store.outbox import _message_json

        def encode(items: object, bodies: list[object], next_id: int) -> list[str]:
            return [_message_json(i.message) for i in items]  # type: ignore[attr-defined]

    async def undo() -> None:
        async with db._tx() as c:  # type: ignore[attr-defined]
            await c.execute("DELETE FROM outbox")
            await c.execute("DELETE FROM alert_states")

    await undo()
    t = time.perf_counter()
    rows = getattr(transitions, "state_rows", None)
    if rows is not None:  # the rows alone: Python's part of the states
        list(rows())
    making = time.perf_counter() - t
    t = time.perf_counter()
    await db.commit_transitions(transitions, [])  # type: ignore[attr-defined]
    states = time.perf_counter() - t
    t = time.perf_counter()
    bodies: list[tuple[int, int, str]] = []
    texts = encode(items, bodies, 1)  # type: ignore[arg-type]
    encoding = time.perf_counter() - t
    t = time.perf_counter()
    await db.commit_transitions([], items)  # type: ignore[attr-defined]
    outbox = time.perf_counter() - t
    total = sum(len(x.encode()) for x in texts)
    kept = sum(len(b[2].encode()) for b in bodies)
    whole = [i for i in items if hasattr(i.message, "lines")]  # type: ignore[attr-defined]
    seen: Counter[str] = Counter()
    for i in whole:
        seen.update(x for x in {*i.message.lines, i.message.footer} if len(x) >= 24)
    shared = {x for x, n in seen.items() if n > 1}
    saved = sum((n - 1) * len(x.encode()) for x, n in seen.items() if n > 1)
    print(
        f"  commit split: states {states * 1e3:.0f} ms (making the rows alone "
        f"{making * 1e3:.0f} ms), outbox {outbox * 1e3:.0f} ms "
        f"(of which encoding {encoding * 1e3:.0f} ms), {total / 1e6:.1f} MB of message JSON "
        f"in {len(texts):,} rows ({len(set(texts)):,} distinct, {len(whole):,} whole messages) "
        f"and {kept / 1e6:.2f} MB in {len(bodies):,} shared bodies; lines of 24+ characters in "
        f"2+ whole messages: {len(shared):,}, storing each once would save {saved / 1e6:.1f} MB",
        file=sys.stderr,
    )


def run_child(code_root: Path, n_subs: int, runs: int) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(code_root))
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--subs", str(n_subs), "--runs", str(runs)],
        env=env,
        cwd=code_root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subs", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--before", default=BEFORE)
    ap.add_argument("--repeat", type=int, default=3, help="children per code, alternating")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--only-now", action="store_true", help="skip the before figures")
    ap.add_argument(
        "--split", action="store_true", help="child only: time the commit's states and outbox apart"
    )
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.subs, args.runs, args.split)))
        return
    from old_code import cpu_ticks, export, steal_since  # bench/: the script's own folder

    # the machine is shared: alternate the two codes and keep each stage's best child
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as d:
        roots = {"now": ROOT}
        if not args.only_now:
            export(args.before, Path(d), ("bot",))
            roots[f"before ({args.before})"] = Path(d)
        wholes: dict[str, list[float]] = {n: [] for n in roots}
        evaluates: dict[str, list[float]] = {n: [] for n in roots}
        for _ in range(args.repeat):
            for name, root in roots.items():
                ticks = cpu_ticks()
                r = run_child(root, args.subs, args.runs)
                child: dict[str, float] = r["ms"]  # type: ignore[assignment]
                wholes[name].append(float(r["tick_ms"]))  # type: ignore[arg-type]
                evaluates[name].append(child["evaluate"])
                print(
                    f"  child {name}: evaluate {child['evaluate']:.0f} ms, whole tick "
                    f"{wholes[name][-1]:.0f} ms, load average {os.getloadavg()[0]:.2f}, "
                    f"CPU stolen by the host {steal_since(ticks):.0f}%",
                    flush=True,
                )
                best = results.setdefault(name, json.loads(json.dumps(r)))
                ms: dict[str, float] = best["ms"]  # type: ignore[assignment]
                for k, v in r["ms"].items():  # type: ignore[union-attr]
                    ms[k] = min(ms[k], v)
    first = results["now"]
    print(
        f"crash tick, {args.subs:,} subscriptions: {first['transitions']:,} transitions, "
        f"{first['alerts']:,} alerts in {first['messages']:,} chat messages "
        f"(ms per stage: the best of {args.repeat} alternating processes per code, each the "
        f"median of {args.runs} runs)"
    )
    names = list(results)
    print(f"  {'stage':<14}" + "".join(f"{n:>22}" for n in names))
    for stage in (*STAGES, "stages' sum", "Engine.tick"):
        row = []
        for n in names:
            ms: dict[str, float] = results[n]["ms"]  # type: ignore[assignment]
            if stage == "stages' sum":
                row.append(sum(ms.values()))
            elif stage == "Engine.tick":
                row.append(min(wholes[n]))
            else:
                row.append(ms.get(stage, float("nan")))
        print(f"  {stage:<14}" + "".join(f"{v:>22.1f}" for v in row))
    for n in names:
        r = results[n]
        if r["transitions"] != first["transitions"] or r["messages"] != first["messages"]:
            print(f"  NOTE: {n} saw {r['transitions']} transitions / {r['messages']} messages")
        print(f"  {n}: code from {r['code']}")
    for n in names:
        print(
            f"  {n}: whole tick per child {' / '.join(f'{v:.0f}' for v in wholes[n])} ms, "
            f"evaluate per child {' / '.join(f'{v:.0f}' for v in evaluates[n])} ms"
        )
    print(f"evaluate: {min(evaluates['now']):.0f} ms")
    print(f"whole tick: {min(wholes['now']):.0f} ms")


if __name__ == "__main__":
    main()
