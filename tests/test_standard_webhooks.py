"""Outgoing webhooks follow Standard Webhooks (issue 17, item 17): the spec's own signing vector,
and alerts through `app.build` to a receiver on 127.0.0.1 verified by the official
`standardwebhooks` package, with a retry carrying the same webhook-id (the outbox row id)."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import time
from pathlib import Path

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from bot.config import ConfigError, Secrets, parse_config
from bot.domain.models import Liquidation, Side
from bot.features.webhooks import standard_key, standard_signature
from bot.runtime import app
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.offline import sources_off
from tests.test_webhooks import ManualClock

VECTOR = json.loads(
    (Path(__file__).parent / "fixtures/recorded/standard_webhooks_sign_vector.json").read_text()
)
PLAIN = "whsec-test-0123456789"  # an existing receiver's secret, as before
STANDARD = "whsec_" + base64.b64encode(bytes(range(32))).decode()  # the spec's own form


def test_the_spec_signing_vector() -> None:
    key = standard_key(VECTOR["secret"])
    got = standard_signature(key, VECTOR["msg_id"], VECTOR["timestamp"], VECTOR["payload"].encode())
    assert got == VECTOR["signature"]
    unpadded = VECTOR["secret"].rstrip("=")  # the official package accepts it without padding
    assert standard_key(unpadded) == key


def _config(tmp_path: Path, receiver: WebhookReceiver) -> object:
    hook = {"rule": "btc 1h 100m"}
    return parse_config(
        {
            "storage": {"path": str(tmp_path / "std.sqlite3")},
            "sources": sources_off(binance={}),
            "console": {"enabled": "off"},
            "webhooks": [
                {"name": "old", "url": receiver.url("old"), "secret_env": "LIQBOT_WH_OLD", **hook},
                {"name": "std", "url": receiver.url("std"), "secret_env": "LIQBOT_WH_STD", **hook},
            ],
        }
    )


async def test_alerts_carry_standard_headers_and_a_retry_keeps_its_webhook_id(
    tmp_path: Path,
) -> None:
    receiver = await WebhookReceiver().start()
    receiver.script["old"].append(500)  # the first try fails: delivery retries the same row
    now = int(time.time() * 1000) - 60_000  # the package checks the timestamp against its clock
    clock = ManualClock(now)
    secrets = Secrets(env={"LIQBOT_WH_OLD": PLAIN, "LIQBOT_WH_STD": STANDARD})
    rt = await app.build(_config(tmp_path, receiver), secrets, stdout=io.StringIO(), clock=clock)
    try:
        rt.market.up("binance", now)
        rt.market.events("binance", [Liquidation("binance", "BTC", Side.SHORT, 120e6, now)])
        assert await rt.engine.tick() == 2
        first = await rt.delivery.drain()
        assert (first.sent, first.retried) == (1, 1)
        clock.now += 120_000  # past the first backoff, still inside the package's 5 min
        assert (await rt.delivery.drain()).sent == 1
    finally:
        await app.stop(rt)
        await receiver.stop()
    with sqlite3.connect(tmp_path / "std.sqlite3") as db:  # the store's own rows
        rows = dict(db.execute("SELECT chat_key, id FROM outbox").fetchall())

    old, std = receiver.at("old"), receiver.at("std")
    assert len(old) == 2 and len(std) == 1
    # a plain secret: its receiver's Standard Webhooks secret is whsec_ + base64 of it
    plain_as_standard = "whsec_" + base64.b64encode(PLAIN.encode()).decode()
    for r in old:
        assert r.standard_verified(plain_as_standard)["webhook"] == "old"
        assert r.signed_by(PLAIN)  # the older X-Liqbot headers still verify
        with pytest.raises(WebhookVerificationError):
            r.standard_verified(STANDARD)
    assert std[0].standard_verified(STANDARD)["webhook"] == "std"  # a whsec_ secret, as is
    # the id is the outbox row's, the same on the retry; the timestamp is the attempt's
    assert old[0].headers["webhook-id"] == old[1].headers["webhook-id"] == str(rows["webhook:old"])
    assert std[0].headers["webhook-id"] == str(rows["webhook:std"])
    assert old[0].headers["webhook-timestamp"] == str(now // 1000)
    assert old[1].headers["webhook-timestamp"] == str((now + 120_000) // 1000)


async def test_a_whsec_secret_that_is_not_base64_stops_the_start(tmp_path: Path) -> None:
    receiver = await WebhookReceiver().start()
    try:
        secrets = Secrets(env={"LIQBOT_WH_OLD": PLAIN, "LIQBOT_WH_STD": "whsec_not*base64!"})
        with pytest.raises(ConfigError, match="LIQBOT_WH_STD: a secret starting with whsec_"):
            await app.build(_config(tmp_path, receiver), secrets, stdout=io.StringIO())
    finally:
        await receiver.stop()
