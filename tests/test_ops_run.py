"""`python -m bot run` as a subprocess with $PORT set: /healthz, /metrics and the Telegram webhook
on the one port, against a fake Binance and the fake Telegram; evaluation broken for real (another
process holds the SQLite write lock) turns /healthz to 503 with the reason, and back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.exchanges import FakeConn, FakeVenue, binance_frame
from tests.fakes.telegram_api import FakeTelegram
from tests.offline import sources_off

TOKEN = "123456:RUN-test-token"
SECRET = "run-secret"
CHANNEL, USER = -100777, 5
NAMES = {
    "liqbot_events_total",
    "liqbot_source_up",
    "liqbot_reconnects_total",
    "liqbot_evaluation_seconds_count",
    "liqbot_alerts_total",
    "liqbot_outbox_pending",
    "liqbot_deliveries_total",
    "liqbot_command_seconds_count",
    "liqbot_subscriptions",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """The subprocess, its stderr lines collected as they come, and an HTTP client on its port."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc, self.base = proc, f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())
        self.http = aiohttp.ClientSession()

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            async with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip())
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def logged(self, text: str, timeout: float = 30) -> None:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(
                    lambda: any(text in line for line in self.lines) or self._reader.done()
                ),
                timeout,
            )
        assert any(text in line for line in self.lines), "\n".join(self.lines[-30:])

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.base + path) as r:
            return r.status, await r.text()

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, text = await self.get("/metrics")
        assert status == 200
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
        }

    async def healthz_until(self, pred: Callable[[int, dict[str, Any]], bool]) -> dict[str, Any]:
        """The service runs in another process: look again (briefly) until it says so."""
        deadline = time.monotonic() + 40
        while True:
            status, text = await self.get("/healthz")
            body = json.loads(text)
            if pred(status, body):
                return body
            assert time.monotonic() < deadline, (status, body, self.lines[-20:])
            await asyncio.sleep(0.2)


@pytest.fixture
async def binance() -> AsyncIterator[tuple[FakeVenue, asyncio.Queue[dict]]]:
    frames: asyncio.Queue[dict] = asyncio.Queue()

    async def script(conn: FakeConn) -> None:
        while True:
            await conn.send(await frames.get())

    venue = await FakeVenue().start()
    venue.scripts = [script]
    yield venue, frames
    await venue.stop()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def service(tmp_path: Path, binance, telegram: FakeTelegram) -> AsyncIterator[Service]:
    venue, _ = binance
    config = {
        "storage": {"path": str(tmp_path / "run.sqlite3")},
        "telegram": {
            "base_url": telegram.base_url,
            "base_file_url": telegram.base_file_url,
            "mode": "webhook",
            "webhook": {"url": "https://bot.example.com/tg", "path": "tg"},
        },
        "sources": sources_off(binance={"url": venue.ws_url, "rest_url": venue.base}),
        "alerts": {"tick": 1, "debounce": 0},
        "broadcasts": [{"chat": str(CHANNEL), "rule": "btc 1h 1m"}],
        "http": {"host": "127.0.0.1"},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_KEY", "_SECRET"))}
    env |= {"PORT": str(port), "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(path),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    svc = Service(proc, port)
    try:
        await svc.logged("telegram bot @")  # started: the HTTP server came up before it
        yield svc
    finally:
        await svc.http.close()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
        with contextlib.suppress(Exception):
            await svc._reader
    assert proc.returncode == 0, "\n".join(svc.lines[-30:])
    # the only tracebacks are the failed evaluations, each logged once by the scheduler
    tracebacks = sum("Traceback" in line for line in svc.lines)
    assert tracebacks == sum("scheduled job evaluate is failing" in line for line in svc.lines)
    assert not any(TOKEN in line or SECRET in line for line in svc.lines)


def _value(m: dict, name: str, **labels: str) -> float:
    return m.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_health_metrics_and_webhook_on_the_one_port(
    service: Service, binance, telegram: FakeTelegram, tmp_path: Path
) -> None:
    _, frames = binance
    body = await service.healthz_until(lambda s, b: s == 200 and b["sources"]["binance"] == "up")
    assert body["status"] == "ok" and body["reasons"] == []

    before = await service.metrics()
    assert {name for name, _ in before} >= NAMES
    assert _value(before, "liqbot_events_total", venue="binance") == 0
    assert _value(before, "liqbot_source_up", source="binance") == 1
    assert _value(before, "liqbot_subscriptions") == 1  # the config broadcast

    # events arrive, the broadcast fires, the alert reaches the channel through Telegram
    now = int(time.time() * 1000)
    await frames.put(binance_frame("BTCUSDT", "BUY", 30, 100_000, now))  # $3M of BTC shorts
    await telegram.wait_sent(1, CHANNEL, timeout=20)
    assert "BTC" in telegram.texts(CHANNEL)[0]

    # the webhook on the same port: a wrong secret is refused, Telegram's updates answered
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": USER, "type": "private", "first_name": "u"},
            "from": {"id": USER, "is_bot": False, "first_name": "u"},
            "text": "/subscribe eth 1h 5m",
            "entities": [{"type": "bot_command", "offset": 0, "length": 10}],
        },
    }
    hdr = "X-Telegram-Bot-Api-Secret-Token"
    url = service.base + "/tg"
    async with service.http.post(url, json=update, headers={hdr: "wrong"}) as r:
        assert r.status == 403
    async with service.http.post(url, json=update, headers={hdr: SECRET}) as r:
        assert r.status == 200
    await telegram.wait_sent(1, USER, timeout=20)
    assert "Subscribed" in telegram.texts(USER)[0]

    after = await service.metrics()
    assert _value(after, "liqbot_events_total", venue="binance") == 1
    assert _value(after, "liqbot_alerts_total", kind="fired") == 1
    assert _value(after, "liqbot_deliveries_total", platform="telegram", outcome="sent") >= 1
    assert _value(after, "liqbot_command_seconds_count") == 1
    assert _value(after, "liqbot_subscriptions") == 2
    assert _value(after, "liqbot_evaluation_seconds_count") > _value(
        before, "liqbot_evaluation_seconds_count"
    )
    assert _value(after, "liqbot_reconnects_total", source="binance") == 0

    # Break evaluation for real: another process holds SQLite's write lock, so the alert that
    # ETH now crosses cannot be committed (the service's busy timeout runs out, tick after tick).
    lock = sqlite3.connect(tmp_path / "run.sqlite3", isolation_level=None, timeout=10)
    try:
        lock.execute("BEGIN IMMEDIATE")
        await frames.put(binance_frame("ETHUSDT", "SELL", 3000, 3000, int(time.time() * 1000)))
        body = await service.healthz_until(
            lambda s, b: s == 503 and any("alerting is failing" in r for r in b["reasons"])
        )
        assert body["status"] == "failing"
        assert any("database is locked" in r for r in body["reasons"]), body
        assert len(telegram.texts(USER)) == 1  # nothing was sent for the uncommitted alert
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    # released: the next tick commits, the ETH alert goes out, /healthz is 200 again
    await telegram.wait_sent(2, USER, timeout=30)
    assert "ETH" in telegram.texts(USER)[1]
    # 200 again once the sent row is marked (it may lag the fake's receipt by a moment)
    await service.healthz_until(lambda s, b: s == 200 and b["outbox_pending"] == 0)
    final = await service.metrics()
    assert _value(final, "liqbot_alerts_total", kind="fired") == 2
    assert _value(final, "liqbot_outbox_pending") == 0
