"""Replicas as an operator runs them: `python -m bot run` processes (tests/lifecycle/process.py)
on one real PostgreSQL database (tests/pg.py), with the fake Telegram and a fake Binance."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.fakes.exchanges import FakeConn, FakeVenue, binance_frame
from tests.fakes.telegram_api import FakeTelegram
from tests.lifecycle.conftest import TOKEN, binance, telegram  # noqa: F401 (fixtures)
from tests.lifecycle.process import ServiceProcess
from tests.offline import sources_off
from tests.pg import PgServer, pg_server  # noqa: F401 (the session's server fixture)

BURST_CHATS = list(range(7001, 7201))  # the operator's broadcast to 200 chats
MAX_IN_FLIGHT = 64  # Delivery's concurrent sends: at most these are sent but not yet marked


def replica_config(
    name: str, url: str, tg: FakeTelegram, venue: FakeVenue, chats: list[int]
) -> dict[str, Any]:
    return {
        "storage": {"url": url},
        "replica": {"id": name, "poll": 0.5, "lease": 3},
        "telegram": {
            "base_url": tg.base_url,
            "base_file_url": tg.base_file_url,
            "rate": {
                "global_per_second": 100,
                "per_chat_per_second": 1000,
                "per_group_per_minute": 1000,
            },
        },
        "discord": {"enabled": False},
        "sources": sources_off(binance={"url": venue.ws_url, "rest_url": venue.base}),
        "alerts": {"min_quiet": 0, "tick": 1, "debounce": 0},
        "broadcasts": [{"chat": str(c), "rule": "eth 5m 1m"} for c in chats],
        "logging": {"level": "INFO"},
        "http": {"host": "127.0.0.1", "port": 0},  # any free port: /healthz says who leads
    }


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:  # noqa: F811
    return pg_server.create_database()


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[Callable[..., ServiceProcess]]:
    """make(name, config, env) -> a ServiceProcess in its own directory; all closed at the end."""
    made: list[ServiceProcess] = []

    def make(
        name: str, config: dict[str, Any], env: dict[str, str] | None = None
    ) -> ServiceProcess:
        workdir = tmp_path / name
        workdir.mkdir()
        svc = ServiceProcess(workdir, config, {"TELEGRAM_BOT_TOKEN": TOKEN, **(env or {})})
        made.append(svc)
        return svc

    yield make
    for svc in made:
        await svc.close()


async def healthz(svc: ServiceProcess) -> dict[str, Any]:
    """GET /healthz of a replica (its port, from its log)."""
    line = await svc.wait_log(lambda ln: "http server listening on" in ln)
    port = int(line.split("listening on ", 1)[1].split(" ", 1)[0].rsplit(":", 1)[1])
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as resp,
    ):
        return dict(await resp.json())


def leads(line: str) -> bool:
    return "acting as leader" in line


async def wave(conns: list[FakeConn], symbol: str, usd_each: float, count: int, ts: int) -> None:
    """The same liquidations on every replica's stream, as the venue pushes them to all."""
    for conn in conns:
        for _ in range(count):
            await conn.send(binance_frame(symbol, "SELL", 1.0, usd_each, ts))


async def query(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def chat_id(key: str) -> int:
    return int(key.split(":", 1)[1])
