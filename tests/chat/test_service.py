"""The shared command service, against a real SQLite Database and a real RuleBook.

Every command's behaviour is tested here once; the Telegram and Discord adapters rely on it.
Only the market port is a hand-built stand-in (it is a port: the live view needs sources).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.chat.context import ChatContext
from bot.chat.service import CommandService, ServiceSettings
from bot.domain.command_types import Liqs, Subscribe
from bot.domain.compare import Comparison
from bot.domain.message import Message, Reply, Tone, plain_text
from bot.domain.models import (
    ALL,
    AlertState,
    Side,
    Snapshot,
    SourceStatus,
    Status,
    Transition,
    VenueSplit,
    WindowTotals,
)
from bot.domain.rules import RuleBook
from bot.domain.source_fault import Fault
from bot.features.charts import PNG_SIGNATURE, render_png
from bot.store import BucketRow, Database

T = 1768313100000  # 2026-01-13 14:05 UTC
M = 1e6
SERVED = frozenset({60, 240, 720, 1440})  # what CoinGlass serves


@dataclass
class FakeMarket:
    """The MarketView port with a hand-built snapshot."""

    served: frozenset[int] = SERVED
    fail: bool = False
    statuses: list[SourceStatus] = field(
        default_factory=lambda: [SourceStatus("binance", "up", T - 60_000, T - 1_000, 42)]
    )

    def snapshot(self, now_ms: int) -> Snapshot:
        if self.fail:
            raise RuntimeError("secret internal detail")
        totals = {
            (ALL, 60): WindowTotals(819.85e3, 6.08 * M),
            ("BTC", 60): WindowTotals(10 * M, 32.5 * M),
            ("BTC", 240): WindowTotals(20 * M, 40 * M),
        }
        venues = {("BTC", 240): (VenueSplit("binance", 15 * M, 30 * M),)}
        return Snapshot(now_ms, totals, venues, self.served, self.served, ("binance",), True)

    def status(self, now_ms: int) -> list[SourceStatus]:
        return self.statuses

    def known_coins(self) -> frozenset[str]:
        return frozenset({"NEWCOIN"})

    def windows_served(self) -> frozenset[int]:
        return self.served

    def compare(self, coin: str, now_ms: int) -> Comparison:
        return Comparison(coin, now_ms, (), ("binance",), "off")  # no CoinGlass key here


class Clock:
    def __init__(self, now: int = T) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass
class Env:
    db: Database
    book: RuleBook
    market: FakeMarket
    clock: Clock
    service: CommandService

    def with_settings(self, settings: ServiceSettings) -> CommandService:
        return CommandService(self.db, self.market, self.book, settings, self.clock)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    db = await Database.open(tmp_path / "bot.db")
    book, market, clock = RuleBook(), FakeMarket(), Clock()
    service = CommandService(db, market, book, ServiceSettings(bot_username="LiqBot"), clock)
    try:
        yield Env(db, book, market, clock, service)
    finally:
        await db.close()


def private(key: str = "telegram:1") -> ChatContext:
    return ChatContext(key, "telegram", "private", user="alice")


class Admin:
    """A group's can_manage check, counting how often the service asks."""

    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed
        self.asked = 0

    async def __call__(self) -> bool:
        self.asked += 1
        return self.allowed


def group(check: Admin, key: str = "telegram:-100") -> ChatContext:
    return ChatContext(key, "telegram", "group", can_manage=check, manage_hint="ask a group admin")


def one(reply: Reply) -> Message:
    assert len(reply.messages) == 1
    return reply.messages[0]


async def say(env: Env, text: str, ctx: ChatContext | None = None) -> Message:
    return one(await env.service.handle_text(ctx or private(), text))


# ---- subscribe ---------------------------------------------------------------------------


