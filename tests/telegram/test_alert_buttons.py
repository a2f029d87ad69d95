"""Buttons under alerts, through the real path: Engine -> outbox -> Delivery -> TelegramSender ->
real PTB client -> fake Bot API (reply_markup recorded), then a callback_query update back
through PTB -> TelegramBot -> CommandService.press_button (answerCallbackQuery recorded)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat.alert_buttons import KEY_SETTING, NOTICE_GONE, NOTICE_INVALID
from bot.chat.telegram_render import render_html
from bot.domain.message import Message
from bot.domain.models import Liquidation, Side
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.telegram.harness import DB_NAME, Stack, make_stack

THRESHOLD = 100_000_000.0
LABELS = [["Mute 1h", "Mute 24h", "Unsubscribe"], ["Chart", "Details"]]
HOUR_MS = 3_600_000


@pytest.fixture
async def stack(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[Stack]:
    st = await make_stack(tmp_path, fake)
    yield st
    await st.close()


async def alert_in(stack: Stack, chat_id: int, kind: str = "private") -> Sent:
    """Subscribe `chat_id` to BTC 1h, make a wave cross it and deliver the alert."""
    key = f"telegram:{chat_id}"
    now = stack.service.clock()
    await stack.db.ensure_chat(key, kind)
    sub = await stack.db.add_subscription(key, "BTC", 60, Side.TOTAL, THRESHOLD, now)
    stack.book.add(sub)
    stack.market.events(
        "binance", [Liquidation("binance", "BTC", Side.LONG, 150_000_000.0, now - 1000, "BTCUSDT")]
    )
    assert await stack.rt.engine.tick() == 1
    before = len(stack.fake.texts(chat_id))
    assert (await stack.rt.delivery.drain()).sent == 1
    sent = [s for s in stack.fake.sent if s.chat_id == chat_id]
    assert len(sent) == before + 1
    return sent[-1]


async def press(stack: Stack, sent: Sent, label: str, **kw: object) -> tuple[dict, list[str]]:
    """Press a button; returns the answerCallbackQuery call and what the bot then sent there."""
    fake = stack.fake
    answers = len(fake.answers)
    before = len(fake.texts(sent.chat_id))
    fake.press(sent, label, **kw)  # type: ignore[arg-type]
    await fake.wait_answers(answers + 1)
    await stack.settle()
    return fake.answers[-1], fake.texts(sent.chat_id)[before:]


def outbox_message(path: Path) -> Message:
    with sqlite3.connect(path) as c:
        (raw,) = c.execute("SELECT message FROM outbox ORDER BY id DESC LIMIT 1").fetchone()
    return Message.from_dict(json.loads(raw))


async def test_an_alert_carries_five_signed_buttons_and_the_same_text(
    stack: Stack, tmp_path: Path
) -> None:
    sent = await alert_in(stack, 5)
    rows = sent.params["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in rows] == LABELS
    data = [b["callback_data"] for row in rows for b in row]
    assert len(set(data)) == 5 and all(len(d.encode()) <= 64 for d in data)
    (sub,) = await stack.db.list_subscriptions("telegram:5")
    assert str(sub.id) not in {d.split(".")[-1] for d in data}  # signed, not a bare id
    # the text is exactly the alert's text without buttons
    message = outbox_message(tmp_path / DB_NAME)
    assert message.buttons == sub.id
    assert [sent.text] == render_html(message)
    assert sent.text.startswith("<b>Liquidation alert: BTC 1h</b>")


async def test_mute_1h_and_details_through_the_command_service(stack: Stack) -> None:
    sent = await alert_in(stack, 6)
    answer, replies = await press(stack, sent, "Mute 1h")
    assert answer["text"] == "Muted" and not answer.get("show_alert")
    assert len(replies) == 1 and "Muted" in replies[0]
    now = stack.service.clock()
    until = (await stack.db.active_mutes(now))["telegram:6"]["BTC"]
    assert abs(until - (now + HOUR_MS)) < 60_000

    answer, replies = await press(stack, sent, "Mute 24h")
    until = (await stack.db.active_mutes(now))["telegram:6"]["BTC"]
    assert abs(until - (now + 24 * HOUR_MS)) < 60_000

    answer, replies = await press(stack, sent, "Details")
    typed = await stack.ask(6, "/liqs btc")
    assert answer["text"] == "Details: BTC"
    assert len(replies) == 1 and replies[0].split("\n")[:3] == typed.split("\n")[:3]
    assert "<pre>" in replies[0]


async def test_chart_press_sends_the_chart(stack: Stack) -> None:
    sent = await alert_in(stack, 9)
    calls = len(stack.fake.calls)
    answer, replies = await press(stack, sent, "Chart")
    assert stack.fake.photos(9), "the chart went as a photo"
    assert replies and "BTC" in replies[-1]
    # answered before the chart is drawn: the spinner on the button stops at once
    methods = [m for m, _ in stack.fake.calls[calls:]]
    assert methods.index("answerCallbackQuery") < methods.index("sendPhoto")
    assert answer["text"] == "Chart: BTC"


async def test_unsubscribe_then_a_press_for_the_removed_rule(stack: Stack) -> None:
    sent = await alert_in(stack, 7)
    answer, replies = await press(stack, sent, "Unsubscribe")
    assert not answer.get("show_alert")
    assert await stack.db.list_subscriptions("telegram:7") == []
    assert len(replies) == 1 and "#1" in replies[0]
    for label in ("Mute 1h", "Details"):
        answer, replies = await press(stack, sent, label)
        assert answer["text"] == NOTICE_GONE and answer["show_alert"] is True
        assert replies == []
    assert "telegram:7" not in await stack.db.active_mutes(stack.service.clock())


@pytest.mark.parametrize(("chat_id", "chat_type"), [(-1001, "supergroup"), (-1002, "channel")])
async def test_only_admins_change_rules_in_groups_and_channels(
    stack: Stack, chat_id: int, chat_type: str
) -> None:
    kind = "group" if chat_type == "supergroup" else "channel"
    sent = await alert_in(stack, chat_id, kind)
    key = f"telegram:{chat_id}"
    for label in ("Mute 1h", "Mute 24h", "Unsubscribe"):
        answer, replies = await press(stack, sent, label, user_id=55, chat_type=chat_type)
        assert answer["show_alert"] is True and "admins" in answer["text"]
        assert replies == []
    assert key not in await stack.db.active_mutes(stack.service.clock())
    assert len(await stack.db.list_subscriptions(key)) == 1
    # anyone may look
    answer, replies = await press(stack, sent, "Details", user_id=55, chat_type=chat_type)
    assert answer["text"] == "Details: BTC" and len(replies) == 1
    # an admin may change it
    stack.fake.members[chat_id][56] = "administrator"
    answer, replies = await press(stack, sent, "Mute 1h", user_id=56, chat_type=chat_type)
    assert answer["text"] == "Muted"
    assert "BTC" in (await stack.db.active_mutes(stack.service.clock()))[key]


async def test_a_tampered_or_foreign_token_changes_nothing(stack: Stack) -> None:
    sent = await alert_in(stack, 8)
    (sub,) = await stack.db.list_subscriptions("telegram:8")
    real = sent.params["reply_markup"]["inline_keyboard"][0][2]["callback_data"]  # Unsubscribe
    prefix, action, sub_hex, sig = real.split(".")
    forged = [
        f"{prefix}.{action}.{sub.id + 1:x}.{sig}",  # another rule, same signature
        f"{prefix}.m.{sub_hex}.{sig}",  # another action
        f"{prefix}.{action}.{sub_hex}.{'A' * len(sig)}",
        str(sub.id),
        "lq1.u",
    ]
    for data in forged:
        answer, replies = await press(stack, sent, "", data=data)
        assert answer["text"] == NOTICE_INVALID and answer["show_alert"] is True, data
        assert replies == []
    assert len(await stack.db.list_subscriptions("telegram:8")) == 1
    assert "telegram:8" not in await stack.db.active_mutes(stack.service.clock())


async def test_buttons_work_after_a_restart(tmp_path: Path, fake: FakeTelegram) -> None:
    first = await make_stack(tmp_path, fake)
    try:
        sent = await alert_in(first, 11)
        key = await first.db.get_setting(KEY_SETTING)
    finally:
        await first.close()
    second = await make_stack(tmp_path, fake)  # a new process on the same SQLite file
    try:
        assert await second.db.get_setting(KEY_SETTING) == key
        answer, replies = await press(second, sent, "Unsubscribe")
        assert answer["text"] != NOTICE_INVALID and not answer.get("show_alert")
        assert await second.db.list_subscriptions("telegram:11") == []
        assert len(replies) == 1
    finally:
        await second.close()


async def test_another_chats_press_cannot_reach_the_rule(stack: Stack) -> None:
    sent = await alert_in(stack, 12)
    # the same (genuine) token, pressed in another chat: that chat has no such rule
    elsewhere = Sent(13, sent.text, None, 0.0, sent.message_id, sent.params)
    answer, replies = await press(stack, elsewhere, "Unsubscribe")
    assert answer["text"] == NOTICE_GONE and replies == []
    assert len(await stack.db.list_subscriptions("telegram:12")) == 1


async def test_a_press_under_an_old_alert_still_works(stack: Stack) -> None:
    sent = await alert_in(stack, -1003, "group")
    stack.fake.members[-1003][57] = "creator"
    answer, replies = await press(stack, sent, "Mute 1h", user_id=57, inaccessible=True)
    assert answer["text"] == "Muted" and len(replies) == 1
    assert "BTC" in (await stack.db.active_mutes(stack.service.clock()))["telegram:-1003"]
