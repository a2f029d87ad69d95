"""End to end: a liquidation frame at a fake Binance websocket -> `sendMessage` at a fake Telegram.

The service is built by `bot.runtime.app.build` (the composition `liqbot run` uses) with a Config that
points the Binance source and the Telegram client at the fakes from tests/fakes (real sockets on
127.0.0.1, the real websocket client and python-telegram-bot). The SQLite file holds 1,000,000
subscriptions before start: 999,950 in 50,000 background chats across BTC, ETH, SOL and the whole
market (every side and window, thresholds far above what the rounds reach, so they are indexed
and evaluated but stay quiet) and one per round, in its own chat, on BTC 1h shorts at 10M x
(round + 1). Each round sends one frame of $10M BTC shorts, which crosses exactly that round's
threshold (escalation factor 100, so earlier rounds stay quiet); the time is from just before the
frame is written to the fake Telegram recording the sendMessage. The regular 10 s tick keeps
running over all 1,000,000 meanwhile.

    python bench/bench_latency.py [--rounds 50] [--subs 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Secrets, parse_config
from bot.domain.market import WINDOWS
from bot.runtime import app
from bot.store import Database
from tests.fakes.exchanges import FakeConn, FakeVenue, binance_frame
from tests.fakes.telegram_api import FakeTelegram
from tests.offline import sources_off

TOKEN = "123456:TEST-token"
STEP = 10e6  # USD per round
FIRST_CHAT = 900_000  # round i alerts chat 900000 + i


async def fill(path: Path, n_subs: int, rounds: int) -> None:
    """The schema through the store, then the rows in bulk (a million inserts one by one: minutes)."""
    db = await Database.open(path)
    await db.close()
    rng = random.Random(7)
    background = n_subs - rounds
    coins = ["BTC", "ETH", "SOL", "ALL"]
    sides = ["long", "short", "total"]
    lo, hi = math.log(1e11), math.log(1e13)  # far above the rounds' $500M at most
    rows = [
        (f"telegram:{1 + i % 50_000}", rng.choice(coins), rng.choice(WINDOWS), rng.choice(sides),
         round(math.exp(rng.uniform(lo, hi)), -3))
        for i in range(background)
    ]  # fmt: skip
    rows += [
        (f"telegram:{FIRST_CHAT + i}", "BTC", 60, "short", STEP * (i + 1)) for i in range(rounds)
    ]
    con = sqlite3.connect(path)
    chats = sorted({r[0] for r in rows})
    con.executemany("INSERT INTO chats (chat_key, created_ms) VALUES (?, 0)", [(c,) for c in chats])
    con.executemany(
        "INSERT INTO subscriptions (chat_key, coin, window_min, side, threshold, created_ms) "
        "VALUES (?, ?, ?, ?, ?, 0)",
        rows,
    )
    con.commit()
    con.close()


async def main(rounds: int, n_subs: int) -> None:
    frames: asyncio.Queue[tuple[dict, list[float]]] = asyncio.Queue()

    async def script(conn: FakeConn) -> None:  # the venue sends what the bench queues
        while True:
            frame, stamp = await frames.get()
            stamp.append(time.perf_counter())
            await conn.send(frame)

    venue = FakeVenue()
    venue.scripts = [script]
    await venue.start()
    tg = FakeTelegram(TOKEN)
    await tg.start()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "latency.sqlite3"
        t = time.perf_counter()
        await fill(path, n_subs, rounds)
        print(f"filled {n_subs:,} subscriptions in {time.perf_counter() - t:.1f} s")
        config = parse_config(
            {
                "storage": {"path": str(path)},
                "telegram": {"base_url": tg.base_url, "base_file_url": tg.base_file_url},
                "sources": sources_off(
                    binance={"url": venue.ws_url, "rest_url": venue.base}  # no internet
                ),
                "alerts": {"escalation_factor": 100},
            }
        )
        t = time.perf_counter()
        rt = await app.build(config, Secrets(telegram_token=TOKEN))
        print(f"built with {len(rt.book):,} subscriptions in {time.perf_counter() - t:.1f} s")
        await app.start(rt)
        try:
            await venue.connection(0)
            while not rt.market.health.is_up("binance"):
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # the first tick and drain are over
            lat: list[float] = []
            with_tick: list[float] = []
            for i in range(rounds):
                chat = FIRST_CHAT + i
                stamp: list[float] = []
                full_before = rt.engine.ticks - rt.engine.data_runs
                frame = binance_frame(
                    "BTCUSDT", "BUY", STEP / 100_000, 100_000.0, rt.clock.now_ms()
                )
                await frames.put((frame, stamp))
                await tg.wait_sent(1, chat, timeout=30)
                sent = next(s for s in tg.sent if s.chat_id == chat)
                assert "BTC shorts liquidated in 1h" in sent.text, sent.text
                lat.append((sent.at - stamp[0]) * 1000)
                if rt.engine.ticks - rt.engine.data_runs != full_before:
                    with_tick.append(lat[-1])  # a regular tick (all series) ran meanwhile
                await asyncio.sleep(0.05)
            others = [s for s in tg.sent if not FIRST_CHAT <= int(s.chat_id) < FIRST_CHAT + rounds]
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        finally:
            await app.stop(rt)
            await tg.stop()
            await venue.stop()
    slowest = sorted(range(len(lat)), key=lat.__getitem__)[-3:]
    lat.sort()
    p99 = lat[min(len(lat) - 1, math.ceil(0.99 * len(lat)) - 1)]
    print(
        f"frame at the fake Binance websocket -> sendMessage at the fake Telegram, "
        f"{len(rt.book):,} subscriptions loaded, {rounds} rounds:"
    )
    print(
        f"  p50 {statistics.median(lat):.1f} ms, p99 {p99:.1f} ms, "
        f"min {lat[0]:.1f} ms, max {lat[-1]:.1f} ms"
    )
    print(f"  slowest rounds: {', '.join(f'#{i}' for i in reversed(slowest))}; rounds that "
          f"overlapped a regular tick: {', '.join(f'{v:.1f}' for v in with_tick)} ms")  # fmt: skip
    print(f"  other messages sent: {len(others)} (must be 0); peak RSS {rss:.0f} MiB")
    print(f"  evaluations: {rt.engine.ticks} ({rt.engine.data_runs} triggered by data)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--subs", type=int, default=1_000_000)
    args = ap.parse_args()
    asyncio.run(main(args.rounds, args.subs))
