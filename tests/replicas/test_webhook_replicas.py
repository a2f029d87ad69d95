"""Webhook mode behind a balancer: two `python -m bot run` replicas on one PostgreSQL, each
serving Telegram's POSTs. A /subscribe answered by the standby reaches the leader's rule book at
once (NOTIFY), so the leader alerts on it; an update delivered to both replicas is handled once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.fakes.exchanges import FakeVenue
from tests.fakes.telegram_api import FakeTelegram
from tests.lifecycle.process import ServiceProcess
from tests.replicas.conftest import leads, query, replica_config, wave

SECRET = "webhook-secret-value"
USER = 2002


def webhook_config(name: str, url: str, tg: FakeTelegram, venue: FakeVenue) -> dict[str, Any]:
    cfg = replica_config(name, url, tg, venue, [])
    cfg["telegram"] |= {
        "mode": "webhook",
        "webhook": {"url": "https://bot.example/tg", "path": "tg"},
    }
    return cfg


def update(uid: int, text: str) -> dict[str, Any]:
    return {
        "update_id": uid,
        "message": {
            "message_id": uid,
            "date": 0,
            "chat": {"id": USER, "type": "private", "first_name": "u"},
            "from": {"id": USER, "is_bot": False, "first_name": "u"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


async def port_of(svc: ServiceProcess) -> int:
    line = await svc.wait_log(lambda ln: "http server listening on" in ln)
    return int(line.split("listening on ", 1)[1].split(" ", 1)[0].rsplit(":", 1)[1])


async def post(port: int, body: dict[str, Any]) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://127.0.0.1:{port}/tg", json=body, headers=headers) as resp,
    ):
        return resp.status


async def test_every_replica_answers_and_the_leader_follows(
    pg_url: str,
    telegram: FakeTelegram,
    binance: FakeVenue,
    replicas: Callable[..., ServiceProcess],
) -> None:
    env = {"TELEGRAM_WEBHOOK_SECRET": SECRET}
    one = replicas("one", webhook_config("one", pg_url, telegram, binance), env)
    two = replicas("two", webhook_config("two", pg_url, telegram, binance), env)
    await one.start()
    await one.wait_log(leads)
    conn_one = await asyncio.wait_for(binance.connection(0), 30)
    await two.start()
    await two.wait_log(lambda ln: "telegram bot @" in ln and "started (webhook)" in ln)
    conn_two = await asyncio.wait_for(binance.connection(1), 30)
    port_one, port_two = await port_of(one), await port_of(two)

    # the balancer sends the command to the standby: it answers
    assert await post(port_two, update(501, "/subscribe btc 5m 1m")) == 200
    await telegram.wait_sent(1, USER, timeout=30)
    assert "Subscribed" in telegram.texts(USER)[0]
    # Telegram, not told in time, delivers the same update again, to the leader: not handled
    assert await post(port_one, update(501, "/subscribe btc 5m 1m")) == 200
    await one.wait_log(lambda ln: "update 501 was handled already" in ln)
    assert len(await query(pg_url, "SELECT id FROM subscriptions")) == 1

    # the leader's book has the rule (NOTIFY): a wave past the line alerts the user, once
    await wave([conn_one, conn_two], "BTCUSDT", 400_000, 3, one.now_ms())
    await telegram.wait_sent(2, USER, timeout=30)
    assert "BTC" in telegram.texts(USER)[1] and "$1.20M" in telegram.texts(USER)[1]
    # /status through the standby says who leads
    assert await post(port_two, update(502, "/status")) == 200
    await telegram.wait_sent(3, USER, timeout=30)
    assert "Replica two (standby); the leader: one" in telegram.texts(USER)[2]
    # /list through either replica shows the rule as the leader moved it (fired)
    assert await post(port_two, update(503, "/list")) == 200
    await telegram.wait_sent(4, USER, timeout=30)
    assert await post(port_one, update(504, "/list")) == 200
    await telegram.wait_sent(5, USER, timeout=30)
    from_standby, from_leader = telegram.texts(USER)[3:5]
    assert from_standby == from_leader and "BTC" in from_leader, (from_standby, from_leader)
    outbox = await query(pg_url, "SELECT chat_key FROM outbox")
    assert [r[0] for r in outbox] == [f"telegram:{USER}"]  # one alert, enqueued by the leader

    assert await two.terminate() == 0
    assert await one.terminate() == 0
    assert len(telegram.texts(USER)) == 5
    for svc in (one, two):
        assert "Traceback" not in svc.log_text()
