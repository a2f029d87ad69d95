"""Fixtures: the fake Bot API server on 127.0.0.1 and real python-telegram-bot clients on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from bot.chat.telegram_bot import SEND_CONNECTIONS
from bot.chat.telegram_wire import AiohttpRequest
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def tg_bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    """A real telegram.Bot talking to the fake (what TelegramSender drives), on the request
    backend TelegramBot gives it (bot/chat/telegram_wire.py)."""
    bot = Bot(
        fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        request=AiohttpRequest(connections=SEND_CONNECTIONS),
    )
    await bot.initialize()
    yield bot
    await bot.shutdown()
