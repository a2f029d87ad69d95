"""Issue 14 on the real discord.py client against the fake Discord: the venue and single
options of /subscribe, /top and /backtest as slash commands, and a single-liquidation alert
delivered to the channel. The wording itself is tested in tests/telegram/test_insight.py."""

from __future__ import annotations

from typing import Any

from bot.domain.models import Liquidation, Side
from tests.discord.conftest import NOW_MS, Env
from tests.fakes.discord_api import ADMIN_PERMS, CHANNEL_ID

CHAN = f"discord:channel:{CHANNEL_ID}"


def _opts(**values: str) -> list[dict[str, Any]]:
    return [{"name": k, "type": 3, "value": v} for k, v in values.items()]


def _text(cb: dict[str, Any]) -> str:
    parts = []
    for e in cb["data"].get("embeds") or []:
        parts += [e.get("title", ""), e.get("description", "")]
        parts += [f["name"] + " " + f["value"] for f in e.get("fields", [])]
    return "\n".join(parts)


async def test_single_rule_with_a_venue_from_slash_options_alerts_the_channel(env: Env) -> None:
    opts = _opts(coin="btc", window="single", threshold="1m", side="long", venue="bybit")
    cb = await env.fake.invoke(env.fake.interaction("subscribe", opts, perms=ADMIN_PERMS))
    assert "each single BTC long liquidation of $1M or more on Bybit" in _text(cb)
    [sub] = await env.db.list_subscriptions(CHAN)
    assert (sub.kind, sub.venue, sub.side, sub.threshold) == ("single", "bybit", Side.LONG, 1e6)

    env.market.events(
        "bybit",
        [
            Liquidation("bybit", "BTC", Side.LONG, 1.5e6, NOW_MS - 1000, "BTCUSDT", 94_000.0),
            Liquidation("bybit", "BTC", Side.SHORT, 9e6, NOW_MS - 900, "BTCUSDT", 94_100.0),
        ],
    )
    env.market.events(
        "binance",
        [Liquidation("binance", "BTC", Side.LONG, 8e6, NOW_MS - 800, "BTCUSDT", 94_050.0)],
    )
    await env.rt.engine.tick()
    assert (await env.rt.delivery.drain()).sent == 1
    [posted] = env.fake.channel_messages[CHANNEL_ID]
    [embed] = posted.embeds
    assert embed["title"] == "Big liquidation: $1.50M BTC long"
    assert "on Bybit at $94,000" in embed["description"]


async def test_top_and_backtest_slash_commands(env: Env) -> None:
    env.market.events(
        "binance",
        [
            Liquidation("binance", "ETH", Side.SHORT, 3e6, NOW_MS - 60_000, "ETHUSDT"),
            Liquidation("binance", "BTC", Side.LONG, 2e6, NOW_MS - 60_000, "BTCUSDT"),
        ],
    )
    cb = await env.fake.invoke(env.fake.interaction("top", _opts(window="1h")))
    text = _text(cb)
    assert text.splitlines()[0] == "Top liquidations, 1h"
    assert text.index("ETH") < text.index("BTC")  # the bigger first
    cb = await env.fake.invoke(
        env.fake.interaction("backtest", _opts(coin="btc", window="1h", threshold="100m"))
    )
    assert "Backtest" in _text(cb) and "Not subscribed" in _text(cb)
    assert await env.db.list_subscriptions(CHAN) == []
