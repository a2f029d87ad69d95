"""Paid broadcasts: outbox sends carry allow_paid_broadcast and are paced at the paid rate;
command replies stay free. The real telegram.Bot against the fake enforcing both limits."""

from __future__ import annotations

import asyncio

from telegram import Bot

from bot.chat.telegram_bot import TelegramBot
from bot.chat.telegram_limits import TelegramLimits
from bot.chat.telegram_sender import TelegramSender
from bot.config import parse_config
from bot.domain.message import Message
from bot.runtime.delivery import Outcome
from tests.fakes.telegram_api import FakeLimits, FakeTelegram


async def test_outbox_sends_are_paid_broadcasts_and_replies_are_not(
    fake: FakeTelegram, tg_bot: Bot
) -> None:
    fake.limits = FakeLimits(global_per_s=30, paid_per_s=1000)
    sender = TelegramSender(tg_bot, TelegramLimits(global_per_s=29, paid_per_s=970))
    # 60 alerts to 60 chats: twice the free per-second limit, far inside the paid one
    outs = await asyncio.gather(
        *(sender.send(f"telegram:{i}", Message("alert")) for i in range(1, 61))
    )
    assert all(o.outcome is Outcome.SENT for o in outs)
    await sender.send_message(500, Message("reply"), priority=True)
    assert fake.rejected_429 == 0
    by_chat = {s.chat_id: s.params for s in fake.sent}
    assert all(by_chat[i].get("allow_paid_broadcast") is True for i in range(1, 61))
    assert "allow_paid_broadcast" not in by_chat[500]
    assert fake.paid_sent == 60


async def test_free_sends_are_not_paid(fake: FakeTelegram, tg_bot: Bot) -> None:
    sender = TelegramSender(tg_bot, TelegramLimits(global_per_s=0))
    assert (await sender.send("telegram:1", Message("alert"))).outcome is Outcome.SENT
    assert "allow_paid_broadcast" not in fake.sent[0].params and fake.paid_sent == 0


def test_the_config_switch_is_off_by_default_and_sets_the_paid_pace() -> None:
    off = TelegramBot.from_config(parse_config({}).telegram, "1:x", None, None)
    assert off.sender.limiter.paid is False
    cfg = parse_config({"telegram": {"paid_broadcast": True}}).telegram
    on = TelegramBot.from_config(cfg, "1:x", None, None)
    assert on.sender.limiter.paid is True
    assert on.sender.limiter.limits.paid_per_s == 1000 * 0.97
