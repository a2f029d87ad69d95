"""Quiet hours on Discord, through the real discord.py client and the composed service: /quiet
as a slash command (Manage Channels), then an alert in the window posted with the
SUPPRESS_NOTIFICATIONS flag (send(silent=True)), and one after /quiet off without it."""

from __future__ import annotations

from typing import Any

from bot.domain.models import Liquidation, Side
from tests.discord.conftest import NOW_MS, Env
from tests.fakes.discord_api import ADMIN_PERMS, CHANNEL_ID, MEMBER_PERMS

CHAN = f"discord:channel:{CHANNEL_ID}"
SUPPRESS_NOTIFICATIONS = 1 << 12


def _opt(name: str, value: Any, kind: int = 3) -> dict[str, Any]:
    return {"name": name, "type": kind, "value": value}


def _around_now() -> str:
    """A UTC window from an hour before the fixed clock to an hour after it."""
    minute = (NOW_MS // 60_000) % 1440
    at = [(minute + d) % 1440 for d in (-60, 60)]
    return "-".join(f"{m // 60:02d}:{m % 60:02d}" for m in at)


async def test_quiet_hours_post_alerts_silently(env: Env) -> None:
    refused = await env.fake.invoke(
        env.fake.interaction("quiet", [_opt("hours", _around_now())], perms=MEMBER_PERMS)
    )
    assert await env.db.chat_quiet(CHAN) is None, refused
    opts = [_opt("hours", _around_now()), _opt("except_big", True, kind=5)]
    cb = await env.fake.invoke(env.fake.interaction("quiet", opts, perms=ADMIN_PERMS))
    [embed] = cb["data"]["embeds"]
    assert embed["title"] == "Quiet hours" and "quiet now" in embed["description"]
    assert await env.db.chat_quiet(CHAN) == f"{_around_now()} except big"

    sub = await env.db.add_subscription(CHAN, "BTC", 60, Side.TOTAL, 100_000_000.0, NOW_MS)
    env.rt.book.add(sub)
    env.market.events(
        "binance",
        [Liquidation("binance", "BTC", Side.LONG, 150_000_000.0, NOW_MS - 1000, "BTCUSDT")],
    )
    assert await env.rt.engine.tick() == 1
    assert (await env.rt.delivery.drain()).sent == 1
    [quiet] = env.fake.channel_messages[CHANNEL_ID]
    assert (quiet.payload.get("flags") or 0) & SUPPRESS_NOTIFICATIONS

    cb = await env.fake.invoke(
        env.fake.interaction("quiet", [_opt("hours", "off")], perms=ADMIN_PERMS)
    )
    assert "Quiet hours are off" in cb["data"]["embeds"][0]["description"]
    env.market.events(  # 250m: the rule escalates
        "binance",
        [Liquidation("binance", "BTC", Side.LONG, 100_000_000.0, NOW_MS - 500, "BTCUSDT")],
    )
    assert await env.rt.engine.tick() == 1
    assert (await env.rt.delivery.drain()).sent == 1
    [_, loud] = env.fake.channel_messages[CHANNEL_ID]
    assert not (loud.payload.get("flags") or 0) & SUPPRESS_NOTIFICATIONS
