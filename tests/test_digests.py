"""Daily digests through the production wiring (bot.runtime.app.build), on an injected clock: set with
/digest in the console, sent at 08:00 Berlin time, once per local date across a restart, at the
new UTC hour after the spring change, caught up after downtime; the config's digests to a
webhook; /digest off."""

from __future__ import annotations

import datetime as dtm
import io
from pathlib import Path
from typing import Any

from bot.config import Secrets, parse_config
from bot.domain.models import Liquidation, Side
from bot.runtime import app
from bot.runtime.clock import Clock
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.offline import sources_off

HOUR = 3_600_000


def ms(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    return int(dtm.datetime(y, mo, d, h, mi, tzinfo=dtm.UTC).timestamp() * 1000)


class ManualClock(Clock):
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


def digest_config(tmp_path: Path, receiver: WebhookReceiver) -> Any:
    return parse_config(
        {
            "storage": {"path": str(tmp_path / "digest.sqlite3")},
            "sources": sources_off(binance={}, bybit={}),
            "console": {"enabled": "on"},
            "webhooks": [
                {
                    "name": "desk",
                    "url": receiver.url("desk"),
                    "rule": "eth 1h 900m",
                    "secret_env": "DESK_SECRET",
                }
            ],
            "digests": [{"chat": "webhook:desk", "at": "07:30", "tz": "America/New_York"}],
        }
    )


SECRETS = Secrets(env={"DESK_SECRET": "s" * 24})


async def _build(config: Any, clock: ManualClock, out: io.StringIO) -> app.Runtime:
    rt = await app.build(config, SECRETS, stdout=out, clock=clock)
    for venue in ("binance", "bybit"):
        rt.market.up(venue, clock.now)
    return rt


async def test_digest_fires_at_local_time_once_across_restart_and_dst(tmp_path: Path) -> None:
    receiver = await WebhookReceiver().start()
    config = digest_config(tmp_path, receiver)
    clock = ManualClock(ms(2026, 3, 28, 4))  # Saturday, 05:00 in Berlin (CET, UTC+1)
    out = io.StringIO()
    rt = await _build(config, clock, out)
    try:
        assert rt.console is not None and rt.digests is not None
        await rt.console.handle_line("/subscribe btc 1h 100m")
        await rt.console.handle_line("/digest 08:00 Europe/Berlin")
        assert "Next: Sat 28 Mar at 08:00 (07:00 UTC)" in out.getvalue()
        t = ms(2026, 3, 28, 5, 10)  # a wave at 06:10 Berlin: an alert, and the biggest hour
        clock.now = t
        rt.market.events("binance", [Liquidation("binance", "BTC", Side.LONG, 120e6, t)])
        rt.market.events("bybit", [Liquidation("bybit", "ETH", Side.SHORT, 8e6, t)])
        assert await rt.engine.tick() == 1
        await rt.delivery.drain()
        clock.now = ms(2026, 3, 28, 6, 59)
        assert await rt.digests.run_due() == 0  # 07:59 in Berlin
        clock.now = ms(2026, 3, 28, 7)
        assert await rt.digests.run_due() == 1
        assert await rt.digests.run_due() == 0
        await rt.delivery.drain()
    finally:
        await app.stop(rt)
    text = out.getvalue()
    digest = text[text.index("Daily digest, Sat 28 Mar (08:00 Europe/Berlin)") :]
    assert "24h" in digest and "$128.00M" in digest  # the table's 24h total
    assert "By coin, 24h: BTC $120.00M" in digest  # the top coins
    assert "Biggest hour: 05:00–06:00 UTC, $128.00M (mostly longs)" in digest
    assert "Alerts in this chat, last 24h: 1" in digest and "05:10 UTC" in digest

    # a restart half a minute later: the day's digest is not sent again
    clock.now += 30_000
    out2 = io.StringIO()
    rt2 = await _build(config, clock, out2)
    try:
        assert rt2.digests is not None
        assert await rt2.digests.run_due() == 0
        # Sunday: clocks went forward at 02:00, so 08:00 in Berlin is 06:00 UTC now
        clock.now = ms(2026, 3, 29, 5, 59)
        assert await rt2.digests.run_due() == 0
        clock.now = ms(2026, 3, 29, 6)
        assert await rt2.digests.run_due() == 1
        clock.now = ms(2026, 3, 29, 7)  # what 08:00 was yesterday: nothing more
        assert await rt2.digests.run_due() == 0
        await rt2.delivery.drain()
    finally:
        await app.stop(rt2)
    assert out2.getvalue().count("Daily digest, Sun 29 Mar") == 1

    # down across Monday's 06:00 UTC, back at 07:30: the digest is caught up, once
    clock.now = ms(2026, 3, 30, 7, 30)
    out3 = io.StringIO()
    rt3 = await _build(config, clock, out3)
    try:
        assert rt3.console is not None and rt3.digests is not None
        assert await rt3.digests.run_due() == 1
        await rt3.delivery.drain()
        await rt3.console.handle_line("/digest")
        await rt3.console.handle_line("/digest off")
        clock.now = ms(2026, 3, 31, 6)
        assert await rt3.digests.run_due() == 0  # off
        # the config's digest to the webhook: 07:30 in New York (EDT since 8 Mar) = 11:30 UTC
        clock.now = ms(2026, 3, 31, 11, 30)
        assert await rt3.digests.run_due() == 1
        await rt3.delivery.drain()
    finally:
        await app.stop(rt3)
        await receiver.stop()
    text3 = out3.getvalue()
    assert text3.count("Daily digest, Mon 30 Mar") == 1
    assert "Every day at 08:00 Europe/Berlin; next at 06:00 UTC." in text3
    assert "Daily digest off" in text3
    digests = [r.json for r in receiver.at("desk") if r.json.get("type") == "digest"]
    # only at its own time: never at Berlin's 07:00/06:00 UTC runs, nor caught up a day late
    assert [(d["date"], d["at"], d["tz"]) for d in digests] == [
        ("2026-03-31", "07:30", "America/New_York")
    ]
    assert "Daily digest, Tue 31 Mar (07:30 America/New_York)" in digests[0]["text"]


def test_config_digests_are_validated_with_the_key_named() -> None:
    import pytest

    from bot.config import ConfigError

    ok = parse_config({"digests": [{"chat": "-100123", "at": "8:05", "tz": "europe/berlin"}]})
    assert (ok.digests[0].chat, ok.digests[0].at, ok.digests[0].tz) == (
        "telegram:-100123",
        "08:05",
        "Europe/Berlin",
    )
    with pytest.raises(ConfigError, match=r"digests\.0\.tz: .*unknown time zone 'Mars/Base'"):
        parse_config({"digests": [{"chat": "@x", "tz": "Mars/Base"}]})
    with pytest.raises(ConfigError, match=r"digests\.0\.at: .*not a time of day"):
        parse_config({"digests": [{"chat": "@x", "at": "25:00"}]})
