"""Webhook delivery through the production wiring (bot.runtime.app.build with a Config): alerts POSTed
as signed JSON to a receiver on 127.0.0.1, retried on 500, paused on 410, resumed by a restart;
and the sender's outcomes for 429, persistent 4xx and timeouts."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from bot.chat.service_reach import enqueue_test
from bot.config import ConfigError, Secrets, parse_config
from bot.domain.message import Message
from bot.domain.models import Liquidation, Side
from bot.features.webhooks import WebhookSender, WebhookTarget, sign, verify
from bot.runtime import app
from bot.runtime.clock import Clock
from bot.runtime.delivery import Outcome
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.offline import sources_off

T0 = 1_800_000_000_000 + 10_000
SECRET = "whsec-test-0123456789"  # what the environment holds


class ManualClock(Clock):
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


def webhook_config(tmp_path: Path, receiver: WebhookReceiver, **alerts: Any) -> Any:
    return parse_config(
        {
            "storage": {"path": str(tmp_path / "wh.sqlite3")},
            "sources": sources_off(binance={}, bybit={}),
            "console": {"enabled": "on"},
            "alerts": alerts,
            "webhooks": [
                {
                    "name": "desk",
                    "url": receiver.url("desk"),
                    "rule": "btc 1h 100m",
                    "secret_env": "LIQBOT_WEBHOOK_SECRET_DESK",
                },
                {
                    "name": "gone",
                    "url": receiver.url("gone"),
                    "rule": "btc 1h 100m shorts",
                    "secret_env": "LIQBOT_WEBHOOK_SECRET_DESK",
                },
            ],
        }
    )


SECRETS = Secrets(env={"LIQBOT_WEBHOOK_SECRET_DESK": SECRET})


async def test_alerts_are_signed_retried_on_500_and_paused_on_410(tmp_path: Path) -> None:
    receiver = await WebhookReceiver().start()
    receiver.script["desk"].append(500)
    receiver.script["gone"].append(410)
    clock = ManualClock(T0)
    config = webhook_config(tmp_path, receiver)
    rt = await app.build(config, SECRETS, stdout=io.StringIO(), clock=clock)
    try:
        for venue in ("binance", "bybit"):
            rt.market.up(venue, T0)
        rt.market.events(
            "binance",
            [
                Liquidation("binance", "BTC", Side.SHORT, 110e6, T0),
                Liquidation("binance", "BTC", Side.LONG, 5e6, T0),
            ],
        )
        rt.market.events("bybit", [Liquidation("bybit", "BTC", Side.SHORT, 30e6, T0)])
        assert await rt.engine.tick() == 2  # one message per webhook
        first = await rt.delivery.drain()
        assert (first.sent, first.retried, first.paused) == (0, 1, 1)
        gone = await rt.db.get_chat("webhook:gone")
        assert gone is not None and "410 Gone" in (gone.paused_reason or "")
        clock.now += 10 * 60_000  # past any backoff
        second = await rt.delivery.drain()
        assert second.sent == 1 and second.fetched == 1  # the paused webhook is not tried again
    finally:
        await app.stop(rt)
        await receiver.stop()

    desk = receiver.at("desk")
    assert len(desk) == 2 and desk[0].body == desk[1].body  # the retry sent the same alert
    assert len(receiver.at("gone")) == 1
    for r in receiver.received:
        assert r.signed_by(SECRET) and not r.signed_by("another-secret")
        assert r.headers["Content-Type"] == "application/json"
    assert desk[0].headers["X-Liqbot-Timestamp"] == str(T0 // 1000)
    assert desk[1].headers["X-Liqbot-Timestamp"] == str((T0 + 10 * 60_000) // 1000)
    body = desk[1].json
    assert body["type"] == "alert" and body["webhook"] == "desk"
    (alert,) = body["alerts"]
    assert {k: alert[k] for k in ("coin", "window", "side", "value", "threshold")} == {
        "coin": "BTC",
        "window": "1h",
        "side": "total",
        "value": 145e6,
        "threshold": 100e6,
    }
    assert (alert["longs"], alert["shorts"]) == (5e6, 140e6)
    assert alert["venues"] == [
        {"venue": "binance", "longs": 5e6, "shorts": 110e6},
        {"venue": "bybit", "longs": 0.0, "shorts": 30e6},
    ]
    assert alert["as_of"].endswith("Z") and alert["as_of_ms"] == T0
    assert "BTC" in body["title"] and "$145.00M" in body["text"]
    assert receiver.at("gone")[0].json["alerts"][0]["side"] == "short"


async def test_a_restart_resumes_a_paused_webhook_and_test_messages_go_through(
    tmp_path: Path,
) -> None:
    receiver = await WebhookReceiver().start()
    receiver.script["gone"].append(410)
    clock = ManualClock(T0)
    config = webhook_config(tmp_path, receiver)
    out = io.StringIO()
    rt = await app.build(config, SECRETS, stdout=out, clock=clock)
    try:
        assert await enqueue_test(rt.db, "webhook:gone", T0, lambda: None)
        assert not await enqueue_test(rt.db, "webhook:gone", T0 + 1000, lambda: None)  # 1/min
        await rt.delivery.drain()
        assert await rt.db.paused_chats() == {"webhook:gone"}
        assert rt.console is not None
        await rt.console.handle_line("/test")  # the console's own test, through the outbox
        await rt.delivery.drain()
    finally:
        await app.stop(rt)
    assert "Test queued" in out.getvalue() and "Test message" in out.getvalue()

    clock.now += 60_000
    rt2 = await app.build(config, SECRETS, stdout=io.StringIO(), clock=clock)
    try:
        assert await rt2.db.paused_chats() == set()  # the operator may have fixed the receiver
        assert await enqueue_test(rt2.db, "webhook:gone", clock.now, lambda: None)
        assert (await rt2.delivery.drain()).sent == 1
    finally:
        await app.stop(rt2)
        await receiver.stop()
    tests = [r.json for r in receiver.at("gone")]
    assert [t["type"] for t in tests] == ["test", "test"]
    assert "Test message" in tests[1]["text"]


async def test_a_webhook_without_its_secret_stops_the_start(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    with pytest.raises(ConfigError, match=r"LIQBOT_WEBHOOK_SECRET_DESK is not set"):
        await app.build(webhook_config(tmp_path, receiver), Secrets(), stdout=io.StringIO())


def test_bad_webhook_rules_and_names_are_named() -> None:
    hook = {"name": "x", "url": "https://e.x", "rule": "btc 1h 1m", "secret_env": "S"}
    with pytest.raises(ConfigError, match=r"webhooks\.0\.rule: unknown window '3h'"):
        parse_config({"webhooks": [hook | {"rule": "btc 3h 1m"}]})
    with pytest.raises(ConfigError, match="own name"):
        parse_config({"webhooks": [hook, hook]})
    with pytest.raises(ConfigError, match=r"webhooks\.0\.url"):
        parse_config({"webhooks": [hook | {"url": "ftp://e.x"}]})


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # from openssl: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac k
    sig = sign("k", 1_700_000_000, b'{"a":1}')
    assert sig == "sha256=1b6ad1bc9bf48c52ce01939866d5877c6cc4e87ddad27e16673cb8c4964394a3"
    assert verify("k", "1700000000", b'{"a":1}', sig)
    assert not verify("k", "1700000001", b'{"a":1}', sig)
    assert not verify("k", "x", b'{"a":1}', sig)


async def test_sender_outcomes_for_429_persistent_4xx_and_timeouts() -> None:
    receiver = await WebhookReceiver().start()
    receiver.script["slow"].append((429, {"Retry-After": "7"}))
    receiver.script["bad"].extend([400, 400, 400])
    receiver.hang.add("hung")
    targets = {
        n: WebhookTarget(n, receiver.url(n), SECRET, timeout_s=0.3 if n == "hung" else 5)
        for n in ("slow", "bad", "hung")
    }
    sender = WebhookSender(targets, lambda: T0, client_errors_to_pause=3)
    msg = Message(title="t")
    try:
        slow = await sender.send("webhook:slow", msg)
        assert slow.outcome is Outcome.RETRY and slow.retry_after == 7.0
        assert (await sender.send("webhook:slow", msg)).outcome is Outcome.SENT
        bad = [await sender.send("webhook:bad", msg) for _ in range(3)]
        assert [o.outcome for o in bad] == [Outcome.RETRY, Outcome.RETRY, Outcome.PERMANENT]
        assert "400, 3 times in a row" in bad[2].reason
        hung = await sender.send("webhook:hung", msg)
        assert hung.outcome is Outcome.RETRY and "timed out" in hung.reason
        unknown = await sender.send("webhook:nobody", msg)
        assert unknown.outcome is Outcome.PERMANENT
        assert SECRET not in repr([slow, *bad, hung, unknown])
    finally:
        await sender.stop()
        await receiver.stop()


def test_a_liqbot_named_secret_variable_is_a_secret_not_an_unknown_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.config.settings import load

    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "webhooks:\n  - name: x\n    url: https://example.com/h\n    rule: btc 1h 100m\n"
        "    secret_env: LIQBOT_WEBHOOK_SECRET_X\n"
    )
    monkeypatch.setenv("LIQBOT_WEBHOOK_SECRET_X", "  k3y  ")
    loaded = load(str(cfg))
    assert loaded.secrets.named("LIQBOT_WEBHOOK_SECRET_X") == "k3y"
    assert "k3y" not in repr(loaded.secrets)
    monkeypatch.setenv("LIQBOT_WEBHOOK_SECRET_Y", "k")  # named by no webhook: still refused
    with pytest.raises(ConfigError, match="LIQBOT_WEBHOOK_SECRET_Y: unknown key"):
        load(str(cfg))


def test_check_config_names_webhooks_without_their_url_token_or_secret(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    (tmp_path / "config.yaml").write_text(
        "webhooks:\n  - name: desk\n    url: https://hooks.example.com/T0/B0/PATHTOKEN?k=QTOKEN\n"
        "    rule: btc 1h 100m\n    secret_env: LIQBOT_WEBHOOK_SECRET_DESK\n"
        "digests:\n  - {chat: webhook:desk, at: '7:30', tz: america/new_york}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQBOT_")}
    env |= {"PYTHONPATH": str(root), "LIQBOT_WEBHOOK_SECRET_DESK": "SECRETVALUE"}
    res = subprocess.run(
        [sys.executable, "-m", "bot", "check-config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert "webhook desk <- btc 1h 100m (secret $LIQBOT_WEBHOOK_SECRET_DESK: set)" in out
    assert "digest: webhook:desk daily at 07:30 America/New_York" in out
    assert "url: https://hooks.example.com/…" in out
    assert not any(s in out for s in ("PATHTOKEN", "QTOKEN", "SECRETVALUE"))
