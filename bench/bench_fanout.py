"""Benchmark: one market-wide rule in N chats; time until the last chat is served.

    python bench/bench_fanout.py --paid --chats 100000   # issue 18: this tree against the base
    python bench/bench_fanout.py [--chats 100000] [--mode paid|free|both] [--free-chats N]

`--paid` runs the paid case for this tree and for the code before issue 18 (`--before`,
default 6b0fe0d, its `bot` and `tests` exported with `git archive`), each in child processes
that alternate (`--repeat` each, the load average beside each), and prints last, exactly,
`paid rate: N/s`: the new code's best rate at the server.

Each chat subscribes to `all 1h 400m`; one crash crosses it everywhere. Engine -> outbox
(SQLite, temp dir) -> Delivery -> TelegramSender -> real python-telegram-bot client -> the fake
Bot API on 127.0.0.1, which enforces Telegram's limits (free: 30/s overall; paid broadcasts:
1,000/s overall; 1/s per chat) and answers 429 beyond them. Paid mode paces at 97% of 1,000/s
(what `telegram.paid_broadcast: true` builds), free mode at 97% of 30/s. The fake runs in a
process of its own (tests/fakes/telegram_process.py: Telegram's servers do not share the bot's
CPU); `--in-process` keeps it in the bot's process as before.

The free case at 100,000 chats is ~57 minutes of real time: `--free-chats` runs it on a subset
and the extrapolation to the full count is printed and marked as such.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

# a child measures the code under --root (this tree, or the exported base)
sys.path.insert(
    0,
    sys.argv[sys.argv.index("--root") + 1]
    if "--root" in sys.argv
    else str(Path(__file__).resolve().parent.parent),
)

from bot.chat.telegram_limits import FloodLimiter, TelegramLimits
from bot.domain.models import ALL, Liquidation, Side

try:
    from bot.runtime.delivery import Delivery
    from bot.runtime.engine import Engine
except ImportError:  # the layout before issue 20 (the --before base)
    from bot.delivery import Delivery  # type: ignore[no-redef]
    from bot.engine import Engine  # type: ignore[no-redef]
from tests.fakes.telegram_api import FakeLimits, FakeTelegram
from tests.telegram.harness import make_stack

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "6b0fe0d"  # main before issue 18
FREE_PER_S, PAID_PER_S = 30.0, 1000.0


def _remote_fake() -> Any:
    """This tree's fake Bot API in a process of its own (tests/fakes/telegram_process.py), for
    either code: loaded by path, as the child's `tests` may be the base's."""
    spec = importlib.util.spec_from_file_location(
        "telegram_process", ROOT / "tests" / "fakes" / "telegram_process.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module.RemoteTelegram(global_per_s=int(FREE_PER_S), paid_per_s=int(PAID_PER_S))


async def run(chats: int, paid: bool, in_process: bool = False) -> dict[str, float]:
    if in_process:  # the fake shares this process's CPU (as before issue 18)
        fake: Any = FakeTelegram(
            limits=FakeLimits(global_per_s=int(FREE_PER_S), paid_per_s=int(PAID_PER_S))
        )
    else:  # Telegram's servers do not run on the bot's CPU
        fake = _remote_fake()
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        stack = await make_stack(Path(tmp), fake)
        limits = TelegramLimits(
            global_per_s=FREE_PER_S * 0.97, paid_per_s=PAID_PER_S * 0.97 if paid else 0.0
        )
        stack.bot.sender.limiter = FloodLimiter(limits)
        try:
            return await _bench(stack, fake, chats, paid)
        finally:
            await stack.close()
            await fake.stop()


async def _load(stack, chats: int, now: int) -> None:  # type: ignore[no-untyped-def]
    # bulk set-up (one transaction): the store's per-command path would take minutes here
    async with stack.db._tx() as c:
        await c.executemany(
            "INSERT INTO chats (chat_key, kind, created_ms) VALUES (?, 'private', ?)",
            [(f"telegram:{i}", now) for i in range(1, chats + 1)],
        )
        await c.executemany(
            "INSERT INTO subscriptions (chat_key, coin, window_min, side, threshold, origin, "
            "created_ms) VALUES (?, ?, 60, 'total', 4e8, 'user', ?)",
            [(f"telegram:{i}", ALL, now) for i in range(1, chats + 1)],
        )
    stack.book.load(await stack.db.active_subscriptions(), {})


async def _bench(stack, fake: FakeTelegram, chats: int, paid: bool) -> dict[str, float]:  # type: ignore[no-untyped-def]
    now = stack.service.clock()
    await _load(stack, chats, now)
    stack.market.events(
        "binance", [Liquidation("binance", "BTC", Side.LONG, 5e8, now - 1000, "BTCUSDT")]
    )
    t_tick = time.perf_counter()
    queued = await Engine(stack.db, stack.book, stack.market, stack.clock).tick()
    tick_s = time.perf_counter() - t_tick
    gc.freeze()  # as bot.runtime.app.start does
    mode = "paid broadcasts" if paid else "free"
    print(f"[{mode}] {queued} alert messages queued for {chats} chats (tick {tick_s:.1f} s)")
    delivery = Delivery(stack.db, {"telegram": stack.bot.sender}, stack.service.clock)
    t0, cpu0 = time.perf_counter(), time.process_time()
    passes = 0
    while True:
        stats = await delivery.drain()
        passes += 1
        if stats.fetched == 0:
            if not await stack.db.due_outbox(stack.service.clock() + 3_600_000, 1):
                break
            await asyncio.sleep(0.2)  # a retry backing off (should not happen)
    wall = time.perf_counter() - t0
    cpu_ms = (time.process_time() - cpu0) * 1000  # this process: the bot (and an in-process fake)
    if hasattr(fake, "fetch_sent"):
        await fake.fetch_sent()
    times = sorted(s.at for s in fake.sent)
    per_chat = Counter(s.chat_id for s in fake.sent)
    lost = sum(1 for c in range(1, chats + 1) if per_chat[c] == 0)
    dup = sum(1 for n in per_chat.values() if n > 1)
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    print(
        f"[{mode}] last chat served after {wall:.1f} s; rate at the server {rate:.1f}/s; "
        f"lost {lost}, duplicated {dup}, 429s {fake.rejected_429}, paid sends {fake.paid_sent}, "
        f"{passes} drain passes; {cpu_ms / max(len(times), 1):.2f} ms of CPU per send"
    )
    return {
        "wall": wall,
        "rate": rate,
        "lost": lost,
        "dup": dup,
        "r429": fake.rejected_429,
        "cpu_per_send_ms": cpu_ms / max(len(times), 1),
    }


async def pacing_only(chats: int) -> float:
    """The sender's pacing alone (no HTTP): how fast FloodLimiter lets paid sends through."""
    limiter = FloodLimiter(TelegramLimits(paid_per_s=PAID_PER_S * 0.97))
    sem = asyncio.Semaphore(64)  # Delivery's concurrency

    async def one(chat: int) -> None:
        async with sem, limiter.slot(chat):
            pass

    t0 = time.perf_counter()
    await asyncio.gather(*(one(c) for c in range(1, chats + 1)))
    rate = chats / (time.perf_counter() - t0)
    print(f"[pacing only] {chats} paid slots through FloodLimiter: {rate:.0f}/s (target 970/s)")
    return rate


