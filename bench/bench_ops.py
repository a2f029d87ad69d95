"""The operator's side: what the metric hooks cost on the ingest path, what the outbox reading
behind /healthz costs with a backlog, and the /healthz and /metrics round trips.

    python bench/bench_ops.py [--backlog 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo's tests/ helpers

from bot.config import Secrets, parse_config
from bot.domain.message import Message
from bot.domain.models import Liquidation, Side
from bot.ops.metrics import Metrics
from bot.runtime import app
from bot.store import OutboxItem
from tests.offline import sources_off


def hook_cost() -> None:
    m = Metrics()
    frame = [Liquidation("binance", "BTC", Side.LONG, 1.0, 0)]

    def noop(events: list[Liquidation]) -> None:
        pass

    n = 300_000
    base = min(timeit.repeat(lambda: noop(frame), number=n, repeat=5)) / n * 1e9
    hook = min(timeit.repeat(lambda: m.events(frame), number=n, repeat=5)) / n * 1e9
    print(f"metrics hook per frame (LiveMarket.events): {hook - base:.0f} ns above a no-op call")


async def service(backlog: int, d: str) -> None:
    config = parse_config(
        {
            "storage": {"path": str(Path(d) / "ops.sqlite3")},
            "sources": sources_off(),
            "console": {"enabled": "on"},
            "http": {"host": "127.0.0.1", "port": 0},
        }
    )
    rt = await app.build(config, Secrets(), stdout=io.StringIO())
    now = rt.clock.now_ms()
    await rt.db.enqueue(
        OutboxItem(f"console:{i % 5000}", Message("x"), f"k{i}", now) for i in range(backlog)
    )
    t0 = time.perf_counter()
    for _ in range(5):
        await rt.db.outbox_backlog(now, ("console",))
    per = (time.perf_counter() - t0) / 5 * 1000
    print(f"outbox reading over {backlog:,} pending rows in 5,000 chats: {per:.1f} ms")
    await app.start(rt)
    rt.scheduler.shutdown()  # no drain: the backlog stays for the round trips below
    assert rt.ops is not None and rt.ops.http is not None
    base = f"http://127.0.0.1:{rt.ops.http.port}"
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/healthz", "/metrics"):
                times = []
                for _ in range(50):
                    t = time.perf_counter()
                    async with http.get(base + path) as r:
                        await r.read()
                    times.append((time.perf_counter() - t) * 1000)
                print(
                    f"GET {path} with that backlog: p50 {statistics.median(times):.1f} ms, "
                    f"max {max(times):.1f} ms (50 requests)"
                )
    finally:
        await app.stop(rt)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backlog", type=int, default=50_000)
    args = ap.parse_args()
    hook_cost()
    with tempfile.TemporaryDirectory() as d:
        asyncio.run(service(args.backlog, d))


if __name__ == "__main__":
    main()
