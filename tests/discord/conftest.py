"""A real discord.py client against the fake Discord on 127.0.0.1, and a real Database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import discord
import pytest
import yarl

from bot.chat.discord_bot import DiscordBot
from bot.chat.service import CommandService, ServiceSettings
from bot.clock import Clock
from bot.domain.aggregate import Aggregator
from bot.domain.health import SourceHealth
from bot.domain.rules import Policy, RuleBook
from bot.market_view import LiveMarket
from bot.store import Database
from tests.fakes.discord_api import FakeDiscord


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


# ---- the whole adapter: real Database, real CommandService, real LiveMarket ----------------

NOW_MS = 1_790_000_000_000  # a fixed moment: rules and renders see no wall-clock time


class FixedClock(Clock):
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


@dataclass
class Env:
    fake: FakeDiscord
    db: Database
    market: LiveMarket
    clock: FixedClock
    bot: DiscordBot


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "liq.sqlite")
    yield database
    await database.close()


@pytest.fixture
async def env(fake: FakeDiscord, db: Database) -> AsyncIterator[Env]:
    clock = FixedClock(NOW_MS)
    market = LiveMarket(Aggregator(), SourceHealth(("binance",), NOW_MS - 3_600_000), clock)
    market.up("binance", NOW_MS - 3_600_000)
    service = CommandService(db, market, RuleBook(Policy()), ServiceSettings(), clock.now_ms)
    bot = DiscordBot(
        "test-token",
        service,
        db,
        market.known_coins,
        guild_ready_timeout=0.1,
        ready_timeout=10,
        reidentify_delay=0.0,
    )
    await bot.start()
    await bot.wait_synced()
    yield Env(fake, db, market, clock, bot)
    await bot.stop()
