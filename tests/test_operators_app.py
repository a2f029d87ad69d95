"""Operator alerts through the composed service: a fake Binance refuses connections, then takes
them again; the operator's Telegram chat hears once of the outage and once of the recovery."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.config import Secrets, parse_config
from bot.runtime import app
from tests.fakes.exchanges import FakeConn, FakeVenue
from tests.fakes.telegram_api import FakeTelegram
from tests.offline import sources_off

TOKEN = "123456:OPS-test-token"
OPERATOR = 4242


async def test_a_source_down_then_up_reaches_the_operator_once_each(tmp_path: Path) -> None:
    fake = FakeTelegram(TOKEN)
    await fake.start()
    venue = await FakeVenue().start()
    first: list[FakeConn] = []

    async def script(conn: FakeConn) -> None:
        first.append(conn)
        await conn.closed()

    venue.scripts = [script]
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "ops.sqlite3")},
            "telegram": {"base_url": fake.base_url, "base_file_url": fake.base_file_url},
            "sources": sources_off(binance={"url": venue.ws_url, "rest_url": venue.base}),
            "operators": {"chats": [OPERATOR], "source_down_after": 1, "check_every": 1},
        }
    )
    rt = await app.build(config, Secrets(telegram_token=TOKEN))
    src = rt.sources[0]
    src.timing = replace(src.timing, backoff_base_s=0.05, backoff_cap_s=0.2)  # retry quickly
    try:
        await app.start(rt)
        conn = await venue.connection(0)
        venue.refusing = True  # the venue goes away: every reconnect is refused
        await conn.drop()
        await fake.wait_sent(1, OPERATOR, timeout=15)
        down = fake.texts(OPERATOR)[0]
        assert "binance down for" in down  # with the latest reason (the venue refuses now)
        assert rt.ops is not None and rt.ops.operators is not None
        assert await rt.ops.operators.check() == 0  # still down: told already
        venue.refusing = False
        await fake.wait_sent(2, OPERATOR, timeout=15)
        assert "binance is back after" in fake.texts(OPERATOR)[1]
        assert await rt.ops.operators.check() == 0
        assert src.reconnects >= 1
        metrics = rt.ops.metrics.exposition().decode()
        assert 'liqbot_reconnects_total{source="binance"}' in metrics
        assert 'liqbot_alerts_total{kind="operator"} 2.0' in metrics
    finally:
        await app.stop(rt)
        await venue.stop()
        await fake.stop()
    assert len(fake.texts(OPERATOR)) == 2
