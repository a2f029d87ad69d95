"""Memory and start-up: 100,000 subscriptions and 7 days of minute buckets for 300 coins.

    python bench/bench_startup.py [--subs 100000] [--coins 300] [--days 7] [--repeat 2]
    python bench/bench_startup.py --only-now          # this tree alone

Issue 18 item 4: this tree and the code before issue 18 (`--before`, default 6b0fe0d, its `bot`
and `tests` exported with `git archive`) each fill a store of their own schema once; then, per
repeat and alternating between the codes, a copy of it is started twice: a first start (no
snapshot: the buckets come from SQLite; the clean stop writes `<file>.hot`) and a restart (this
tree reads the snapshot; the old code has none and reads SQLite again). The last line is,
exactly, `ready: N s`: this tree's best restart, launch to ready.

The SQLite file gets 100,000 subscriptions (20,000 chats) and, for 300 coins on 3 venues, a
bucket for every minute of 7 days (9,072,000 rows: every coin liquidating on every venue in every
minute, the worst case). Then a fresh process builds the service through `bot.runtime.app.build` (the
composition `liqbot run` uses) with the Binance source and the Telegram client pointed at the
fakes from tests/fakes, starts it and waits until it is ready: the Telegram bot is polling, the
Binance stream is up and the first evaluation of every subscription has run. It prints the time
from launching the process to ready (interpreter and imports included), the part spent in
build and start, and the resident memory (VmRSS) when ready.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# a child measures the code it is given (this tree, or the exported base)
sys.path.insert(0, os.environ.get("LIQBOT_BENCH_CODE", str(ROOT)))
BEFORE = "6b0fe0d"  # main before issue 18

TOKEN = "123456:TEST-token"
VENUES = ("binance", "bybit", "okx")
MIN = 60_000


def fill(path: Path, n_subs: int, n_coins: int, days: int) -> int:
    from bot.domain.market import WINDOWS
    from bot.store import Database

    async def schema() -> None:
        db = await Database.open(path)
        await db.close()

    asyncio.run(schema())
    rng = random.Random(3)
    coins = [f"C{i:03d}" for i in range(n_coins - 1)] + ["BTC"]
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO chats (chat_key, created_ms) VALUES (?, 0)",
        [(f"telegram:{i}",) for i in range(1, 20_001)],
    )
    con.executemany(
        "INSERT INTO subscriptions (chat_key, coin, window_min, side, threshold, created_ms) "
        "VALUES (?, ?, ?, ?, ?, 0)",
        [
            (f"telegram:{1 + i % 20_000}", rng.choice([*coins, "ALL"]), rng.choice(WINDOWS),
             rng.choice(["long", "short", "total"]), round(math.exp(rng.uniform(11.5, 21)), -3))
            for i in range(n_subs)
        ],
    )  # fmt: skip
    # the newest bucket two minutes old: the service stopped a little before this start
    now_min = int(time.time() * 1000) // MIN - 2
    first = now_min - days * 1440 + 1

    def rows():  # whole dollars, as the store writes them
        for m in range(first, now_min + 1):
            for c in coins:
                for v in VENUES:
                    yield (m * MIN, c, v, rng.randrange(0, 50_000), rng.randrange(0, 50_000))

    con.executemany(
        "INSERT INTO buckets (minute_ms, coin, venue, longs, shorts) VALUES (?, ?, ?, ?, ?)",
        rows(),
    )
    con.commit()
    n = con.execute("SELECT COUNT(*) FROM buckets").fetchone()[0]
    con.close()
    return n


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def child(path: Path) -> dict[str, float]:
    t_imports = time.perf_counter()
    from bot.config import Secrets, parse_config

    try:
        from bot.runtime import app
    except ImportError:  # the layout before issue 20 (the --before base)
        from bot import app  # type: ignore[no-redef]
    from tests.fakes.exchanges import FakeConn, FakeVenue
    from tests.fakes.telegram_api import FakeTelegram
    from tests.offline import sources_off

    async def quiet(conn: FakeConn) -> None:
        await conn.closed()

    venue = FakeVenue()
    venue.scripts = [quiet]
    await venue.start()
    tg = FakeTelegram(TOKEN)
    await tg.start()
    t_imported = time.perf_counter()
    config = parse_config(
        {
            "storage": {"path": str(path)},
            "telegram": {"base_url": tg.base_url, "base_file_url": tg.base_file_url},
            "sources": sources_off(
                binance={"url": venue.ws_url, "rest_url": venue.base}  # no internet
            ),
        }
    )
    t0 = time.perf_counter()
    rt = await app.build(config, Secrets(telegram_token=TOKEN))
    t_built = time.perf_counter()
    await app.start(rt)
    try:
        await tg.wait_parked(timeout=60)  # the bot is in its long poll
        deadline = time.perf_counter() + 60
        while not rt.market.health.is_up("binance") or rt.engine.ticks < 1:
            if time.perf_counter() > deadline:
                raise TimeoutError("not ready within 60 s")
            await asyncio.sleep(0.01)
        t_ready = time.perf_counter()
        ready_wall = time.time()
        rss = rss_mib()
        n_subs = len(rt.book)
        hot = sum(len(s.chunks) for s in rt.market.agg._series.values()) * 15
    finally:
        await app.stop(rt)
        await tg.stop()
        await venue.stop()
    return {
        "ready_wall": ready_wall,
        "imports_s": t_imported - t_imports,
        "build_s": t_built - t0,
        "start_to_ready_s": t_ready - t_built,
        "rss_mib": rss,
        "subs": n_subs,
        "hot_minutes": hot,
        "code": str(Path(app.__file__).parent),
    }


def _child(code: Path, *args: str) -> str:
    return subprocess.run(
        [sys.executable, __file__, *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=code,
        env=dict(os.environ, PYTHONPATH=str(code), LIQBOT_BENCH_CODE=str(code)),
    ).stdout


def start_once(code: Path, path: Path) -> dict[str, float]:
    launched = time.time()
    out = _child(code, "--child", str(path))
    r = json.loads(out.strip().splitlines()[-1])
    r["wall"] = r["ready_wall"] - launched
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subs", type=int, default=100_000)
    ap.add_argument("--coins", type=int, default=300)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=2, help="rounds per code, alternating")
    ap.add_argument("--before", default=BEFORE)
    ap.add_argument("--only-now", action="store_true", help="skip the before code")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--fill", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(Path(args.child)))))
        return
    if args.fill:
        t = time.perf_counter()
        n = fill(Path(args.fill), args.subs, args.coins, args.days)
        print(json.dumps({"buckets": n, "s": time.perf_counter() - t}))
        return
    from old_code import export  # bench/: the script's own folder

    with tempfile.TemporaryDirectory() as d:
        codes = {"now": ROOT}
        if not args.only_now:
            export(args.before, Path(d) / "before")
            codes[f"before ({args.before})"] = Path(d) / "before"
        pristine: dict[str, Path] = {}
        for name, code in codes.items():  # each code's own schema, the same rows
            path = Path(d) / f"{len(pristine)}.sqlite3"
            out = _child(code, "--fill", str(path), "--subs", str(args.subs), "--coins",
                         str(args.coins), "--days", str(args.days))  # fmt: skip
            f = json.loads(out.strip().splitlines()[-1])
            print(f"{name}: filled {args.subs:,} subscriptions and {f['buckets']:,} buckets "
                  f"({path.stat().st_size / 2**20:.0f} MiB) in {f['s']:.0f} s", flush=True)  # fmt: skip
            pristine[name] = path
        runs: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {n: [] for n in codes}
        for _ in range(args.repeat):
            for name, code in codes.items():
                path = Path(d) / "run.sqlite3"
                for old in Path(d).glob("run.sqlite3*"):
                    old.unlink()
                shutil.copyfile(pristine[name], path)
                load = os.getloadavg()[0]
                first = start_once(code, path)
                again = start_once(code, path)
                snap = Path(f"{path}.hot")
                runs[name].append((first, again))
                assert str(code) in again["code"], f"{name} ran {again['code']}"
                print(
                    f"  {name}: first start {first['wall']:.2f} s, restart {again['wall']:.2f} s "
                    f"(snapshot {snap.stat().st_size / 1e6:.1f} MB)"
                    if snap.exists()
                    else f"  {name}: first start {first['wall']:.2f} s, restart "
                    f"{again['wall']:.2f} s (no snapshot)",
                    f"; load average {load:.2f} before, {os.getloadavg()[0]:.2f} after",
                    sep="",
                    flush=True,
                )
    for name, rounds in runs.items():
        best = min(rounds, key=lambda fa: fa[1]["wall"])[1]
        print(f"{name}, {int(best['subs']):,} subscriptions, {args.coins} coins x 3 venues "
              f"(the best restart of {len(rounds)}):")  # fmt: skip
        print(f"  launch -> ready            {best['wall']:6.2f} s (wall clock, interpreter start included)")  # fmt: skip
        print(f"  of which imports + fakes   {best['imports_s']:6.2f} s")
        print(f"  app.build                  {best['build_s']:6.2f} s")
        print(f"  app.start -> ready         {best['start_to_ready_s']:6.2f} s")
        print(f"  resident memory when ready {best['rss_mib']:6.0f} MiB (VmRSS)")
        firsts = " / ".join(f"{f['wall']:.2f}" for f, _ in rounds)
        agains = " / ".join(f"{a['wall']:.2f}" for _, a in rounds)
        print(f"  first starts (no snapshot) {firsts} s")
        print(f"  restarts                   {agains} s")
    print(f"ready: {min(a['wall'] for _, a in runs['now']):.2f} s")


if __name__ == "__main__":
    main()
