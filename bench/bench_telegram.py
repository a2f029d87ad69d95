"""Benchmark: N alerts to N chats through the real path, and command round-trip latency.

    python bench/bench_telegram.py [--count 5000] [--commands 200] [--no-group]

Alerts: RuleBook + Engine -> outbox (SQLite, temp dir) -> Delivery -> TelegramSender -> real
python-telegram-bot client -> the fake Bot API on 127.0.0.1, which enforces Telegram's
published limits (30/s overall, 1/s per chat) and answers 429 beyond them.
Commands: a private-chat /liqs every 250 ms WHILE the burst runs (replies share the 30/s with
the alerts and overtake queued ones); latency is from the fake handing the update out in a
getUpdates answer to the reply being recorded. The rate counts every message the server
accepted (alerts and replies) between the first and the last alert.
A busy group meanwhile: every 10 s three members send /liqs and one /chart all 24h, more
than the group's pacing (one message per 3 s) lets out, so its replies keep queueing; the
timed private chats are in neither the burst nor the group.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.domain.models import Liquidation, Side
from tests.fakes.telegram_api import FakeLimits, FakeTelegram
from tests.telegram.harness import make_stack, stack_config

LIMIT_PER_S = 30.0


FREEZE = True
GROUP = -100_555_000
BUSY_GROUP = True
GROUP_ASKED = [0]


async def run(count: int, commands: int) -> int:
    fake = FakeTelegram(limits=FakeLimits(global_per_s=int(LIMIT_PER_S)))
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        # The production pacing: Telegram's published limits, as config.example.yaml has them.
        config = stack_config(Path(tmp), fake, rate={"global_per_second": LIMIT_PER_S})
        stack = await make_stack(Path(tmp), fake, config=config)
        try:
            return await _bench(stack, fake, count, commands)
        finally:
            await stack.close()
            await fake.stop()


async def _bench(stack, fake: FakeTelegram, count: int, commands: int) -> int:  # type: ignore[no-untyped-def]
    now = stack.service.clock()
    chats = list(range(1, count + 1))
    for cid in chats:
        key = f"telegram:{cid}"
        await stack.db.ensure_chat(key, "private")
        stack.book.add(await stack.db.add_subscription(key, "BTC", 60, Side.TOTAL, 1e8, now))
    stack.market.events(
        "binance", [Liquidation("binance", "BTC", Side.LONG, 2e8, now - 1000, "BTCUSDT")]
    )
    queued = await stack.rt.engine.tick()
    print(f"queued {queued} alert messages for {count} chats")
    if FREEZE:
        gc.freeze()  # as bot.runtime.app.start does: the long-lived set-up leaves the GC's scans

    delivery = stack.rt.delivery
    cmd_task = asyncio.create_task(_commands(stack, fake, commands))
    group_task = asyncio.create_task(_busy_group(fake)) if BUSY_GROUP else None
    t0 = time.perf_counter()
    passes = 0
    while True:
        stats = await delivery.drain()
        passes += 1
        if stats.fetched == 0:
            pending = await stack.db.due_outbox(stack.service.clock() + 3_600_000, 1)
            if not pending:
                break
            await asyncio.sleep(0.2)  # a retry backing off (should not happen)
    wall = time.perf_counter() - t0
    alert_times = sorted(s.at for s in fake.sent if s.chat_id in set(chats))
    first, last = alert_times[0], alert_times[-1]
    in_span = sum(1 for s in fake.sent if first <= s.at <= last)
    span = last - first
    rate = (in_span - 1) / span if span > 0 else 0.0
    per_chat = Counter(s.chat_id for s in fake.sent)
    lost = sum(1 for c in chats if per_chat[c] == 0)
    dup = sum(1 for c in chats if per_chat[c] > 1)
    print(f"alerts: {len(alert_times)} delivered in {wall:.1f} s ({passes} drain passes)")
    print(
        f"rate at the server: {rate:.2f}/s = {100 * rate / LIMIT_PER_S:.1f}% of the "
        f"{LIMIT_PER_S:.0f}/s limit ({in_span} messages, alerts and replies, first to last alert)"
    )
    print(f"lost: {lost}  duplicated: {dup}  429s from the server: {fake.rejected_429}")

    lat = await cmd_task
    if group_task is not None:
        group_task.cancel()
        print(
            f"busy group: {GROUP_ASKED[0]} commands asked, {len(fake.texts(GROUP))} replies "
            "sent during the run (paced at one per 3 s; the rest still queued)"
        )
    if lat:
        q = statistics.quantiles(lat, n=100, method="inclusive")
        print(
            f"command round trip during the burst (/liqs, {len(lat)} samples): p50 {statistics.median(lat):.1f} ms"
            f"  p99 {q[98]:.1f} ms  max {max(lat):.1f} ms"
        )
    ok = rate >= 0.95 * LIMIT_PER_S and lost == 0 and dup == 0 and (not lat or q[98] < 50)
    print(
        "targets (>=95% of limit, none lost, no duplicates, p99 < 50 ms):",
        "MET" if ok else "MISSED",
    )
    return 0 if ok else 1


async def _commands(stack, fake: FakeTelegram, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    lat = []
    base = 10_000_000
    for i in range(n):
        cid = base + i
        uid = fake.message(cid, "/liqs")
        await fake.wait_sent(1, cid)
        reply = next(s for s in fake.sent if s.chat_id == cid)
        lat.append((reply.at - fake.served_at[uid]) * 1000)
        await asyncio.sleep(0.25)
    return lat


async def _busy_group(fake: FakeTelegram) -> None:
    kw = {"chat_type": "supergroup"}
    while True:
        for user in (3001, 3002, 3003):
            fake.message(GROUP, "/liqs", user_id=user, **kw)
        fake.message(GROUP, "/chart all 24h", user_id=3004, **kw)
        GROUP_ASKED[0] += 4
        await asyncio.sleep(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=5000, help="chats (one alert each)")
    ap.add_argument("--commands", type=int, default=200, help="command round trips to time")
    # (200 commands at 4/s take 50 s: they all land inside a 5,000-alert burst)
    ap.add_argument("--no-freeze", action="store_true", help="leave gc.freeze() out (baseline)")
    ap.add_argument("--no-group", action="store_true", help="no busy group during the burst")
    args = ap.parse_args()
    global FREEZE, BUSY_GROUP
    FREEZE = not args.no_freeze
    BUSY_GROUP = not args.no_group
    raise SystemExit(asyncio.run(run(args.count, args.commands)))


if __name__ == "__main__":
    main()
