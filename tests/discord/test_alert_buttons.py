"""Buttons under alerts on Discord: the real discord.py client posts the alert with message
components (custom_id = the signed token) and handles a press (a component interaction) through
the same CommandService as the slash commands."""

from __future__ import annotations

from typing import Any

from bot.chat.alert_buttons import NOTICE_GONE, NOTICE_INVALID
from bot.chat.discord_sender import alert_view
from bot.chat.service import CommandService
from bot.domain.models import Liquidation, Side
from tests.discord.conftest import NOW_MS, Env
from tests.fakes.discord_api import ADMIN_PERMS, CHANNEL_ID, MEMBER_PERMS

CHAN = f"discord:channel:{CHANNEL_ID}"
LABELS = [["Mute 1h", "Mute 24h", "Unsubscribe"], ["Chart", "Details"]]
HOUR_MS = 3_600_000
MANAGE_GUILD = 1 << 5


def _title(cb: dict[str, Any]) -> str:
    embeds = cb["data"].get("embeds") or []
    return embeds[0].get("title", "") if embeds else ""


def _ephemeral(cb: dict[str, Any]) -> bool:
    return bool((cb["data"].get("flags") or 0) & 64)


async def alert(env: Env) -> dict[str, str]:
    """A BTC 1h rule of the channel fires; the alert is delivered. Returns label -> custom_id."""
    await env.db.ensure_chat(CHAN, "channel")
    sub = await env.db.add_subscription(CHAN, "BTC", 60, Side.TOTAL, 100_000_000.0, NOW_MS)
    env.rt.book.add(sub)
    env.market.events(
        "binance",
        [Liquidation("binance", "BTC", Side.LONG, 150_000_000.0, NOW_MS - 1000, "BTCUSDT")],
    )
    assert await env.rt.engine.tick() == 1
    assert (await env.rt.delivery.drain()).sent == 1
    [posted] = env.fake.channel_messages[CHANNEL_ID]
    assert posted.embeds[0]["title"] == "Liquidation alert: BTC 1h"
    rows = posted.payload["components"]
    assert [[b["label"] for b in r["components"]] for r in rows] == LABELS
    return {b["label"]: b["custom_id"] for r in rows for b in r["components"]}


async def test_alert_buttons_and_presses(env: Env) -> None:
    ids = await alert(env)
    assert all(len(c) <= 100 for c in ids.values())
    fake = env.fake

    # a member without Manage Channels / Manage Server: refused privately, nothing changes
    cb = await fake.invoke(fake.button_press(ids["Mute 1h"], perms=MEMBER_PERMS))
    assert _ephemeral(cb) and "Manage Channels" in _title(cb)
    assert CHAN not in await env.db.active_mutes(NOW_MS)
    cb = await fake.invoke(fake.button_press(ids["Unsubscribe"], perms=MEMBER_PERMS))
    assert _ephemeral(cb) and len(await env.db.list_subscriptions(CHAN)) == 1

    # anyone may look
    cb = await fake.invoke(fake.button_press(ids["Details"], perms=MEMBER_PERMS))
    assert _title(cb) == "Liquidations: BTC" and not _ephemeral(cb)

    # Manage Server (or Manage Channels) may change the channel's rules
    cb = await fake.invoke(fake.button_press(ids["Mute 24h"], perms=MEMBER_PERMS | MANAGE_GUILD))
    assert _title(cb) == "Muted" and not _ephemeral(cb)
    assert (await env.db.active_mutes(NOW_MS))[CHAN]["BTC"] == NOW_MS + 24 * HOUR_MS

    cb = await fake.invoke(fake.button_press(ids["Unsubscribe"], perms=ADMIN_PERMS))
    assert await env.db.list_subscriptions(CHAN) == []

    # the rule is gone now
    cb = await fake.invoke(fake.button_press(ids["Mute 1h"], perms=ADMIN_PERMS))
    assert _ephemeral(cb) and _title(cb) == NOTICE_GONE


async def test_a_tampered_custom_id_is_refused(env: Env) -> None:
    ids = await alert(env)
    prefix, action, sub_hex, sig = ids["Unsubscribe"].split(".")
    forged = f"{prefix}.{action}.{int(sub_hex, 16) + 1:x}.{sig}"
    cb = await env.fake.invoke(env.fake.button_press(forged, perms=ADMIN_PERMS))
    assert _ephemeral(cb) and _title(cb) == NOTICE_INVALID
    assert len(await env.db.list_subscriptions(CHAN)) == 1


async def test_the_view_is_built_from_the_services_signer(env: Env) -> None:
    service = env.rt.service
    assert isinstance(service, CommandService) and service.buttons is not None
    view = alert_view(service.buttons, 42)
    tokens = [getattr(item, "custom_id", "") for item in view.children]
    assert [service.buttons.parse(t)[1] for t in tokens] == [42] * 5  # type: ignore[index]
