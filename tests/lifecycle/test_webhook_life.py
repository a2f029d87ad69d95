"""Webhooks in the service's whole life: `python -m bot run` as a child process, its secret in a
LIQBOT_-named variable, a wave on a fake Binance, the alert POSTed signed to a receiver on
127.0.0.1 that first answers 500 (retried) and then takes it. SIGTERM ends it cleanly; the log
never shows the URL's token nor the secret."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.exchanges import FakeVenue, binance_frame
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.lifecycle.process import ServiceProcess
from tests.offline import sources_off

SECRET = "lifecycle-webhook-secret-0123"
URL_TOKEN = "tok-in-the-url-4567"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    r = await WebhookReceiver().start()
    yield r
    await r.stop()


async def test_a_wave_reaches_the_webhook_signed_after_a_500(
    tmp_path: Path, binance: FakeVenue, receiver: WebhookReceiver
) -> None:
    receiver.script["desk"].append(500)
    config = {
        "storage": {"path": str(tmp_path / "liqbot.sqlite3")},
        "sources": sources_off(binance={"url": binance.ws_url, "rest_url": binance.base}),
        "console": {"enabled": "off"},
        "alerts": {"tick": 1, "debounce": 0},
        "webhooks": [
            {
                "name": "desk",
                "url": receiver.url("desk") + f"?token={URL_TOKEN}",
                "rule": "eth 5m 1.2m longs",  # only the third frame crosses it
                "secret_env": "LIQBOT_WEBHOOK_SECRET_DESK",
            }
        ],
        "logging": {"level": "INFO"},
    }
    svc = ServiceProcess(tmp_path, config, {"LIQBOT_WEBHOOK_SECRET_DESK": SECRET})
    try:
        await svc.start()
        conn = await asyncio.wait_for(binance.connection(0), 30)
        now = svc.now_ms()
        for _ in range(3):
            await conn.send(binance_frame("ETHUSDT", "SELL", 1.0, 500_000.0, now))
        got = await receiver.wait_for(2, "desk", timeout=60)  # the 500, then the retry
        assert await svc.terminate() == 0
    finally:
        await svc.close()
    assert got[0].body == got[1].body and all(r.signed_by(SECRET) for r in got)
    (alert,) = got[1].json["alerts"]
    assert (alert["coin"], alert["window"], alert["side"], alert["value"]) == (
        "ETH",
        "5m",
        "long",
        1_500_000.0,
    )
    log = svc.log_text()
    assert "Traceback" not in log and URL_TOKEN not in log and SECRET not in log
