"""Buttons under alerts, platform-neutral: the signed tokens, the key kept in the store, and a
press run through the one CommandService (the platform tests drive the real clients)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat.alert_buttons import (
    ACTIONS,
    KEY_SETTING,
    NOTICE_GONE,
    NOTICE_INVALID,
    ButtonSigner,
    command_line,
)
from bot.chat.context import ChatContext
from bot.chat.service import CommandService, ServiceSettings
from bot.domain.message import Message, plain_text
from bot.domain.models import Side
from bot.domain.rules import RuleBook
from bot.runtime.engine import outbox_items
from bot.store import Database
from tests.chat.test_service import Admin, Clock, FakeMarket, group, private

HOUR_MS = 3_600_000


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    d = await Database.open(tmp_path / "bot.db")
    try:
        yield d
    finally:
        await d.close()


async def service_on(db: Database) -> CommandService:
    s = CommandService(db, FakeMarket(), RuleBook(), ServiceSettings(), Clock())
    s.buttons = await ButtonSigner.load(db)
    return s


def token(s: CommandService, label: str, sub_id: int) -> str:
    assert s.buttons is not None
    return dict(s.buttons.buttons(sub_id))[label]


async def test_the_key_is_made_once_and_kept(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "k.db")
    first = await ButtonSigner.load(db)
    key = await db.get_setting(KEY_SETTING)
    await db.close()
    db = await Database.open(tmp_path / "k.db")
    try:
        again = await ButtonSigner.load(db)
        assert await db.get_setting(KEY_SETTING) == key and key is not None
        t = first.token(ACTIONS[2], 77)
        assert again.parse(t) == (ACTIONS[2], 77)
    finally:
        await db.close()
    other = ButtonSigner(b"x" * 32)
    assert other.parse(first.token(ACTIONS[0], 77)) is None  # another key: not ours


def test_tokens_fit_and_edits_are_refused() -> None:
    s = ButtonSigner(bytes(range(32)))
    for a in ACTIONS:
        t = s.token(a, 10**12)
        assert len(t.encode()) <= 64 and s.parse(t) == (a, 10**12)
    t = s.token(ACTIONS[0], 5)
    p, code, sub, sig = t.split(".")
    for bad in (
        f"{p}.{code}.6.{sig}",
        f"{p}.u.{sub}.{sig}",
        f"lq2.{code}.{sub}.{sig}",
        f"{p}.{code}.{sub}.{sig[:-1]}",
        f"{t}.x",
        "",
        "5",
    ):
        assert s.parse(bad) is None, bad


async def test_press_runs_the_typed_command(db: Database) -> None:
    s = await service_on(db)
    await db.ensure_chat("telegram:1", "private")
    sub = await db.add_subscription("telegram:1", "BTC", 60, Side.TOTAL, 1e8, Clock()())
    assert [command_line(a, sub) for a in ACTIONS] == [
        "/mute btc 1h",
        "/mute btc 24h",
        "/unsubscribe 1",
        "/chart btc",
        "/liqs btc",
    ]
    got = await s.press_button(private(), token(s, "Mute 1h", sub.id))
    assert got.notice == "Muted" and not got.show_alert
    typed = await s.handle_text(private("telegram:2"), "/mute btc 1h")
    assert [plain_text(m) for m in got.reply.messages] == [plain_text(m) for m in typed.messages]
    assert (await db.active_mutes(Clock()()))["telegram:1"]["BTC"] == Clock()() + HOUR_MS


async def test_group_press_needs_an_admin_and_a_known_rule(db: Database) -> None:
    s = await service_on(db)
    key = "telegram:-100"
    await db.ensure_chat(key, "group")
    sub = await db.add_subscription(key, "ETH", 60, Side.TOTAL, 1e8, Clock()())
    no = Admin(False)
    got = await s.press_button(group(no), token(s, "Unsubscribe", sub.id))
    assert got.show_alert and "ask a group admin" in got.notice and not got.reply.messages
    assert no.asked == 1 and len(await db.list_subscriptions(key)) == 1
    looked = await s.press_button(group(no), token(s, "Details", sub.id))
    assert looked.notice == "Liquidations: ETH" and looked.reply.messages
    yes = Admin(True)
    got = await s.press_button(group(yes), token(s, "Unsubscribe", sub.id))
    assert not got.show_alert and await db.list_subscriptions(key) == []
    gone = await s.press_button(group(yes), token(s, "Mute 24h", sub.id))
    assert gone.notice == NOTICE_GONE and gone.show_alert and not gone.reply.messages
    forged = await s.press_button(group(yes), "lq1.m.1.AAAAAAAAAAAAAAAA")
    assert forged.notice == NOTICE_INVALID and forged.show_alert


async def test_without_a_signer_every_press_is_refused(db: Database) -> None:
    s = CommandService(db, FakeMarket(), RuleBook(), ServiceSettings(), Clock())
    got = await s.press_button(ChatContext("telegram:1", "telegram"), "lq1.m.1.x")
    assert got.notice == NOTICE_INVALID


def test_only_chat_platforms_carry_buttons_and_the_text_is_unchanged() -> None:
    from bot.domain.models import Alert, AlertKind, Subscription
    from bot.domain.render_alerts import AlertContext, render_alerts

    def alert(chat: str, sub_id: int) -> Alert:
        sub = Subscription(sub_id, chat, "BTC", 60, Side.TOTAL, 1e8, 0, number=1)
        return Alert(sub, AlertKind.FIRED, 1.5e8, 1, 1, 0, 1.5e8, 0.0, (), ("binance",))

    chats = ["console:local", "telegram:5", "discord:channel:9", "webhook:ops"]
    by_chat = {c: [alert(c, i)] for i, c in enumerate(chats, 1)}
    items = {i.chat_key: i.message for i in outbox_items(by_chat, 0, AlertContext())}
    assert items["console:local"].buttons is None and items["webhook:ops"].buttons is None
    assert items["telegram:5"].buttons == 2 and items["discord:channel:9"].buttons == 3
    for c in chats:
        bare: Message = render_alerts(by_chat[c], AlertContext())
        assert plain_text(items[c]) == plain_text(bare)
        assert "button" not in plain_text(items[c]).lower()