async def test_subscribe_stores_adds_to_book_and_confirms_with_current_value(env: Env) -> None:
    msg = await say(env, "/subscribe btc 1h 100m shorts")
    subs = await env.db.list_subscriptions("telegram:1")
    assert [(s.coin, s.window, s.side, s.threshold) for s in subs] == [
        ("BTC", 60, Side.SHORT, 100 * M)
    ]
    sub = subs[0]
    assert env.book.subscription(sub.id) == sub
    text = plain_text(msg)
    assert msg.tone is Tone.INFO and not msg.ephemeral
    assert f"#{sub.id} BTC shorts over 1h above $100M" in text
    assert "Now: $32.50M" in text
    assert "cannot serve" not in text
    chat = await env.db.get_chat("telegram:1")
    assert chat is not None and chat.kind == "private"


async def test_subscribe_warns_when_the_window_is_not_served(env: Env) -> None:
    text = plain_text(await say(env, "/sub eth 5m 10m"))
    assert "cannot serve the 5m window" in text and "Now:" not in text
    assert await env.db.count_subscriptions("telegram:1") == 1  # stored all the same


async def test_subscribe_accepts_coins_the_sources_have_seen(env: Env) -> None:
    await say(env, "/subscribe newcoin 1h 1m")
    assert [s.coin for s in await env.db.list_subscriptions("telegram:1")] == ["NEWCOIN"]


async def test_exact_duplicate_is_refused_pointing_to_the_existing_id(env: Env) -> None:
    await say(env, "/subscribe btc 1h 100m")
    (first,) = await env.db.list_subscriptions("telegram:1")
    msg = await say(env, "/subscribe BTC 60m $100,000,000 total")  # same rule, other spelling
    assert msg.tone is Tone.ERROR and f"#{first.id}" in plain_text(msg)
    assert await env.db.count_subscriptions("telegram:1") == 1
    await say(env, "/subscribe btc 1h 100m long")  # another side is another rule
    assert await env.db.count_subscriptions("telegram:1") == 2


async def test_cap_of_fifty_per_chat(env: Env) -> None:
    for i in range(50):
        msg = await say(env, f"/subscribe btc 1h {i + 1}m")
        assert msg.title == "Subscribed", plain_text(msg)
    msg = await say(env, "/subscribe btc 1h 999m")
    text = plain_text(msg)
    assert msg.tone is Tone.ERROR and "50" in text and "/unsubscribe" in text
    assert await env.db.count_subscriptions("telegram:1") == 50
    assert len(env.book) == 50
    # another chat has its own allowance
    assert (await say(env, "/subscribe btc 1h 1m", private("telegram:2"))).title == "Subscribed"
    # freeing a slot works
    (first, *_) = await env.db.list_subscriptions("telegram:1")
    await say(env, f"/unsubscribe {first.id}")
    assert (await say(env, "/subscribe btc 1h 999m")).title == "Subscribed"


async def test_cap_is_configurable_and_holds_under_concurrent_commands(env: Env) -> None:
    service = env.with_settings(ServiceSettings(max_subscriptions_per_chat=2))
    replies = await asyncio.gather(
        *(service.handle_text(private(), f"/subscribe eth 4h {i + 1}m") for i in range(5))
    )
    titles = sorted(one(r).title for r in replies)
    assert titles.count("Subscribed") == 2
    assert await env.db.count_subscriptions("telegram:1") == 2
    assert "2 subscriptions, the limit" in plain_text(
        one(await service.handle_text(private(), "/subscribe eth 4h 99m"))
    )


# ---- permissions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "/subscribe btc 1h 100m",
        "/unsubscribe 1",
        "/unsubscribe all",
        "/mute 1h",
        "/unmute",
        "/digest 08:00 Europe/Berlin",
        "/digest off",
        "/test",
    ],
)
async def test_group_member_is_refused_changes(env: Env, text: str) -> None:
    check = Admin(allowed=False)
    msg = await say(env, text, group(check))
    assert check.asked == 1
    assert msg.tone is Tone.ERROR and msg.ephemeral
    assert "ask a group admin" in plain_text(msg)
    assert await env.db.count_subscriptions("telegram:-100") == 0
    assert await env.db.active_mutes(T) == {}
    assert await env.db.all_digests() == [] and await env.db.outbox_backlog(T, ["telegram"]) == (
        0,
        None,
    )


