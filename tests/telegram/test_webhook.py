"""Webhook mode: setWebhook at start, updates POSTed to our listener, secret token checked."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import aiohttp

from bot.config import Secrets
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import make_stack, stack_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_mode_receives_updates(tmp_path: Path, fake: FakeTelegram) -> None:
    port = _free_port()
    webhook = {"url": "https://bot.example.com/tg", "listen": "127.0.0.1", "port": port}
    config = stack_config(tmp_path, fake, mode="webhook", webhook={**webhook, "path": "tg"})
    secrets = Secrets(telegram_token=fake.token, telegram_webhook_secret="s3")
    stack = await make_stack(tmp_path, fake, config=config, secrets=secrets)
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
        await stack.close()


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}
