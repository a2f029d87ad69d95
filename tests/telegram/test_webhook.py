"""Webhook mode through the service's one HTTP server (PTB's custom-server pattern): setWebhook
with the secret at start, updates POSTed to our port answered, a wrong secret refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.config import ConfigError, Secrets, parse_config
from bot.runtime import app
from tests.fakes.telegram_api import FakeTelegram
from tests.offline import sources_off

HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _config(tmp_path: Path, fake: FakeTelegram, port: int | None = 0):
    return parse_config(
        {
            "storage": {"path": str(tmp_path / "wh.sqlite3")},
            "telegram": {
                "base_url": fake.base_url,
                "base_file_url": fake.base_file_url,
                "mode": "webhook",
                "webhook": {"url": "https://bot.example.com/tg", "path": "tg"},
            },
            "sources": sources_off(),
            "http": {"host": "127.0.0.1", "port": port},
        }
    )


def _update(uid: int, chat: int, text: str) -> dict:
    return {
        "update_id": uid,
        "message": {
            "message_id": uid,
            "date": 0,
            "chat": {"id": chat, "type": "private", "first_name": "u"},
            "from": {"id": chat, "is_bot": False, "first_name": "u"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


@pytest.fixture
async def running(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[app.Runtime]:
    rt = await app.build(
        _config(tmp_path, fake), Secrets(telegram_token=fake.token, telegram_webhook_secret="s3")
    )
    await app.start(rt)
    try:
        yield rt
    finally:
        await app.stop(rt)


async def test_updates_through_the_one_port_and_the_secret_checked(
    running: app.Runtime, fake: FakeTelegram
) -> None:
    assert fake.webhook is not None  # setWebhook at start, with our secret
    assert fake.webhook["url"] == "https://bot.example.com/tg"
    assert fake.webhook["secret_token"] == "s3"
    assert not any(m == "getUpdates" for m, _ in fake.calls)  # no polling, no Updater
    assert running.ops is not None and running.ops.http is not None
    base = f"http://127.0.0.1:{running.ops.http.port}"
    good = {"Content-Type": "application/json", HEADER: "s3"}
    async with aiohttp.ClientSession() as http:
        body = json.dumps(_update(1, 5, "/help"))
        # no header, a wrong one: refused and never handled
        async with http.post(f"{base}/tg", data=body) as r:
            assert r.status == 403
        async with http.post(f"{base}/tg", data=body, headers={**good, HEADER: "s4"}) as r:
            assert r.status == 403
        async with http.post(f"{base}/tg", data="{not json", headers=good) as r:
            assert r.status == 400
        # an update PTB cannot parse is acknowledged (or Telegram resends it forever), dropped
        async with http.post(
            f"{base}/tg", data='{"update_id": 2, "message": 7}', headers=good
        ) as r:
            assert r.status == 200
        async with http.post(f"{base}/tg", data=body, headers=good) as r:
            assert r.status == 200
        await fake.wait_sent(1, 5)
        assert "commands" in fake.texts(5)[0]
        async with http.post(
            f"{base}/tg", data=json.dumps(_update(3, 5, "/subscribe btc 1h 100m")), headers=good
        ) as r:
            assert r.status == 200
        await fake.wait_sent(2, 5)
        assert "Subscribed" in fake.texts(5)[1]
        # the same port serves the operator's endpoints
        async with http.get(f"{base}/healthz") as r:
            assert r.status == 200
        async with http.get(f"{base}/metrics") as r:
            text = await r.text()
    assert len(fake.texts(5)) == 2  # the refused posts were never answered
    assert "liqbot_command_seconds_count 2.0" in text


async def test_without_a_configured_secret_a_random_one_guards_the_hook(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    rt = await app.build(_config(tmp_path, fake), Secrets(telegram_token=fake.token))
    await app.start(rt)
    try:
        assert fake.webhook is not None
        secret = fake.webhook["secret_token"]
        assert len(secret) >= 32
        assert rt.ops is not None and rt.ops.http is not None
        url = f"http://127.0.0.1:{rt.ops.http.port}/tg"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=json.dumps(_update(1, 6, "/help"))) as r:
                assert r.status == 403
            async with http.post(
                url, data=json.dumps(_update(2, 6, "/help")), headers={HEADER: secret}
            ) as r:
                assert r.status == 200
        await fake.wait_sent(1, 6)
    finally:
        await app.stop(rt)


async def test_webhook_mode_without_a_port_is_a_config_error(
    tmp_path: Path, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PORT", raising=False)
    with pytest.raises(ConfigError, match=r"http\.port or \$PORT"):
        await app.build(_config(tmp_path, fake, port=None), Secrets(telegram_token=fake.token))
