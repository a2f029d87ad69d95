"""Webhook mode: setWebhook at start, updates POSTed to our listener, secret token checked."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import aiohttp

from bot.chat.service import CommandService, ServiceSettings
from bot.chat.telegram_bot import TelegramBot, WebhookSettings
from bot.domain.rules import Policy, RuleBook
from bot.store import Database
from tests.fakes.telegram_api import BOT_USERNAME, FakeTelegram
from tests.telegram.harness import FAST, make_market


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_mode_receives_updates(tmp_path: Path, fake: FakeTelegram) -> None:
    from bot.clock import Clock

    db = await Database.open(tmp_path / "bot.db")
    clock = Clock()
    service = CommandService(
        db,
        make_market(clock),
        RuleBook(Policy()),
        ServiceSettings(bot_username=BOT_USERNAME),
        clock.now_ms,
    )
    port = _free_port()
    hook = WebhookSettings(
        url="https://bot.example.com/tg",
        listen="127.0.0.1",
        port=port,
        path="tg",
        secret_token="s3",
    )
    bot = TelegramBot(
        fake.token,
        service,
        db,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        mode="webhook",
        webhook=hook,
        limits=FAST,
    )
    await bot.start()
    try:
        assert fake.webhook is not None
        assert fake.webhook["url"] == "https://bot.example.com/tg"
        assert fake.webhook["secret_token"] == "s3"
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 5, "type": "private", "first_name": "u"},
                "from": {"id": 5, "is_bot": False, "first_name": "u"},
                "text": "/help",
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }
        url = f"http://127.0.0.1:{port}/tg"
        async with aiohttp.ClientSession() as http:
            # Without Telegram's secret header the update is refused and never handled.
            async with http.post(url, data=json.dumps(update), headers=_json()) as r:
                assert r.status == 403
            headers = {**_json(), "X-Telegram-Bot-Api-Secret-Token": "s3"}
            async with http.post(url, data=json.dumps(update), headers=headers) as r:
                assert r.status == 200
        await fake.wait_sent(1, 5)
        assert "commands" in fake.texts(5)[0]
        assert len(fake.texts(5)) == 1
    finally:
        await bot.stop()
        await db.close()


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}
