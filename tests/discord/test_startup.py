"""Discord start-up that cannot be knocked over: the real discord.py client against the fake.

The command set is synced only when it changed (its hash is kept in the store), a failed sync
is a warning retried later, and a rejected token (401) on send pauses no chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest

from bot.chat.discord_bot import SYNCED_KEY, DiscordBot
from bot.chat.service import CommandService, ServiceSettings
from bot.config import Secrets, parse_config
from bot.domain.aggregate import Aggregator
from bot.domain.health import SourceHealth
from bot.domain.message import Message
from bot.domain.models import Liquidation, Side
from bot.domain.rules import Policy, RuleBook
from bot.runtime import app
from bot.runtime.delivery import Delivery, Outcome
from bot.runtime.market_view import LiveMarket
from bot.store import Database, OutboxItem
from tests.discord.conftest import NOW_MS, FixedClock
from tests.fakes.discord_api import APP_ID, CHANNEL_ID, Failure, FakeDiscord
from tests.offline import sources_off

RATE_LIMITED = Failure(
    429,
    {"message": "You are being rate limited.", "retry_after": 120.0, "global": False},
    # a real Discord 429 (Via), longer than discord.py waits by itself (30 s at least)
    {"Via": "1.1 google", "Retry-After": "120"},
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "liq.sqlite")
    yield database
    await database.close()


def make_bot(db: Database, sync_retry_s: float = 60.0) -> DiscordBot:
    clock = FixedClock(NOW_MS)
    market = LiveMarket(Aggregator(), SourceHealth(("binance",), NOW_MS), clock)
    service = CommandService(db, market, RuleBook(Policy()), ServiceSettings(), clock.now_ms)
    return DiscordBot(
        "test-token",
        service,
        db,
        market.known_coins,
        guild_ready_timeout=0.1,
        ready_timeout=10,
        reidentify_delay=0.0,
        sync_retry_s=sync_retry_s,
    )


async def test_a_rate_limited_sync_leaves_the_bot_up_and_syncs_later(
    fake: FakeDiscord, db: Database
) -> None:
    fake.sync_failures.extend([RATE_LIMITED, RATE_LIMITED])
    bot = make_bot(db, sync_retry_s=0.01)
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)  # Discord's 120 s each time, not waited out here

    bot._sleep = record
    await bot.start()  # does not raise
    try:
        # commands work while the menu is not synced yet
        cb = await fake.invoke(fake.interaction("help"))
        assert cb["type"] == 4
        async with asyncio.timeout(5):
            await bot.wait_synced()
        assert fake.sync_puts == 3  # two refused, then the retry went through
        assert waits == [120.0, 120.0]
        assert {c["name"] for c in fake.synced} >= {"subscribe", "liqs", "help"}
        stored = await db.get_setting(f"{SYNCED_KEY}:{APP_ID}")
        assert stored == bot.commands_digest()
    finally:
        await bot.stop()


async def test_a_sync_retry_waits_as_long_as_discords_retry_after(
    fake: FakeDiscord, db: Database
) -> None:
    """Discord said 120 s: the next PUT is not sooner, whatever our own backoff (0.01 s)."""
    fake.sync_failures.extend(
        [RATE_LIMITED, Failure(400, {"message": "Invalid Form Body", "code": 50035}, {})]
    )
    bot = make_bot(db, sync_retry_s=0.01)
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)  # the loop's waits, without waiting them out

    bot._sleep = record
    await bot.start()
    try:
        async with asyncio.timeout(5):
            await bot.wait_synced()
    finally:
        await bot.stop()
    assert fake.sync_puts == 3
    # after the 429: Discord's 120 s; after the 400: our doubled backoff, not 120 again
    assert waits == [120.0, 0.02]


async def test_an_unchanged_command_set_is_not_synced_again_on_restart(
    fake: FakeDiscord, db: Database
) -> None:
    first = make_bot(db)
    await first.start()
    await first.wait_synced()
    await first.stop()
    assert fake.sync_puts == 1
    again = make_bot(db)
    await again.start()
    await again.wait_synced()
    await again.stop()
    assert fake.sync_puts == 1  # same commands: no PUT
    changed = make_bot(db)

    @changed.tree.command(name="extra", description="a new command")
    async def extra(interaction: discord.Interaction) -> None: ...

    await changed.start()
    await changed.wait_synced()
    await changed.stop()
    assert fake.sync_puts == 2 and "extra" in {c["name"] for c in fake.synced}


async def test_the_whole_service_starts_and_alerts_despite_a_429_on_sync(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    fake.sync_failures.append(RATE_LIMITED)
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "dc.sqlite3")},
            "sources": sources_off(),
            "broadcasts": [{"chat": f"discord:{CHANNEL_ID}", "rule": "eth 4h 200m longs"}],
            "alerts": {"debounce": 0},
        }
    )
    rt = await app.build(config, Secrets(discord_token="test-token"))
    try:
        await app.start(rt)  # used to raise, and the process exited 1
        now = rt.clock.now_ms()
        rt.market.up("okx", now)
        rt.market.events("okx", [Liquidation("okx", "ETH", Side.LONG, 250e6, now)])
        [posted] = await fake.wait_messages(CHANNEL_ID, 1)
        assert "ETH" in posted.embeds[0]["title"]
        assert fake.sync_puts == 1 and fake.synced == []  # the retry waits its turn
    finally:
        await app.stop(rt)


async def test_a_rejected_token_pauses_no_chat_and_is_logged_once(
    fake: FakeDiscord, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    client = discord.Client(intents=discord.Intents(guilds=True))
    await client.login("test-token")
    from bot.chat.discord_sender import DiscordSender

    sender = DiscordSender(client)
    chats = [f"discord:channel:{CHANNEL_ID}", f"discord:channel:{CHANNEL_ID + 1}"]
    await db.enqueue([OutboxItem(k, Message("alert"), k, NOW_MS) for k in chats])
    fake.token = "revoked"  # the operator reset the token in the developer portal
    caplog.set_level(logging.INFO)
    try:
        clock = FixedClock(NOW_MS)
        delivery = Delivery(db, {"discord": sender}, clock.now_ms)
        stats = await delivery.drain()
        assert (stats.retried, stats.paused, stats.dead) == (2, 0, 0)
        assert await db.paused_chats() == set()
        out = await sender.send(chats[0], Message("again"))
        assert out.outcome is Outcome.RETRY and out.retry_after >= 60
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "401" in r.message]
        assert len(errors) == 1  # loud, once per outage, not once per message
        assert "test-token" not in caplog.text
        fake.token = "test-token"
        assert (await sender.send(chats[0], Message("back"))).outcome is Outcome.SENT
        assert not sender.token_rejected
    finally:
        await client.close()
