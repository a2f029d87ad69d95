"""Quiet hours through the real PTB client against the fake Bot API: /quiet in a window gives
disable_notification=true on the wire, outside it false, a chat without quiet hours says
nothing; 'except big' lets an escalation ring; /quiet shows and /quiet off clears; admins only
in groups; bad input gets its usage; the setting survives a restart (it is in the store)."""

from __future__ import annotations

import datetime as dtm
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.domain.models import Liquidation, Side
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.telegram.harness import Stack, make_stack

BERLIN = ZoneInfo("Europe/Berlin")
GROUP, ADMIN, MEMBER = -1001600, 77, 78


@pytest.fixture
async def stack(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[Stack]:
    fake.members[GROUP][ADMIN] = "administrator"
    st = await make_stack(tmp_path, fake)
    yield st
    await st.close()


def window(stack: Stack, start_h: int, end_h: int) -> str:
    """A local window (Berlin) from `start_h` to `end_h` hours from now, as /quiet takes it."""
    now = dtm.datetime.fromtimestamp(stack.clock.now_ms() / 1000, BERLIN)
    minute = now.hour * 60 + now.minute

    def at(h: int) -> str:
        m = (minute + 60 * h) % 1440
        return f"{m // 60:02d}:{m % 60:02d}"

    return f"{at(start_h)}-{at(end_h)}"


def liquidate(stack: Stack, usd: float) -> None:
    now = stack.clock.now_ms()
    stack.market.events(
        "binance", [Liquidation("binance", "BTC", Side.LONG, usd, now - 1000, "BTCUSDT")]
    )


async def alert_round(stack: Stack, usd: float, chats: int) -> dict[int | str, Sent]:
    """A liquidation, a tick, a drain: each chat's alert as the fake received it."""
    before = len(stack.fake.sent)
    liquidate(stack, usd)
    assert await stack.rt.engine.tick() == chats
    assert (await stack.rt.delivery.drain()).sent == chats
    return {s.chat_id: s for s in stack.fake.sent[before:]}


async def test_quiet_in_the_window_silent_outside_loud_none_unsaid(stack: Stack) -> None:
    for chat in (601, 602, 603, 604):
        assert "Time zone" in await stack.ask(chat, "/tz Europe/Berlin")
    inside = await stack.ask(601, f"/quiet {window(stack, -1, 1)}")
    assert "without sound" in inside and "quiet now" in inside and "Europe/Berlin" in inside
    outside = await stack.ask(602, f"/quiet {window(stack, 2, 3)}")
    assert "not quiet now" in outside
    big = await stack.ask(604, f"/quiet {window(stack, -1, 1)} except big")
    assert "Escalations and single liquidations still ring" in big
    for chat in (601, 602, 603, 604):
        await stack.ask(chat, "/subscribe btc 1h 100m")

    fired = await alert_round(stack, 150_000_000.0, 4)
    assert "Liquidation alert" in fired[601].text
    assert fired[601].params["disable_notification"] is True  # in the window
    assert fired[602].params["disable_notification"] is False  # outside it
    assert "disable_notification" not in fired[603].params  # no quiet hours: unsaid
    assert fired[604].params["disable_notification"] is True  # a first alert is not big

    escalated = await alert_round(stack, 100_000_000.0, 4)  # 250m: past 2 x 100m
    assert "your threshold" in escalated[604].text and "escalation" in escalated[604].text
    assert escalated[604].params["disable_notification"] is False  # except big: it rings
    assert escalated[601].params["disable_notification"] is True  # no except: still quiet


async def test_quiet_shows_clears_and_answers_bad_input(stack: Stack) -> None:
    assert "No quiet hours" in await stack.ask(611, "/quiet")
    assert "23:00 to 07:00 (UTC)" in await stack.ask(611, "/quiet 23:00-07:00")
    shown = await stack.ask(611, "/quiet")
    assert "arrive without sound from 23:00 to 07:00" in shown
    assert "Quiet hours are off" in await stack.ask(611, "/quiet off")
    assert "No quiet hours" in await stack.ask(611, "/quiet")
    bad = await stack.ask(611, "/quiet 25:00-07:00")
    assert "not a quiet window" in bad and "/quiet 23:00-07:00 except big" in bad
    assert "only 'except big'" in await stack.ask(611, "/quiet 23:00-07:00 except small")
    assert "same time" in await stack.ask(611, "/quiet 07:00-07:00")
    await stack.ask(611, "/subscribe btc 1h 100m")
    sent = await alert_round(stack, 150_000_000.0, 1)
    assert "disable_notification" not in sent[611].params  # cleared: nothing said


async def test_quiet_is_for_a_groups_admins(stack: Stack) -> None:
    kw = {"chat_type": "supergroup"}
    refused = await stack.ask(GROUP, "/quiet 23:00-07:00", user_id=MEMBER, **kw)
    assert "admins" in refused
    assert await stack.db.chat_quiet(f"telegram:{GROUP}") is None
    assert "No quiet hours" in await stack.ask(GROUP, "/quiet", user_id=MEMBER, **kw)  # showing
    assert "without sound" in await stack.ask(GROUP, "/quiet 23:00-07:00", user_id=ADMIN, **kw)
    assert await stack.db.chat_quiet(f"telegram:{GROUP}") == "23:00-07:00"
    assert "admins" in await stack.ask(GROUP, "/quiet off", user_id=MEMBER, **kw)
    assert await stack.db.chat_quiet(f"telegram:{GROUP}") == "23:00-07:00"


async def test_quiet_hours_survive_a_restart(tmp_path: Path, fake: FakeTelegram) -> None:
    first = await make_stack(tmp_path, fake)
    try:
        await first.ask(621, "/tz Europe/Berlin")
        await first.ask(621, f"/quiet {window(first, -1, 1)} except big")
        await first.ask(621, "/subscribe btc 1h 100m")
    finally:
        await first.close()
    second = await make_stack(tmp_path, fake)
    try:
        shown = await second.ask(621, "/quiet")
        assert "without sound" in shown and "Escalations" in shown and "quiet now" in shown
        sent = await alert_round(second, 150_000_000.0, 1)
        assert sent[621].params["disable_notification"] is True
    finally:
        await second.close()


async def test_a_single_liquidation_past_the_bar_is_big(stack: Stack) -> None:
    """A single-liquidation alert (one order past the chat's own bar) rings with 'except big'
    and stays quiet without it."""
    await stack.ask(631, f"/quiet {window(stack, -1, 1)} except big")
    await stack.ask(632, f"/quiet {window(stack, -1, 1)}")
    for chat in (631, 632):
        assert "each single BTC liquidation" in await stack.ask(chat, "/subscribe btc single 10m")
    sent = await alert_round(stack, 20_000_000.0, 2)
    assert "Big liquidation" in sent[631].text
    assert sent[631].params["disable_notification"] is False
    assert sent[632].params["disable_notification"] is True