async def test_group_admin_is_accepted_and_group_kind_recorded(env: Env) -> None:
    check = Admin(allowed=True)
    ctx = group(check)
    assert (await say(env, "/subscribe all 1h 400m shorts", ctx)).title == "Subscribed"
    assert (await say(env, "/mute 2h", ctx)).title == "Muted"
    assert check.asked == 2
    chat = await env.db.get_chat("telegram:-100")
    assert chat is not None and chat.kind == "group"
    (sub,) = await env.db.list_subscriptions("telegram:-100")
    assert (sub.coin, sub.side) == (ALL, Side.SHORT)


@pytest.mark.parametrize("text", ["/liqs", "/list", "/status", "/help", "/liqs btc 4h", "/digest"])
async def test_reading_commands_are_open_to_everyone(env: Env, text: str) -> None:
    check = Admin(allowed=False)
    msg = await say(env, text, ChatContext("discord:channel:9", "discord", "channel", check))
    assert check.asked == 0 and msg.tone is not Tone.ERROR


# ---- start, unsubscribe, mute ------------------------------------------------------------


async def test_start_resumes_a_paused_chat(env: Env) -> None:
    await say(env, "/subscribe btc 1h 100m")
    assert await env.db.pause_chat("telegram:1", "bot was blocked by the user")
    assert await env.db.active_subscriptions() == []
    msg = await say(env, "/start")
    assert "back on" in plain_text(msg)
    chat = await env.db.get_chat("telegram:1")
    assert chat is not None and chat.paused_reason is None
    assert len(await env.db.active_subscriptions()) == 1
    again = await say(env, "/start")  # not paused: a plain welcome
    assert "back on" not in plain_text(again)


async def test_start_creates_the_chat_with_its_kind(env: Env) -> None:
    ctx = ChatContext("discord:channel:5", "discord", "channel", Admin(True))
    await say(env, "/start", ctx)
    chat = await env.db.get_chat("discord:channel:5")
    assert chat is not None and chat.kind == "channel"


async def test_unsubscribe_own_ids_only(env: Env) -> None:
    await say(env, "/subscribe btc 1h 100m")
    await say(env, "/subscribe eth 1h 100m")
    await say(env, "/subscribe sol 1h 100m", private("telegram:2"))
    (btc, eth) = await env.db.list_subscriptions("telegram:1")
    (other,) = await env.db.list_subscriptions("telegram:2")

    msg = await say(env, f"/unsubscribe {other.id}")
    text = plain_text(msg)
    assert msg.tone is Tone.ERROR and "Nothing removed" in msg.title
    assert f"Yours: #{btc.id}, #{eth.id}" in text
    assert await env.db.count_subscriptions("telegram:2") == 1
    assert env.book.subscription(other.id) is not None

    msg = await say(env, f"/unsub {btc.id} 99999")
    text = plain_text(msg)
    assert f"Removed #{btc.id}" in text and "#99999" in text
    assert [s.id for s in await env.db.list_subscriptions("telegram:1")] == [eth.id]
    assert env.book.subscription(btc.id) is None and env.book.subscription(eth.id) is not None


async def test_unsubscribe_all(env: Env) -> None:
    for coin in ("btc", "eth", "sol"):
        await say(env, f"/subscribe {coin} 1h 100m")
    await say(env, "/subscribe sol 1h 100m", private("telegram:2"))
    assert "Removed all 3" in plain_text(await say(env, "/unsubscribe all"))
    assert await env.db.count_subscriptions("telegram:1") == 0
    assert len(env.book) == 1  # the other chat's rule stays
    assert "no subscriptions" in plain_text(await say(env, "/unsubscribe all"))


async def test_config_broadcasts_cannot_be_removed_by_users(env: Env) -> None:
    sub = await env.db.add_subscription("telegram:1", ALL, 60, Side.TOTAL, 1e9, T, origin="config")
    env.book.add(sub)
    msg = await say(env, f"/unsubscribe {sub.id}")
    assert msg.tone is Tone.ERROR
    assert "The op* broadcasts are the operator's: /mute silences them." in plain_text(msg)
    await say(env, "/unsubscribe all")
    assert await env.db.count_subscriptions("telegram:1") == 1
    assert "op*" in plain_text(await say(env, "/list"))


