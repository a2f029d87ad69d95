"""The adapter end to end: real discord.py client <-> fake Discord, real Database and service."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.chat.discord_bot import respond
from bot.chat.discord_render import MAX_MESSAGES
from bot.config import Secrets
from bot.domain.market import WINDOW_CHOICES
from bot.domain.message import Field, Message, Reply, Table, Tone
from bot.domain.models import ALL, Liquidation, Side
from bot.features.charts import PNG_SIGNATURE
from bot.runtime import app
from bot.store.rows import BucketRow, OutboxItem
from tests.discord.conftest import NOW_MS, Env, discord_config
from tests.fakes.discord_api import (
    ADMIN_PERMS,
    CHANNEL_ID,
    MANAGE_CHANNELS,
    MEMBER_PERMS,
    FakeDiscord,
)

CHAN = f"discord:channel:{CHANNEL_ID}"


def _opt(name: str, value: str, focused: bool = False) -> dict[str, Any]:
    o: dict[str, Any] = {"name": name, "type": 3, "value": value}
    if focused:
        o["focused"] = True
    return o


def _sub_opts(coin: str, window: str, threshold: str, side: str | None = None) -> list[Any]:
    opts = [_opt("coin", coin), _opt("window", window), _opt("threshold", threshold)]
    return [*opts, _opt("side", side)] if side else opts


def _text(cb: dict[str, Any]) -> str:
    embeds = cb["data"].get("embeds") or []
    parts = []
    for e in embeds:
        parts += [e.get("title", ""), e.get("description", "")]
        parts += [f["name"] + " " + f["value"] for f in e.get("fields", [])]
    return "\n".join(parts)


def _ephemeral(cb: dict[str, Any]) -> bool:
    return bool((cb["data"].get("flags") or 0) & 64)


async def test_commands_are_synced_with_options_and_default_permissions(env: Env) -> None:
    synced = {c["name"]: c for c in env.fake.synced}
    assert set(synced) == {
        "subscribe", "unsubscribe", "list", "mute", "unmute", "liqs", "chart", "status", "help",
        "start", "digest", "test", "top", "backtest", "quiet", "lang",
    }  # fmt: skip
    for name in ("subscribe", "unsubscribe", "mute", "unmute", "start", "digest", "test", "quiet"):
        # the API takes the bit set as a string or an integer
        assert int(synced[name]["default_member_permissions"]) == MANAGE_CHANNELS, name
    for name in ("liqs", "chart", "list", "status", "help", "top", "backtest"):
        assert synced[name]["default_member_permissions"] is None, name
    opts = {o["name"]: o for o in synced["subscribe"]["options"]}
    assert [o["name"] for o in synced["subscribe"]["options"]] == [
        "coin", "window", "threshold", "side", "venue"
    ]  # fmt: skip
    # every option may stay empty: /subscribe alone opens the guided form
    assert opts["coin"]["autocomplete"] is True and opts["coin"].get("required") is not True
    assert [c["value"] for c in opts["window"]["choices"]] == [*WINDOW_CHOICES, "single"]
    assert [c["value"] for c in opts["venue"]["choices"]][:3] == ["binance", "bybit", "okx"]
    assert [c["value"] for c in opts["side"]["choices"]] == ["total", "long", "short"]
    assert not any(o.get("required") for o in opts.values())
    unsub = synced["unsubscribe"]["options"][0]
    assert unsub["autocomplete"] is True
    liqs = {o["name"]: o for o in synced["liqs"]["options"]}
    assert set(liqs) == {"coin", "window", "venue", "compare"}
    assert liqs["compare"]["type"] == 5 and liqs["compare"].get("required") is not True  # bool
    chart = {o["name"]: o for o in synced["chart"]["options"]}
    assert chart["coin"]["required"] is True and chart["window"].get("required") is not True
    assert [c["value"] for c in chart["window"]["choices"]] == [
        "1h", "2h", "4h", "12h", "24h", "3d", "7d"
    ]  # fmt: skip


async def test_subscribe_without_manage_channels_is_refused_privately(env: Env) -> None:
    cb = await env.fake.invoke(
        env.fake.interaction("subscribe", _sub_opts("btc", "1h", "100m"), perms=MEMBER_PERMS)
    )
    assert cb["type"] == 4 and _ephemeral(cb)
    assert "Manage Channels" in _text(cb)
    assert await env.db.list_subscriptions(CHAN) == []


async def test_subscribe_with_manage_channels_is_stored_for_the_channel(env: Env) -> None:
    payload = env.fake.interaction(
        "subscribe", _sub_opts("btc", "1h", "100m", "short"), perms=ADMIN_PERMS
    )
    cb = await env.fake.invoke(payload)
    assert cb["type"] == 4 and not _ephemeral(cb)
    [sub] = await env.db.list_subscriptions(CHAN)
    assert (sub.coin, sub.window, sub.side, sub.threshold) == ("BTC", 60, Side.SHORT, 100e6)
    assert "BTC" in _text(cb)
    assert cb["data"]["allowed_mentions"]["parse"] == []
    chat = await env.db.get_chat(CHAN)
    assert chat is not None and chat.kind == "channel"


async def test_subscribe_in_a_dm_is_personal(env: Env) -> None:
    cb = await env.fake.invoke(
        env.fake.interaction("subscribe", _sub_opts("all", "4h", "1b"), user_id=555, dm=True)
    )
    assert not _ephemeral(cb)
    [sub] = await env.db.list_subscriptions("discord:user:555")
    assert (sub.coin, sub.window, sub.side) == (ALL, 240, Side.TOTAL)
    assert await env.db.list_subscriptions(CHAN) == []


async def test_malformed_option_gets_an_ephemeral_explanation(env: Env) -> None:
    # spaces inside an option must not become extra arguments ("100m short" -> one token)
    opts = _sub_opts("btc", "1h", "lots and lots")
    cb = await env.fake.invoke(env.fake.interaction("subscribe", opts, perms=ADMIN_PERMS))
    assert _ephemeral(cb)
    assert "100m" in _text(cb)  # the refusal shows how to write an amount
    assert await env.db.list_subscriptions(CHAN) == []


async def test_coin_autocomplete_offers_all_and_matching_coins(env: Env) -> None:
    fake = env.fake
    cb = await fake.invoke(
        fake.interaction("subscribe", [_opt("coin", "bt", focused=True)], autocomplete=True)
    )
    assert cb["type"] == 8
    values = [c["value"] for c in cb["data"]["choices"]]
    assert values[0] == "btc" and "all" not in values and "eth" not in values
    cb = await fake.invoke(
        fake.interaction("liqs", [_opt("coin", "", focused=True)], autocomplete=True)
    )
    values = [c["value"] for c in cb["data"]["choices"]]
    assert values[0] == "all" and len(values) == 25


async def test_unsubscribe_autocomplete_lists_only_this_channels_subscriptions(env: Env) -> None:
    mine = await env.db.add_subscription(CHAN, "BTC", 60, Side.LONG, 100e6, NOW_MS)
    await env.db.add_subscription(CHAN, "ETH", 240, Side.TOTAL, 50e6, NOW_MS)
    other = await env.db.add_subscription("discord:channel:1", "SOL", 60, Side.TOTAL, 5e6, NOW_MS)
    await env.db.add_subscription(CHAN, ALL, 60, Side.SHORT, 3e8, NOW_MS, origin="config")
    assert (mine.number, other.number) == (1, 1)  # numbers are per chat
    fake = env.fake
    cb = await fake.invoke(
        fake.interaction("unsubscribe", [_opt("subscription", "", focused=True)], autocomplete=True)
    )
    choices = cb["data"]["choices"]
    assert [c["value"] for c in choices] == ["all", "1", "2"]  # not the operator's broadcast
    assert any("BTC 1h long" in c["name"] and "$100M" in c["name"] for c in choices)
    # choosing it removes it, for a member who may
    cb = await fake.invoke(
        fake.interaction("unsubscribe", [_opt("subscription", "1")], perms=ADMIN_PERMS)
    )
    assert not _ephemeral(cb)
    assert [s.coin for s in await env.db.list_subscriptions(CHAN)] == ["ETH", ALL]
    assert len(await env.db.list_subscriptions("discord:channel:1")) == 1  # its #1 stays


async def test_liqs_answers_with_an_embed_table(env: Env) -> None:
    events = [
        Liquidation("binance", "BTC", Side.LONG, 2_500_000.0, NOW_MS - 120_000, "BTCUSDT"),
        Liquidation("binance", "ETH", Side.SHORT, 800_000.0, NOW_MS - 60_000, "ETHUSDT"),
    ]
    env.market.events("binance", events)
    cb = await env.fake.invoke(env.fake.interaction("liqs"))
    assert cb["type"] == 4 and not _ephemeral(cb)
    [embed] = cb["data"]["embeds"]
    assert embed["title"] and "```" in embed["description"]
    assert "$2.50M" in embed["description"]
    assert "footer" in embed


async def test_alert_through_outbox_and_delivery_reaches_the_channel(env: Env) -> None:
    alert = Message(
        "BTC longs liquidated: $120.00M in 1h",
        ("Above your $100M alert.",),
        fields=(Field("Longs", "$120.00M"), Field("Shorts", "$3.00M"), Field("Total", "$123M")),
        footer="14:05 UTC · binance",
        tone=Tone.LONG,
    )
    await env.db.enqueue([OutboxItem(CHAN, alert, "sub1:ep1:l1", NOW_MS)])
    delivery = env.rt.delivery
    stats = await delivery.drain()
    assert stats.sent == 1
    [posted] = env.fake.channel_messages[CHANNEL_ID]
    [embed] = posted.embeds
    assert embed["color"] == 0xE74C3C and embed["title"].startswith("BTC longs")
    assert [f["name"] for f in embed["fields"]] == ["Longs", "Shorts", "Total"]


async def test_429_on_delivery_is_retried_after_discords_delay(env: Env) -> None:
    await env.db.enqueue([OutboxItem(CHAN, Message("wave"), "k429", NOW_MS)])
    body = {"message": "You are being rate limited.", "retry_after": 45.0, "global": False}
    env.fake.fail_next(CHANNEL_ID, 429, body, Via="1.1 google")
    delivery = env.rt.delivery
    stats = await delivery.drain()
    assert stats.retried == 1 and env.fake.channel_messages[CHANNEL_ID] == []
    assert await env.db.due_outbox(NOW_MS + 1_000, 10) == []  # not before Discord's delay
    [row] = await env.db.due_outbox(NOW_MS + 46_000, 10)
    status, attempts, next_ms, _ = await env.db.outbox_status(row.id)  # type: ignore[misc]
    assert status != "sent" and attempts == 1 and next_ms >= NOW_MS + 45_000
    env.clock.now = NOW_MS + 46_000
    assert (await delivery.drain()).sent == 1
    assert len(env.fake.channel_messages[CHANNEL_ID]) == 1


async def test_403_on_delivery_pauses_the_channel_and_logs_once(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    items = [OutboxItem(CHAN, Message(f"wave {i}"), f"k403-{i}", NOW_MS) for i in range(2)]
    await env.db.enqueue(items)
    env.fake.fail_next(CHANNEL_ID, 403, {"message": "Missing Access", "code": 50001})
    delivery = env.rt.delivery
    with caplog.at_level(logging.WARNING):
        await delivery.drain()
        await delivery.drain()
    chat = await env.db.get_chat(CHAN)
    assert chat is not None and chat.paused_reason and "Missing Access" in chat.paused_reason
    paused_logs = [r for r in caplog.records if "paused" in r.getMessage()]
    assert len(paused_logs) == 1
    posts = [r for r in env.fake.requests if r == ("POST", f"/channels/{CHANNEL_ID}/messages")]
    assert len(posts) == 1  # the paused channel is not hammered
    assert env.fake.channel_messages[CHANNEL_ID] == []


async def test_gateway_drop_is_resumed_and_commands_keep_working(env: Env) -> None:
    fake = env.fake
    assert fake.identifies == 1
    await fake.drop_gateway()
    await fake.ready.wait()  # set again when the client RESUMEs on the new connection
    assert fake.resumes == 1 and fake.identifies == 1
    cb = await fake.invoke(fake.interaction("help"))
    assert cb["type"] == 4 and cb["data"]["embeds"]


async def test_mute_and_unmute_are_translated_for_the_channel(env: Env) -> None:
    fake = env.fake
    opts = [_opt("duration", "2h"), _opt("coin", "eth")]
    cb = await fake.invoke(fake.interaction("mute", opts, perms=ADMIN_PERMS))
    assert not _ephemeral(cb)
    assert (await env.db.active_mutes(NOW_MS))[CHAN] == {"ETH": NOW_MS + 2 * 3_600_000}
    cb = await fake.invoke(fake.interaction("unmute", perms=MEMBER_PERMS))
    assert _ephemeral(cb) and CHAN in await env.db.active_mutes(NOW_MS)  # refused: still muted
    await fake.invoke(fake.interaction("unmute", perms=ADMIN_PERMS))
    assert CHAN not in await env.db.active_mutes(NOW_MS)


async def test_start_with_a_bad_token_fails_loudly(fake: FakeDiscord, tmp_path: Path) -> None:
    rt = await app.build(discord_config(tmp_path), Secrets(discord_token="wrong-token"))
    with pytest.raises(discord.LoginFailure):
        await app.start(rt, jobs=False)
    await app.stop(rt)
    assert fake.identifies == 0


async def test_a_long_reply_continues_in_followups_with_the_same_visibility(env: Env) -> None:
    rows = tuple((f"C{i}", "x" * 80) for i in range(400))  # ~35k chars: several messages
    big = Message("Big", table=Table(("coin", "note"), rows), ephemeral=True)

    @env.bot.tree.command(name="big", description="test only")
    async def big_cmd(interaction: discord.Interaction) -> None:
        await respond(interaction, Reply.of(Message("First", ephemeral=True), big))

    cb = await env.fake.invoke(env.fake.interaction("big"))
    assert _ephemeral(cb) and cb["data"]["embeds"][0]["title"] == "First"
    followups = await env.fake.wait_followups(MAX_MESSAGES)
    assert len(followups) == MAX_MESSAGES  # cut, not rejected
    assert all(f.ephemeral for f in followups)
    for f in followups:
        assert len(f.embeds) <= 10
        assert (
            sum(len(e.get("description", "")) + len(e.get("title", "")) for e in f.embeds) <= 6000
        )


async def test_session_that_cannot_resume_identifies_again(env: Env) -> None:
    fake = env.fake
    fake.refuse_resume = True
    await fake.drop_gateway()
    await fake.ready.wait()  # READY again, after a fresh IDENTIFY
    assert fake.resumes == 1 and fake.identifies == 2
    cb = await fake.invoke(fake.interaction("status"))
    assert cb["type"] == 4 and cb["data"]["embeds"]


async def test_sender_before_login_asks_to_retry(tmp_path: Path) -> None:
    rt = await app.build(discord_config(tmp_path), Secrets(discord_token="t"))
    try:
        out = await rt.senders["discord"].send(CHAN, Message("x"))
    finally:
        await rt.db.close()
    assert out.outcome.value == "retry" and out.retry_after > 0


async def test_slow_answer_is_deferred_then_sent_as_a_followup(env: Env) -> None:
    env.bot.defer_after = 0.0  # as if the service took longer than Discord waits
    cb = await env.fake.invoke(env.fake.interaction("list"))  # /list awaits the database
    assert cb["type"] == 5  # "thinking…"
    [followup] = await env.fake.wait_followups(1)
    assert followup.embeds and followup.embeds[0].get("title")


async def test_chart_answers_with_an_attached_picture_in_the_embed(env: Env) -> None:
    minute = NOW_MS // 60_000 * 60_000
    await env.db.upsert_buckets([BucketRow(minute - 60_000, "BTC", "binance", 2_500_000, 800_000)])
    cb = await env.fake.invoke(
        env.fake.interaction("chart", [_opt("coin", "btc"), _opt("window", "4h")])
    )
    assert cb["type"] == 4 and not _ephemeral(cb)
    [embed] = cb["data"]["embeds"]
    assert embed["title"] == "BTC liquidations, last 4h (UTC)"
    assert embed["image"]["url"] == "attachment://chart-btc-4h.png"
    assert [a["filename"] for a in cb["data"]["attachments"]] == ["chart-btc-4h.png"]
    [upload] = env.fake.uploads
    assert upload.filename == "chart-btc-4h.png" and upload.data.startswith(PNG_SIGNATURE)


async def test_liqs_compare_option_reaches_the_command(env: Env) -> None:
    compare = {"name": "compare", "type": 5, "value": True}
    cb = await env.fake.invoke(env.fake.interaction("liqs", [_opt("coin", "btc"), compare]))
    [embed] = cb["data"]["embeds"]
    assert embed["title"] == "Compare needs CoinGlass"  # this stack has no CoinGlass key
    assert "COINGLASS\\_API\\_KEY" in embed["description"]  # Markdown-escaped, shown plain


@pytest.mark.parametrize("typed", ["<b>bold</b> & stuff", "/", "//", "x" * 10_000])
async def test_any_option_text_gets_one_short_private_reply(env: Env, typed: str) -> None:
    cb = await env.fake.invoke(env.fake.interaction("liqs", [_opt("coin", typed)]))
    assert _ephemeral(cb) and len(_text(cb)) < 600
    assert "Usage: /liqs [coin] [window]" in _text(cb)