async def query_only(chats: int) -> None:
    """One drain pass's pick over a backlog of `chats` pending alerts (one per chat)."""
    from bot.domain.message import Message
    from bot.store import Database, OutboxItem

    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "q.db")
        msg = Message("alert", ("line",))
        await db.enqueue([OutboxItem(f"telegram:{i}", msg, f"k{i}", 1_000) for i in range(chats)])
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            await db.due_outbox(10**9, 500)
            times.append((time.perf_counter() - t0) * 1000)
        await db.close()
    print(
        f"[query] due_outbox(limit 500) over {chats} pending: {min(times):.1f} ms best, "
        f"{max(times):.1f} ms worst of 5"
    )


def compare(chats: int, before: str, repeat: int, in_process: bool) -> bool:
    """The paid case for this tree and for `before`, alternating child processes."""
    from old_code import cpu_ticks, export, steal_since  # bench/: the script's own folder

    ok = True
    rates: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as d:
        export(before, Path(d))
        roots = {"now": ROOT, f"before ({before})": Path(d)}
        for _ in range(repeat):
            for name, root in roots.items():
                load, ticks = os.getloadavg()[0], cpu_ticks()
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        "--chats",
                        str(chats),
                        "--root",
                        str(root),
                        *(["--in-process"] if in_process else []),
                    ],
                    cwd=root,
                    env=dict(os.environ, PYTHONPATH=str(root)),
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                r = json.loads(out.strip().splitlines()[-1])
                rates.setdefault(name, []).append(r["rate"])
                ok &= r["lost"] == 0 and r["dup"] == 0
                print(
                    f"  {name}: last of {chats:,} chats served after {r['wall']:.1f} s, rate at "
                    f"the server {r['rate']:.1f}/s, lost {r['lost']}, duplicated {r['dup']}, "
                    f"429s {r['r429']}, {r['cpu_per_send_ms']:.2f} ms of CPU per send; "
                    f"load average {load:.2f} before, "
                    f"{os.getloadavg()[0]:.2f} after; CPU stolen by the host "
                    f"{steal_since(ticks):.0f}%; code from {r['code']}",
                    flush=True,
                )
    for name, rs in rates.items():
        print(f"  {name}: best {max(rs):.1f}/s of {' / '.join(f'{x:.1f}' for x in rs)}")
    print(f"paid rate: {max(rates['now']):.0f}/s")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paid", action="store_true", help="this tree against --before, paid")
    ap.add_argument("--before", default=BEFORE)
    ap.add_argument("--repeat", type=int, default=1, help="children per code, alternating")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    ap.add_argument("--chats", type=int, default=100_000)
    ap.add_argument(
        "--in-process",
        action="store_true",
        help="the fake Bot API in this process (shares its CPU)",
    )
    ap.add_argument("--mode", choices=("paid", "free", "both", "pacing", "query"), default="both")
    ap.add_argument("--free-chats", type=int, default=3_000, help="free run on this many chats")
    args = ap.parse_args()
    if args.child:  # one paid run of the code under --root; its figures as JSON, last
        with contextlib.redirect_stdout(sys.stderr):
            r = asyncio.run(run(args.chats, paid=True, in_process=args.in_process))
        import bot

        print(json.dumps({**r, "code": str(Path(bot.__file__).parent)}))
        return
    if args.paid:
        ok = compare(args.chats, args.before, args.repeat, args.in_process)
        raise SystemExit(0 if ok else 1)
    ok = True
    if args.mode == "pacing":
        asyncio.run(pacing_only(min(args.chats, 20_000)))
    if args.mode == "query":
        asyncio.run(query_only(args.chats))
    if args.mode in ("paid", "both"):
        r = asyncio.run(run(args.chats, paid=True, in_process=args.in_process))
        ok &= r["lost"] == 0 and r["dup"] == 0
    if args.mode in ("free", "both"):
        n = min(args.free_chats, args.chats)
        r = asyncio.run(run(n, paid=False, in_process=args.in_process))
        ok &= r["lost"] == 0 and r["dup"] == 0
        if n < args.chats and r["rate"] > 0:
            print(
                f"[free] EXTRAPOLATED, not measured: {args.chats} chats at the measured "
                f"{r['rate']:.2f}/s would take {args.chats / r['rate'] / 60:.1f} min"
            )
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
