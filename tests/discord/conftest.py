"""A real discord.py client against the fake Discord on 127.0.0.1, and a real Database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import discord
import pytest
import yarl

from bot.chat.discord_bot import DiscordBot
from bot.config import Config, Secrets, parse_config
from bot.runtime import app
from bot.runtime.clock import Clock
from bot.runtime.market_view import LiveMarket
from bot.store import Database
from tests.fakes.discord_api import FakeDiscord
from tests.offline import sources_off


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    # process-wide class attributes: monkeypatch restores them after the test
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url)
    )
    yield server
    await server.stop()


# ---- the whole service, composed by app.build: real Database, CommandService, LiveMarket ---

NOW_MS = 1_790_000_000_000  # a fixed moment: rules and renders see no wall-clock time
# discord.py waits for more guilds after READY; the fake sends them all at once
FAKE_GATEWAY_WAITS = {"guild_ready_timeout": 0.1, "ready_timeout": 10, "reidentify_delay": 0.0}


class FixedClock(Clock):
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


@dataclass
class Env:
    fake: FakeDiscord
    rt: app.Runtime
    clock: FixedClock

    @property
    def db(self) -> Database:
        return self.rt.db

    @property
    def market(self) -> LiveMarket:
        return self.rt.market

    @property
    def bot(self) -> DiscordBot:
        (bot,) = self.rt.bots
        return bot


def discord_config(tmp_path: Path) -> Config:
    return parse_config(
        {
            "storage": {"path": str(tmp_path / "dc.sqlite3")},
            "sources": sources_off(),
        }
    )


@pytest.fixture
async def env(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[Env]:
    clock = FixedClock(NOW_MS)
    rt = await app.build(
        discord_config(tmp_path),
        Secrets(discord_token="test-token"),
        clock=clock,
        discord_options=FAKE_GATEWAY_WAITS,
    )
    rt.market.up("binance", NOW_MS - 3_600_000)
    await app.start(rt, jobs=False)  # the tests drive delivery themselves
    for bot in rt.bots:
        await bot.wait_synced()  # in the background since start-up never waits for it
    yield Env(fake, rt, clock)
    await app.stop(rt)