async def test_numbers_are_per_chat_and_broadcasts_take_none_of_them(env: Env) -> None:
    # the operator's broadcast and another chat's rules come first ...
    await env.db.add_subscription("telegram:1", ALL, 60, Side.SHORT, 3e8, T, origin="config")
    await say(env, "/subscribe eth 1h 5m", private("telegram:2"))
    await say(env, "/subscribe sol 1h 5m", private("telegram:2"))
    # ... yet this chat's first rule is #1, and the cap counts only its own rules
    first = await say(env, "/subscribe btc 1h 100m")
    assert first.lines[0] == "#1 BTC total over 1h above $100M"
    assert first.footer.startswith("1/50 used · /list · /unsubscribe 1")
    assert (await say(env, "/subscribe btc 4h 100m")).lines[0].startswith("#2 ")
    listing = await say(env, "/list")
    assert listing.table is not None
    assert [r[0] for r in listing.table.rows] == ["op*", "#1", "#2"]
    assert listing.footer.startswith("2/50 used")
    # removing #1 here leaves the other chat's #1 alone, and numbers are never reused
    assert plain_text(await say(env, "/unsubscribe 1")).startswith("Unsubscribed\nRemoved #1.")
    assert len(await env.db.list_subscriptions("telegram:2")) == 2
    assert (await say(env, "/subscribe btc 1h 200m")).lines[0].startswith("#3 ")


async def test_mute_list_unmute(env: Env) -> None:
    await say(env, "/subscribe btc 1h 100m")
    msg = await say(env, "/mute btc 2h")
    assert "until 16:05 UTC" in plain_text(msg)
    assert await env.db.active_mutes(T) == {"telegram:1": {"BTC": T + 7_200_000}}
    await say(env, "/mute 30m")
    listing = plain_text(await say(env, "/list"))
    assert "BTC alerts muted until 16:05 UTC" in listing
    assert "All alerts muted until 14:35 UTC" in listing
    assert "armed, muted" in listing
    env.clock.now = T + 31 * 60_000  # the chat mute has run out, BTC's has not
    listing = plain_text(await say(env, "/list"))
    assert "All alerts muted" not in listing and "BTC alerts muted" in listing
    assert "Unmuted" in (await say(env, "/unmute btc")).title
    assert await env.db.active_mutes(env.clock.now) == {}
    assert "Nothing to unmute" in (await say(env, "/unmute")).title


# ---- reading commands --------------------------------------------------------------------


async def test_liqs_table_and_window(env: Env) -> None:
    msg = await say(env, "/liqs")
    assert msg.table is not None
    assert msg.table.rows[0] == ("1h", "$819.85K", "$6.08M", "$6.90M")
    msg = await say(env, "/liq 4h btc")
    assert msg.title == "Liquidations: BTC, 4h"
    assert msg.table is not None and msg.table.rows[0][0] == "Binance"
    env.market.statuses = [SourceStatus("bybit", "down", T - 180_000, fault=Fault.DISCONNECTED)]
    assert (
        "Figures are partial: bybit lost its connection since 14:02 UTC."
        in (await say(env, "/liqs")).lines
    )


async def test_handle_takes_a_parsed_command(env: Env) -> None:
    reply = await env.service.handle(private(), Subscribe("ETH", 240, 5 * M, Side.LONG))
    assert one(reply).title == "Subscribed"
    assert one(await env.service.handle(private(), Liqs("ETH", 240))).title.endswith("ETH, 4h")


async def test_status_shows_counts_and_paused_state(env: Env) -> None:
    await say(env, "/subscribe btc 1h 100m")
    await say(env, "/subscribe eth 1h 100m", private("telegram:2"))
    await env.db.pause_chat("telegram:1", "kicked from the group")
    text = plain_text(await say(env, "/status"))
    assert "This chat: 1/50 subscriptions" in text
    assert "PAUSED (kicked from the group)" in text
    assert "Active subscriptions, all chats: 1" in text  # the paused chat's rule is inactive
    assert "binance" in text


async def test_list_empty_and_help(env: Env) -> None:
    assert "/subscribe btc 1h 100m" in plain_text(await say(env, "/list"))
    assert "/unsubscribe" in plain_text(await say(env, "/help"))


