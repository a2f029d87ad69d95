"""The store on SQLite and on PostgreSQL, in one run: outbox throughput and start-up.

1. Outbox: enqueue N rows the way a tick does (states + rows in one transaction, in batches),
   and one row per transaction (command notices); then drain them as Delivery does
   (due_outbox batches, mark_sent for each row of a batch concurrently).
2. Start-up with M subscriptions (10% with a fired state): all_subscriptions() + load_states()
   + RuleBook.load, the composition root's start.

PostgreSQL is a throwaway local server (tests/pg.py) with its durable defaults (fsync on,
synchronous_commit on); it is also measured with synchronous_commit=off, the setting that
matches SQLite's WAL + synchronous=NORMAL (a crash may lose the last commits, never corrupts).
Pass --url to measure an existing PostgreSQL instead (its database must be empty or disposable).

    python bench/bench_store.py                            # 10,000 rows, 1,000,000 subscriptions
    python bench/bench_store.py --rows 2000 --subs 50000   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.pg: the throwaway server

from bot.domain.message import Message
from bot.domain.models import AlertState, Side, Status, Transition
from bot.domain.rules import RuleBook
from bot.ops.replicas import catch_up
from bot.store import Database, OutboxItem
from tests.pg import PgServer, find_bindir

T = 1_800_000_000_000
BATCH = 100  # rows per tick transaction, and per due_outbox call
COINS = ("BTC", "ETH", "SOL", "XRP", "DOGE", "ALL")
WINDOWS = (5, 15, 60, 240, 1440)
SIDES = (Side.LONG, Side.SHORT, Side.TOTAL)


def alert(i: int) -> Message:
    return Message(title=f"BTC longs liquidated #{i}", lines=("$120M in 1h on 3 venues",))


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    t0 = time.perf_counter()
    await fn()
    return time.perf_counter() - t0


async def outbox(location: str | Path, rows: int) -> dict[str, float]:
    db = await Database.open(location)
    try:
        chats = [f"telegram:{i}" for i in range(max(1, rows // 10))]  # 10 alerts per chat
        subs = [
            await db.add_subscription(chats[i % len(chats)], "BTC", 60, Side.LONG, 1e8, T)
            for i in range(min(rows, 1000))
        ]

        async def ticks() -> None:
            for start in range(0, rows, BATCH):
                n = range(start, min(rows, start + BATCH))
                moves = [
                    Transition(
                        subs[i % len(subs)].id,
                        AlertState(subs[i % len(subs)].id),
                        AlertState(subs[i % len(subs)].id, Status.FIRED, 1, i, T, T),
                    )
                    for i in n
                ]
                items = [OutboxItem(chats[i % len(chats)], alert(i), f"t{i}", T + i) for i in n]
                await db.commit_transitions(moves, items)

        singles = rows // 10

        async def one_per_tx() -> None:
            for i in range(singles):
                await db.enqueue([OutboxItem(chats[i % len(chats)], alert(i), f"n{i}", T + i)])

        async def drain() -> None:
            while batch := await db.due_outbox(T + 10 * rows, BATCH):
                await asyncio.gather(*(db.mark_sent(r.id, T + rows) for r in batch))

        tick_s = await timed(ticks)
        single_s = await timed(one_per_tx)
        drain_s = await timed(drain)
        return {
            "enqueue in ticks": rows / tick_s,
            "enqueue 1 per tx": singles / single_s,
            "drain": (rows + singles) / drain_s,
        }
    finally:
        await db.close()


async def fill(db: Database, n: int) -> None:
    """n subscriptions over n/5 chats, 10% of them fired: loaded in bulk, not timed."""
    subs = [
        (i + 1, f"telegram:{i // 5}", COINS[i % 6], WINDOWS[i % 5], SIDES[i % 3].value, 1e6 + i, T)
        for i in range(n)
    ]
    states = [(i + 1, "fired", 1, 1, T, T) for i in range(0, n, 10)]
    chats = [(f"telegram:{c}", "private", T) for c in range(n // 5 + 1)]
    cols_s = ("id", "chat_key", "coin", "window_min", "side", "threshold", "created_ms")
    cols_a = ("sub_id", "status", "level", "episode", "fired_ms", "last_alert_ms")
    async with db._tx() as c:
        if db.dialect == "postgresql":  # COPY: a million rows in seconds
            await c.raw.copy_records_to_table(
                "chats", records=chats, columns=("chat_key", "kind", "created_ms")
            )
            await c.raw.copy_records_to_table("subscriptions", records=subs, columns=cols_s)
            await c.raw.copy_records_to_table("alert_states", records=states, columns=cols_a)
        else:
            await c.executemany(
                "INSERT INTO chats (chat_key, kind, created_ms) VALUES (?, ?, ?)", chats
            )
            await c.executemany(
                f"INSERT INTO subscriptions ({', '.join(cols_s)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                subs,
            )
            await c.executemany(f"INSERT INTO alert_states ({', '.join(cols_a)}) VALUES (?, ?, ?, ?, ?, ?)", states)  # fmt: skip
    if db.dialect == "postgresql":
        await db._write("ANALYZE")


async def startup(location: str | Path, n: int, repeat: int) -> tuple[float, float, float]:
    """The best of `repeat` fresh starts (the machine is shared: the best is the least noisy)."""
    db = await Database.open(location)
    try:
        await fill(db, n)
    finally:
        await db.close()
    best = (float("inf"),) * 3
    for _ in range(repeat):
        db = await Database.open(location)  # a fresh start, as after a restart
        try:
            t0 = time.perf_counter()
            subs = await db.all_subscriptions()
            t1 = time.perf_counter()
            states = await db.load_states()
            t2 = time.perf_counter()
            book = RuleBook()
            book.load(subs, states)
            t3 = time.perf_counter()
            assert len(book) == n and len(states) == (n + 9) // 10
        finally:
            await db.close()
        del subs, states, book
        best = tuple(min(b, t) for b, t in zip(best, (t1 - t0, t2 - t1, t3 - t2), strict=True))
    return best  # type: ignore[return-value]


async def takeover(location: str | Path, n: int, repeat: int) -> tuple[float, int, int]:
    """A standby's book, loaded at its start, caught up at a takeover (bot.ops.replicas.catch_up)
    after the leader moved 5% of the states and other replicas added 1,000 subscriptions and
    removed 1,000. Uses the store `startup` filled. Best of `repeat`."""
    best, added, moved = float("inf"), 0, 0
    for r in range(repeat):
        db = await Database.open(location)
        try:
            book = RuleBook()
            book.load(await db.all_subscriptions(), await db.load_states())
            base = n + 1 + 1000 * r * 2  # fresh ids each round
            async with db._tx() as c:
                await c.execute("UPDATE alert_states SET level = level + 1 WHERE sub_id % 200 = 1")
                await c.executemany(
                    "INSERT INTO subscriptions (id, chat_key, coin, window_min, side, threshold, "
                    "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(base + i, "telegram:0", "BTC", 60, "long", 1e6, T) for i in range(1000)],
                )
                await c.execute(
                    "DELETE FROM subscriptions WHERE id > ? AND id <= ?",
                    (r * 1000, r * 1000 + 1000),
                )
            t0 = time.perf_counter()
            caught = await catch_up(db, book)
            took = time.perf_counter() - t0
            assert caught.added == 1000 and caught.removed == 1000
        finally:
            await db.close()
        if took < best:
            best, added, moved = took, caught.added, caught.states_moved
    return best, added, moved


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000, help="outbox rows (10,000; 0: skip)")
    p.add_argument("--subs", type=int, default=1_000_000, help="subscriptions (1,000,000; 0: skip)")
    p.add_argument("--repeat", type=int, default=3, help="start-ups timed, best kept (3)")
    p.add_argument("--url", help="an existing PostgreSQL database (default: a throwaway server)")
    args = p.parse_args()

    server = None
    if args.url:
        new_db = None
    else:
        bindir = find_bindir()
        if bindir is None:
            sys.exit("PostgreSQL binaries not found: install postgresql or pass --url")
        server = PgServer(bindir, settings=()).start()  # the durable defaults
        new_db = server.create_database
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))

    def pg(options: str = "") -> str:
        url = new_db() if new_db else args.url
        return url + options

    try:
        engines: list[tuple[str, Callable[[str], str | Path]]] = [
            ("SQLite (WAL, synchronous=NORMAL)", lambda k: tmp / f"{k}.sqlite3"),
            ("PostgreSQL (synchronous_commit=on)", lambda k: pg()),
            ("PostgreSQL (synchronous_commit=off)", lambda k: pg("?synchronous_commit=off")),
        ]
        if args.url:  # one database: each run would find the last one's rows
            engines = engines[:2]
        if args.rows:
            print(f"outbox, {args.rows:,} rows in transactions of {BATCH} + {args.rows // 10:,} "
                  "single-row transactions, then drained (rows/s):")  # fmt: skip
        for name, where in engines if args.rows else []:
            r = await outbox(where("outbox"), args.rows)
            print(f"  {name:38} " + "  ".join(f"{k} {v:8,.0f}" for k, v in r.items()))
        if args.subs:
            print(f"start-up with {args.subs:,} subscriptions ({args.subs // 10:,} fired states), "
                  f"best of {args.repeat}:")  # fmt: skip
        for name, where in engines[:2] if args.subs else []:
            loc = where("startup")  # one store for both: takeover reuses what startup filled
            subs_s, states_s, book_s = await startup(loc, args.subs, args.repeat)
            total = subs_s + states_s + book_s
            print(f"  {name:38} all_subscriptions {subs_s:5.2f} s  load_states {states_s:5.2f} s"
                  f"  RuleBook.load {book_s:5.2f} s  total {total:5.2f} s")  # fmt: skip
            took, added, moved = await takeover(loc, args.subs, args.repeat)
            print(f"  {'':38} takeover by catch_up {took:5.2f} s ({added:,} added, "
                  f"1,000 removed, {moved:,} states moved)")  # fmt: skip
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
