"""The guided /subscribe on Discord through the real discord.py client: the slash command with
no options answers with buttons (components); each press is a component interaction answered
by editing that message (UPDATE_MESSAGE, or a deferred update and a PATCH of the original when
the service is slow); the last runs the typed line, its confirmation sent as a followup."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.chat.guide_buttons import NOTICE_INVALID
from bot.domain.models import Side
from tests.discord.conftest import Env
from tests.fakes.discord_api import ADMIN_PERMS, CHANNEL_ID, MEMBER_PERMS

CHAN = f"discord:channel:{CHANNEL_ID}"
PATH = ("BTC", "1h", "$10M", "Shorts")
UPDATE_MESSAGE, DEFERRED_UPDATE = 7, 6


def buttons(data: dict[str, Any]) -> dict[str, str]:
    return {
        b["label"]: b["custom_id"] for r in data.get("components") or [] for b in r["components"]
    }


def text(data: dict[str, Any]) -> str:
    embeds = data.get("embeds") or [{}]
    return f"{embeds[0].get('title', '')}\n{embeds[0].get('description', '')}"


async def open_guide(env: Env, **kw: Any) -> dict[str, Any]:
    cb = await env.fake.invoke(env.fake.interaction("subscribe", [], **kw))
    assert cb["type"] == 4
    return cb["data"]


async def test_guided_subscribe_in_a_channel(env: Env) -> None:
    fake = env.fake
    data = await open_guide(env, perms=ADMIN_PERMS)
    assert "New alert" in text(data) and "Which coin?" in text(data)
    assert list(buttons(data))[:3] == ["BTC", "ETH", "SOL"] and "All coins" in buttons(data)
    for label in PATH:
        assert all(len(t) <= 100 for t in buttons(data).values())
        cb = await fake.invoke(fake.button_press(buttons(data)[label], perms=ADMIN_PERMS))
        assert cb["type"] == UPDATE_MESSAGE, label
        data = cb["data"]
    assert "This will run: /subscribe btc 1h 10m shorts" in text(data)
    assert list(buttons(data)) == ["Subscribe", "« Back", "Cancel"]

    # a member without Manage Channels may not finish it (nor steer it)
    cb = await fake.invoke(fake.button_press(buttons(data)["Subscribe"], perms=MEMBER_PERMS))
    assert cb["type"] == 4 and cb["data"]["flags"] & 64 and "Manage Channels" in text(cb["data"])
    assert await env.db.list_subscriptions(CHAN) == []

    followups = len(fake.followups)
    cb = await fake.invoke(fake.button_press(buttons(data)["Subscribe"], perms=ADMIN_PERMS))
    assert cb["type"] == UPDATE_MESSAGE and buttons(cb["data"]) == {}
    assert "Ran: /subscribe btc 1h 10m shorts" in text(cb["data"])
    (confirmation, *_) = (await fake.wait_followups(followups + 1))[followups:]
    assert confirmation.embeds[0]["title"] == "Subscribed"
    (sub,) = await env.db.list_subscriptions(CHAN)
    assert (sub.coin, sub.window, sub.side, sub.threshold) == ("BTC", 60, Side.SHORT, 10e6)


async def test_a_member_cannot_open_it_and_a_forged_press_is_refused(env: Env) -> None:
    cb = await env.fake.invoke(env.fake.interaction("subscribe", [], perms=MEMBER_PERMS))
    assert cb["data"]["flags"] & 64 and "Manage Channels" in text(cb["data"])
    data = await open_guide(env, perms=ADMIN_PERMS)
    body, sig = buttons(data)["ETH"].rsplit(".", 1)
    cb = await env.fake.invoke(
        env.fake.button_press(f"{body.replace('ETH', 'SOL')}.{sig}", perms=ADMIN_PERMS)
    )
    assert cb["data"]["flags"] & 64 and text(cb["data"]).startswith(NOTICE_INVALID)


async def test_in_a_dm_and_when_the_service_is_slow(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = env.fake
    data = await open_guide(env, user_id=556, dm=True)
    real = env.bot.service.press_button

    async def slow(*args: Any) -> Any:
        await asyncio.sleep(0.1)
        return await real(*args)

    monkeypatch.setattr(env.bot.service, "press_button", slow)
    env.bot.defer_after = 0.01  # every press is acknowledged first, then the message edited
    for label in (*PATH, "Subscribe"):
        edited = len(fake.edited)
        cb = await fake.invoke(fake.button_press(buttons(data)[label], user_id=556, dm=True))
        assert cb["type"] == DEFERRED_UPDATE, label
        async with fake.message_event:
            await fake.message_event.wait_for(lambda n=edited: len(fake.edited) > n)
        data = fake.edited[-1].payload
    assert "Ran: /subscribe btc 1h 10m shorts" in text(data) and buttons(data) == {}
    await env.rt.delivery.drain()
    (sub,) = await env.db.list_subscriptions("discord:user:556")
    assert (sub.coin, sub.side) == ("BTC", Side.SHORT)