def test_commands_for_menus(env: Env) -> None:
    names = [name for name, _ in env.service.commands()]
    assert {"liqs", "subscribe", "unsubscribe", "list", "mute", "unmute", "status", "help"} <= set(
        names
    )
    assert all(desc and len(desc) <= 256 for _, desc in env.service.commands())


# ---- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "/subscribe",
        "/subscribe btx 1h 100m",
        "/subscribe btc 1h 4h",
        "/subscribe btc 3h 100m",
        "/subscribe btc 1h 0",
        "/subscribe btc 1h -1m",
        "/subscribe btc 1h 5t",
        "/subscribe btc 1h abc",
        "/subscribe btc 1h 1m long extra",
        "/unsubscribe",
        "/unsubscribe x",
        "/mute",
        "/mute 99d",
        "/unmute a b",
        "/liqs 3h",
        "/liqs a b c",
        "/list x",
        "/nope",
        "/liqs " + "z" * 5000,
    ],
)
async def test_malformed_commands_answer_with_an_error(env: Env, text: str) -> None:
    msg = await say(env, text)
    assert msg.tone is Tone.ERROR and msg.ephemeral
    assert any(line.startswith("Usage: /") for line in msg.lines)
    assert len(plain_text(msg)) < 600


@pytest.mark.parametrize("text", ["", "   ", "/liqs@OtherBot"])
async def test_text_not_for_us_gets_no_reply(env: Env, text: str) -> None:
    assert await env.service.handle_text(private(), text) == Reply()


SLASH_HINT = "write the command's name right after the slash"


@pytest.mark.parametrize(
    ("text", "first_line"),
    [
        ("/", f"A lone slash is not a command; {SLASH_HINT}"),
        ("//", f"'//' is not a command; {SLASH_HINT}"),
        (
            "/" + "x" * 10_000,
            "Unknown command /xxxxxxxxxxxxxxxxxxx…; the commands are /liqs, /top, /chart, /subscribe, /backtest, /list, /unsubscribe, /export, /import, /mute, /unmute, /status, /digest, /tz, /quiet, /lang, /test, /help, /start",
        ),
        ("/liqs " + "x" * 10_000, "An argument is too long (over 40 characters)"),
        ("hello", "Try /liqs btc for the market now, or /help for every command."),
        ("<b>bold</b> & stuff", "Try /liqs btc for the market now, or /help for every command."),
        ("x" * 10_000, "Try /liqs btc for the market now, or /help for every command."),
    ],
)
async def test_every_input_in_private_gets_one_short_reply(
    env: Env, text: str, first_line: str
) -> None:
    reply = await env.service.handle_text(private(), text)
    assert len(reply.messages) == 1
    assert reply.messages[0].lines[0] == first_line
    assert len(plain_text(reply.messages[0])) < 400


@pytest.mark.parametrize("text", ["hello", "<b>bold</b> & stuff", "/", "//", "x" * 10_000])
async def test_talk_in_a_group_is_left_alone(env: Env, text: str) -> None:
    assert await env.service.handle_text(group(Admin(True)), text) == Reply()


async def test_addressed_to_us(env: Env) -> None:
    assert (await say(env, "/liqs@liqbot")).table is not None


async def test_unknown_command_in_a_group_is_left_to_other_bots(env: Env) -> None:
    ctx = group(Admin(True))
    assert await env.service.handle_text(ctx, "/price btc") == Reply()
    assert await env.service.handle_text(ctx, "/price@OtherBot btc") == Reply()
    msg = one(await env.service.handle_text(ctx, "/price@LiqBot btc"))  # addressed to us
    assert msg.tone is Tone.ERROR and "/liqs" in plain_text(msg)
    assert (await say(env, "/price btc")).tone is Tone.ERROR  # in private, always answered


async def test_bot_username_learned_after_start(env: Env) -> None:
    service = env.with_settings(ServiceSettings())
    assert one(await service.handle_text(private(), "/liqs@other")).table is not None
    service.bot_username = "LiqBot"  # what the Telegram adapter does after getMe
    assert await service.handle_text(private(), "/liqs@other") == Reply()


