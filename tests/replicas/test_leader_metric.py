"""liqbot_leader follows leadership (issue 17, item 18): two replicas built by `app.build` on one
PostgreSQL, each scraped over its own HTTP port; when the leader stops, the standby takes over
and its gauge turns to 1."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path

from bot.config import Secrets, parse_config
from bot.runtime import app
from tests.offline import sources_off
from tests.test_metrics_http import scrape


def _config(name: str, url: str) -> object:
    return parse_config(
        {
            "storage": {"url": url},
            "replica": {"id": name, "poll": 0.5, "lease": 3},
            "sources": sources_off(),
            "console": {"enabled": "off"},
            "http": {"host": "127.0.0.1", "port": 0},
        }
    )


async def _until(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.05)


async def _leader_gauge(rt: app.Runtime) -> list[tuple[dict[str, str], float]]:
    return (await scrape(rt))["liqbot_leader"]


async def test_the_leader_gauge_follows_a_takeover(pg_url: str, tmp_path: Path) -> None:
    one = await app.build(_config("r-one", pg_url), Secrets(), stdout=io.StringIO())
    await app.start(one, jobs=False)
    two = None
    stopped = False
    try:
        assert one.leadership is not None
        await _until(one.leadership.acting)
        two = await app.build(_config("r-two", pg_url), Secrets(), stdout=io.StringIO())
        await app.start(two, jobs=False)
        assert two.leadership is not None
        assert await _leader_gauge(one) == [({"replica": "r-one"}, 1.0)]
        assert await _leader_gauge(two) == [({"replica": "r-two"}, 0.0)]  # the standby
        await app.stop(one)  # the lock goes with it
        stopped = True
        await _until(two.leadership.acting)
        assert await _leader_gauge(two) == [({"replica": "r-two"}, 1.0)]
    finally:
        if two is not None:
            await app.stop(two)
        if not stopped:
            await app.stop(one)
