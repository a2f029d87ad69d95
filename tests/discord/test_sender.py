"""DiscordSender against the fake's REST API: what each Discord answer becomes for delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest

from bot.chat.discord_sender import DiscordSender
from bot.domain.message import Field, Message, Tone
from bot.runtime.delivery import Outcome
from tests.fakes.discord_api import CHANNEL_ID, FakeDiscord

ALERT = Message(
    "BTC longs: $120.00M in 1h",
    ("@everyone <@123456789012345678> look",),
    fields=(Field("Longs", "$120.00M"), Field("Shorts", "$3.00M")),
    footer="14:05 UTC · binance, bybit",
    tone=Tone.LONG,
)


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    c = discord.Client(intents=discord.Intents(guilds=True), max_ratelimit_timeout=5.0)
    await c.login("test-token")  # REST only: sending needs no gateway
    yield c
    await c.close()


async def test_channel_message_is_an_embed_that_pings_nobody(
    fake: FakeDiscord, client: discord.Client
) -> None:
    out = await DiscordSender(client).send(f"discord:channel:{CHANNEL_ID}", ALERT)
    assert out.outcome is Outcome.SENT
    [posted] = fake.channel_messages[CHANNEL_ID]
    assert posted.payload["allowed_mentions"]["parse"] == []
    [embed] = posted.embeds
    assert embed["color"] == 0xE74C3C  # longs: red
    assert "@\u200beveryone" in embed["description"]
    assert [f["name"] for f in embed["fields"]] == ["Longs", "Shorts"]
    assert embed["footer"]["text"] == "14:05 UTC · binance, bybit"


async def test_broadcast_key_from_the_config_targets_the_channel(
    fake: FakeDiscord, client: discord.Client
) -> None:
    out = await DiscordSender(client).send(f"discord:{CHANNEL_ID}", ALERT)
    assert out.outcome is Outcome.SENT
    assert len(fake.channel_messages[CHANNEL_ID]) == 1


async def test_short_429_is_retried_by_the_client_itself(
    fake: FakeDiscord, client: discord.Client
) -> None:
    body = {"message": "You are being rate limited.", "retry_after": 0.05, "global": False}
    fake.fail_next(CHANNEL_ID, 429, body, Via="1.1 google")
    out = await DiscordSender(client).send(f"discord:channel:{CHANNEL_ID}", ALERT)
    assert out.outcome is Outcome.SENT
    posts = [r for r in fake.requests if r == ("POST", f"/channels/{CHANNEL_ID}/messages")]
    assert len(posts) == 2  # the 429, then the retry
    assert len(fake.channel_messages[CHANNEL_ID]) == 1


async def test_long_429_becomes_retry_after(fake: FakeDiscord, client: discord.Client) -> None:
    body = {"message": "You are being rate limited.", "retry_after": 42.5, "global": False}
    fake.fail_next(CHANNEL_ID, 429, body, Via="1.1 google")
    out = await DiscordSender(client).send(f"discord:channel:{CHANNEL_ID}", ALERT)
    assert out.outcome is Outcome.RETRY
    assert out.retry_after == pytest.approx(42.5)
    assert fake.channel_messages[CHANNEL_ID] == []


async def test_429_without_via_is_not_retried_but_reported(
    fake: FakeDiscord, client: discord.Client
) -> None:
    fake.fail_next(CHANNEL_ID, 429, {"message": "banned", "retry_after": 7}, **{"Retry-After": "7"})
    out = await DiscordSender(client).send(f"discord:channel:{CHANNEL_ID}", ALERT)
    assert out.outcome is Outcome.RETRY
    assert out.retry_after == pytest.approx(7)


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (403, 50001, "Missing Access"),
        (403, 50013, "Missing Permissions"),
        (404, 10003, "Unknown Channel"),
    ],
)
async def test_dead_channel_is_permanent(
    fake: FakeDiscord, client: discord.Client, status: int, code: int, words: str
) -> None:
    fake.fail_next(CHANNEL_ID, status, {"message": words, "code": code})
    out = await DiscordSender(client).send(f"discord:channel:{CHANNEL_ID}", ALERT)
    assert out.outcome is Outcome.PERMANENT
    assert words in out.reason and str(code) in out.reason


async def test_server_error_is_transient(fake: FakeDiscord, client: discord.Client) -> None:
    fake.fail_next(CHANNEL_ID, 503, {"message": "unavailable", "code": 0})
    out = await DiscordSender(client).send(f"discord:channel:{CHANNEL_ID}", ALERT)
    assert out.outcome is Outcome.RETRY


async def test_dm_is_opened_once_and_closed_dms_are_permanent(
    fake: FakeDiscord, client: discord.Client
) -> None:
    sender = DiscordSender(client)
    assert (await sender.send("discord:user:777", ALERT)).outcome is Outcome.SENT
    assert (await sender.send("discord:user:777", ALERT)).outcome is Outcome.SENT
    dm = fake.dm_channels[777]
    assert len(fake.channel_messages[dm]) == 2
    assert fake.requests.count(("POST", "/users/@me/channels")) == 1
    fake.fail_next(dm, 400, {"message": "Cannot send messages to this user", "code": 50007})
    out = await sender.send("discord:user:777", ALERT)
    assert out.outcome is Outcome.PERMANENT and "50007" in out.reason


async def test_network_failure_is_transient(fake: FakeDiscord, client: discord.Client) -> None:
    await fake.stop()  # nothing listens any more
    out = await DiscordSender(client).send(f"discord:channel:{CHANNEL_ID}", ALERT)
    assert out.outcome is Outcome.RETRY and "network" in out.reason


async def test_bad_chat_key_is_permanent(client: discord.Client) -> None:
    out = await DiscordSender(client).send("discord:guild:12", ALERT)
    assert out.outcome is Outcome.PERMANENT
