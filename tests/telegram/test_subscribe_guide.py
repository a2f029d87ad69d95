"""The guided /subscribe through the real client: `/subscribe` alone -> PTB -> CommandService ->
a message with an inline keyboard at the fake Bot API; each press a callback_query back through
PTB, answered (answerCallbackQuery) and the message edited in place (editMessageText); the last
runs the typed line, whose confirmation and backtest are the typed form's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.chat.guide_buttons import NOTICE_INVALID
from bot.domain.models import Side
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.telegram.harness import Stack, make_stack

PATH = ("BTC", "1h", "$10M", "Longs")


@pytest.fixture
async def stack(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[Stack]:
    st = await make_stack(tmp_path, fake)
    yield st
    await st.close()


def labels(sent: Sent) -> list[list[str]]:
    rows = (sent.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [[b["text"] for b in row] for row in rows]


def tokens(sent: Sent) -> list[str]:
    rows = (sent.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row]


async def open_guide(stack: Stack, chat_id: int, **kw: Any) -> Sent:
    await stack.ask(chat_id, "/subscribe", **kw)
    return [s for s in stack.fake.sent if s.chat_id == chat_id][-1]


async def press(
    stack: Stack, sent: Sent, label: str, **kw: Any
) -> tuple[dict[str, Any], list[str]]:
    """Press a button of the guide's message; the answer and the new messages in that chat."""
    fake = stack.fake
    answers = len(fake.answers)
    before = len(fake.texts(sent.chat_id))
    fake.press(sent, label, **kw)
    await fake.wait_answers(answers + 1)
    await stack.settle()
    return fake.answers[-1], fake.texts(sent.chat_id)[before:]


async def test_the_guided_form_edits_in_place_and_ends_as_the_typed_command(stack: Stack) -> None:
    guide = await open_guide(stack, 21)
    assert guide.text.startswith("<b>New alert</b>") and "Which coin?" in guide.text
    assert labels(guide)[0][:2] == ["BTC", "ETH"]  # the most liquidated of the day first
    assert labels(guide)[-1] == ["Cancel"] and labels(guide)[-2][-1] == "All coins"
    seen = set(tokens(guide))
    edits = len(stack.fake.edits)
    for label in PATH:
        answer, new = await press(stack, guide, label)
        assert new == [] and not answer.get("show_alert"), label  # edited, nothing sent
        assert all(len(t.encode()) < 64 for t in tokens(guide))
        seen |= set(tokens(guide))
    assert len(stack.fake.edits) == edits + len(PATH)
    assert "This will run: /subscribe btc 1h 10m longs" in guide.text
    assert labels(guide) == [["Subscribe"], ["« Back", "Cancel"]]
    assert all(t.startswith("lg1.") for t in seen)

    answer, new = await press(stack, guide, "Subscribe")
    assert answer["text"] == "Subscribed" and not answer.get("show_alert")
    assert "Ran: /subscribe btc 1h 10m longs" in guide.text and labels(guide) == []
    (sub,) = await stack.db.list_subscriptions("telegram:21")
    assert (sub.coin, sub.window, sub.side, sub.threshold) == ("BTC", 60, Side.LONG, 10e6)
    typed = await stack.ask(22, "/subscribe btc 1h 10m longs")
    assert "\n".join(new) == typed  # the same confirmation and backtest, word for word
    assert "Subscribed" in typed

    # the Subscribe button again: the typed form's duplicate answer, nothing added
    (answer, new) = await press(stack, guide, "", data=seen_subscribe(seen))
    assert len(await stack.db.list_subscriptions("telegram:21")) == 1
    assert new and "already" in new[0].lower()


def seen_subscribe(seen: set[str]) -> str:
    (token,) = [t for t in seen if t.startswith("lg1.y")]
    return token


async def test_back_and_cancel(stack: Stack) -> None:
    guide = await open_guide(stack, 23)
    await press(stack, guide, "ETH")
    await press(stack, guide, "4h")
    assert "So far: ETH · 4h" in guide.text
    await press(stack, guide, "« Back")
    assert "Over which rolling window" in guide.text and "So far: ETH" in guide.text
    await press(stack, guide, "« Back")
    assert "Which coin?" in guide.text
    answer, new = await press(stack, guide, "Cancel")
    assert answer["text"] == "Cancelled" and new == []
    assert "Cancelled" in guide.text and labels(guide) == []
    assert await stack.db.list_subscriptions("telegram:23") == []


async def test_in_a_group_only_admins_open_steer_and_finish_it(stack: Stack) -> None:
    chat = -1_000_21
    refused = await stack.ask(chat, "/subscribe", user_id=61, chat_type="supergroup")
    assert "Not allowed" in refused  # as the typed /subscribe
    stack.fake.members[chat][62] = "administrator"
    guide = await open_guide(stack, chat, user_id=62, chat_type="supergroup")
    for label in PATH[:3]:
        await press(stack, guide, label, user_id=62)
    before = guide.text
    answer, new = await press(stack, guide, "Longs", user_id=61)  # a member: refused
    assert answer["show_alert"] is True and "admins" in answer["text"] and new == []
    assert guide.text == before
    await press(stack, guide, "Longs", user_id=62)
    answer, new = await press(stack, guide, "Subscribe", user_id=61)
    assert answer["show_alert"] is True and "admins" in answer["text"] and new == []
    assert await stack.db.list_subscriptions(f"telegram:{chat}") == []
    answer, new = await press(stack, guide, "Subscribe", user_id=62)
    assert answer["text"] == "Subscribed" and len(new) == 1
    assert len(await stack.db.list_subscriptions(f"telegram:{chat}")) == 1


async def test_a_forged_token_is_refused(stack: Stack) -> None:
    guide = await open_guide(stack, 24)
    for label in PATH:
        await press(stack, guide, label)
    real = seen_subscribe(set(tokens(guide)))
    body, sig = real.rsplit(".", 1)
    for data in (
        f"{body.replace('BTC', 'ETH')}.{sig}",  # another coin, the same signature
        f"{body[:-1]}s.{sig}",  # another side
        f"{body}.{'A' * len(sig)}",
        "lg1.yBTC_3cl",
    ):
        answer, new = await press(stack, guide, "", data=data)
        assert answer["text"] == NOTICE_INVALID and answer["show_alert"] is True, data
        assert new == []
    assert await stack.db.list_subscriptions("telegram:24") == []


async def test_a_guide_goes_on_after_a_restart(tmp_path: Path, fake: FakeTelegram) -> None:
    first = await make_stack(tmp_path, fake)
    try:
        guide = await open_guide(first, 25)
        for label in PATH[:2]:
            await press(first, guide, label)
    finally:
        await first.close()
    second = await make_stack(tmp_path, fake)  # a new process on the same SQLite file
    try:
        for label in PATH[2:]:
            answer, _ = await press(second, guide, label)
            assert not answer.get("show_alert"), answer
        answer, new = await press(second, guide, "Subscribe")
        assert answer["text"] == "Subscribed" and new
        (sub,) = await second.db.list_subscriptions("telegram:25")
        assert (sub.coin, sub.window, sub.threshold) == ("BTC", 60, 10e6)
    finally:
        await second.close()