async def test_unexpected_exception_becomes_an_apology(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.market.fail = True
    with caplog.at_level(logging.ERROR, logger="bot.chat.service"):
        msg = await say(env, "/liqs btc")
    text = plain_text(msg)
    assert msg.tone is Tone.ERROR and "Sorry" in msg.title
    assert "secret internal detail" not in text and "Traceback" not in text
    assert any(
        r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in caplog.records
    )
    # a subscription is stored before the market is read: it is confirmed, without a value
    with caplog.at_level(logging.ERROR, logger="bot.chat.service"):
        msg = await say(env, "/subscribe btc 1h 100m")
    assert msg.title == "Subscribed" and "Now:" not in plain_text(msg)
    assert await env.db.count_subscriptions("telegram:1") == 1
    assert sum(1 for r in caplog.records if r.exc_info) == 2  # both failures were logged


async def test_a_failing_permission_check_is_an_apology_not_a_crash(env: Env) -> None:
    async def broken() -> bool:
        raise ConnectionError("getChatMember timed out")

    ctx = ChatContext("telegram:-5", "telegram", "group", can_manage=broken)
    msg = await say(env, "/mute 1h", ctx)
    assert msg.tone is Tone.ERROR and "Sorry" in msg.title
    assert await env.db.active_mutes(T) == {}


# ---- chart -------------------------------------------------------------------------------


async def _buckets(env: Env) -> None:
    minute = T // 60_000 * 60_000
    await env.db.upsert_buckets(
        [
            BucketRow(minute - 60_000, "BTC", "binance", 3 * M, 1 * M),
            BucketRow(minute - 60_000, "BTC", "okx", 1 * M, 0),
            BucketRow(minute - 120 * 60_000, "ETH", "bybit", 0, 2 * M),
            BucketRow(minute - 3 * 86_400_000, "BTC", "binance", 9 * M, 9 * M),  # 3 days ago
        ]
    )


async def test_chart_renders_a_png_for_a_coin_and_for_all(env: Env) -> None:
    await _buckets(env)
    btc = await say(env, "/chart btc 1h")
    assert btc.image is not None and btc.image.startswith(PNG_SIGNATURE)
    assert btc.image_name == "chart-btc-1h.png"
    assert btc.title == "BTC liquidations, last 1h (UTC)"
    assert "Total $5.00M" in plain_text(btc)  # both venues of the minute, the ETH row left out
    everything = await say(env, "/chart all")
    assert everything.image is not None and "Total $7.00M" in plain_text(everything)
    week = await say(env, "/chart btc 7d")
    assert week.image is not None and "Total $23.00M" in plain_text(week)


async def test_chart_of_an_empty_window_says_so_without_a_picture(env: Env) -> None:
    await _buckets(env)
    msg = await say(env, "/chart sol 4h")
    assert msg.image is None and "No liquidations of SOL recorded in the last 4h." in msg.lines
    msg = await say(env, "/chart btc 12h")  # the 3-day-old row is outside, the last minute in
    assert msg.image is not None
    env.clock.now += 86_400_000  # a day later nothing is left in the last hour
    msg = await say(env, "/chart all 1h")
    assert msg.image is None and "No liquidations of any coin recorded in the last 1h." in msg.lines


async def test_chart_of_an_unknown_coin_suggests(env: Env) -> None:
    msg = await say(env, "/chart btx")
    assert msg.tone is Tone.ERROR and "did you mean btc" in plain_text(msg)


async def test_chart_query_sums_venues_and_coins_in_sql(env: Env) -> None:
    await _buckets(env)
    minute = T // 60_000 * 60_000
    since = minute - 200 * 60_000
    assert await env.db.chart_buckets("BTC", since) == [(minute - 60_000, 4 * M, 1 * M)]
    assert await env.db.chart_buckets(ALL, since) == [
        (minute - 120 * 60_000, 0.0, 2 * M),
        (minute - 60_000, 4 * M, 1 * M),
    ]


async def test_list_shows_each_rules_state_from_the_book(env: Env) -> None:
    await say(env, "/subscribe btc 1h 100m")
    await say(env, "/subscribe eth 1h 100m")
    btc, eth = await env.db.list_subscriptions("telegram:1")
    old = env.book.state(btc.id)
    fired = AlertState(btc.id, Status.FIRED, level=2, episode=1, fired_ms=T, last_alert_ms=T)
    env.book.apply([Transition(btc.id, old, fired)])
    text = plain_text(await say(env, "/list"))
    btc_line = next(line for line in text.splitlines() if line.startswith(f"#{btc.id} "))
    eth_line = next(line for line in text.splitlines() if line.startswith(f"#{eth.id} "))
    assert "fired 2×" in btc_line and "armed" in eth_line


async def test_chart_marks_time_without_data_as_missing(env: Env) -> None:
    hatched = "Hatched grey: no data (sources down, or the bot not running), not zero."
    minute = T // 60_000 * 60_000
    await env.db.upsert_buckets([BucketRow(minute - 10 * 60_000, "BTC", "binance", 1 * M, 0)])
    # the store starts 10 minutes ago: the 50 minutes before are not a calm market
    assert hatched in (await say(env, "/chart btc 1h")).lines
    # with an hour of history, a recorded outage of the only source is hatched too
    await env.db.upsert_buckets([BucketRow(minute - 3 * 3600_000, "BTC", "binance", 1 * M, 0)])
    assert hatched not in (await say(env, "/chart btc 1h")).lines
    await env.db.record_gap("binance", T - 40 * 60_000, T - 20 * 60_000)
    assert hatched in (await say(env, "/chart btc 1h")).lines


async def test_chart_hatches_a_stream_outage_even_while_coinglass_is_up(env: Env) -> None:
    """CoinGlass serves window totals, never the minute buckets a chart draws: its being up
    must not turn the streams' outage into a calm stretch of the chart."""
    hatched = "Hatched grey: no data (sources down, or the bot not running), not zero."
    minute = T // 60_000 * 60_000
    await env.db.upsert_buckets([BucketRow(minute - 3 * 3600_000, "BTC", "binance", 1 * M, 0)])
    await env.db.upsert_buckets([BucketRow(minute, "BTC", "binance", 1 * M, 0)])
    env.market.statuses = [
        SourceStatus("binance", "up", T - 60_000, T - 1_000, 42),
        SourceStatus("coinglass", "up", T - 4 * 3600_000, T - 30_000, 9),
    ]
    await env.db.record_gap("binance", T - 40 * 60_000, T - 20 * 60_000)
    assert hatched in (await say(env, "/chart btc 1h")).lines


async def test_a_huge_number_is_just_not_this_chats(env: Env) -> None:
    msg = await say(env, "/unsubscribe 99999999999999999999999")
    assert msg.lines == ("Not found in this chat: #99999999999999999999999. Yours: none.",)


async def test_chart_reads_in_the_chats_zone_and_language(env: Env) -> None:
    """Issue 19 items 3 and 4: the chart's caption and its picture's time axis are in the
    chat's /tz (with its abbreviation), its words in the chat's /lang."""
    from bot.domain.chart import build_series, for_chat
    from bot.locale import get_lang

    await _buckets(env)
    await say(env, "/tz Asia/Tokyo")
    tokyo = await say(env, "/chart btc 1h")
    assert tokyo.title == "BTC liquidations, last 1h (JST)"
    up_to = next(x for x in tokyo.lines if x.startswith("Up to "))
    assert "JST" in up_to and "UTC" not in up_to
    await say(env, "/lang ru")
    ru = await say(env, "/chart btc 1h")
    assert ru.title == "Ликвидации BTC за последние 1h (JST)"
    # the picture: its axis in the zone, its legend in the language (Chinese: English, no font)
    series = build_series([(T - 60_000, 1e6, 2e6)], "BTC", 60, T)
    zone = ZoneInfo("Europe/Berlin")
    drawn = for_chat(series, get_lang("ru"), zone, T)
    assert drawn.zone == "Europe/Berlin" and drawn.title.endswith("(CET)")
    assert drawn.legend[:2] == ("Лонги", "Шорты") and drawn.subtitle.startswith("Всего $3.00M")
    assert for_chat(series, get_lang("zh"), None, T).legend[0] == "Longs"
    assert render_png(drawn) != render_png(for_chat(series, get_lang("en"), None, T))
