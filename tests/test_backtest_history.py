"""Backtests that reach before the store's first minute with CoinGlass history (issue 14, item 4):
the real CoinGlassSource over HTTP to the fake CoinGlass on 127.0.0.1, a real SQLite store, and
counts worked out by hand.

The hand-built world (Policy(): fires at the threshold, re-arms below 80% of it and at least 15
minutes after firing; escalates at 2x). Now is DAY0 + 12 days + 30 min. The store holds BTC from
S = DAY0 + 10 days: $1 at S and $120M of longs in minute S + 29 h. CoinGlass serves hourly buckets
(start times) from DAY0 to now's unfinished hour, $2M each ($1M a side) except:

- DAY0 + 2 d + 03:00  $150M ($100M longs, $50M shorts)  -> a 1h total rule fires at its end, 04:00
- DAY0 + 2 d + 04:00  $90M (longs)     still above the 80% re-arm level: the rule stays fired
- DAY0 + 2 d + 05:00  $160M (longs)    so no new episode, and under 2x: no escalation either
- DAY0 + 6 d + 10:00  $200M (shorts)   re-armed long before: fires at 11:00
- DAY0 + 8 d          $90M (longs)     under the threshold: nothing
- S - 1 h             $130M (longs)    ends exactly at S (allowed): fires at S
- S + 3 h             $500M (longs)    inside the store's days: never counted
- now's hour          $500M (longs)    unfinished: never counted

A 1h bucket sits at its last minute, so a 1h window holds exactly one bucket: the three
consecutive buckets count as one episode (a naive "buckets above $100M" would say 2). Store: the
S-1h bucket leaves the window at minute S+59, re-armed there; the $120M minute fires at S+29h+1m.
So `btc 1h 100m`: 4 alerts (2d 04:00, 6d 11:00, S, S+29h01), the last on 24 Jan 05:01 UTC.
`btc 1h 100m shorts`: only the $200M bucket is shorts enough: 1 alert, at DAY0 + 6 d 11:00.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat.context import ChatContext
from bot.chat.service_rules import as_subscription
from bot.config import Secrets, parse_config
from bot.domain.command_types import Backtest
from bot.domain.commands import parse_command
from bot.domain.message import plain_text
from bot.domain.models import Subscription
from bot.domain.render_insight import COINGLASS_UNAVAILABLE
from bot.domain.rules import Policy
from bot.features.backtest_history import (
    MAX_DAYS_WITH_COINGLASS,
    coinglass_span,
    history_interval,
    unusable_reason,
)
from bot.features.insight import rule_history
from bot.runtime import app
from bot.sources.coinglass import CoinGlassSource
from bot.store import BucketRow, Database
from tests.fakes.exchanges import FakeCoinGlass
from tests.offline import sources_off
from tests.test_e2e_console import ManualClock

KEY = "backtest-cg-sekret-4711"
MIN = 60_000
HOUR = 3_600_000
DAY = 86_400_000
DAY0 = 1768262400000  # 2026-01-13 00:00 UTC
S = DAY0 + 10 * DAY  # the store's first minute
NOW = DAY0 + 12 * DAY + 30 * MIN
STORE_SPIKE = S + 29 * HOUR  # 2026-01-24 05:00 UTC

SPECIAL = {  # bucket start -> (longs, shorts)
    DAY0 + 2 * DAY + 3 * HOUR: (100e6, 50e6),
    DAY0 + 2 * DAY + 4 * HOUR: (90e6, 0.0),
    DAY0 + 2 * DAY + 5 * HOUR: (160e6, 0.0),
    DAY0 + 6 * DAY + 10 * HOUR: (0.0, 200e6),
    DAY0 + 8 * DAY: (90e6, 0.0),
    S - HOUR: (130e6, 0.0),
    S + 3 * HOUR: (500e6, 0.0),
    NOW // HOUR * HOUR: (500e6, 0.0),
}


def hourly_rows() -> list[dict[str, float]]:
    out = []
    for t in range(DAY0, NOW // HOUR * HOUR + 1, HOUR):
        longs, shorts = SPECIAL.get(t, (1e6, 1e6))
        out.append(
            {
                "time": t,
                "aggregated_long_liquidation_usd": longs,
                "aggregated_short_liquidation_usd": shorts,
            }
        )
    return out


def rule(text: str) -> Subscription:
    """The rule `/backtest <text>` asks about, as the command service builds it."""
    cmd = parse_command("/backtest " + text)
    assert isinstance(cmd, Backtest)
    return as_subscription(cmd.rule)


@pytest.fixture
async def cg() -> AsyncIterator[FakeCoinGlass]:
    fake = await FakeCoinGlass(KEY).start()
    fake.history_rows = hourly_rows()
    yield fake
    await fake.stop()


@pytest.fixture
async def source(cg: FakeCoinGlass) -> AsyncIterator[CoinGlassSource]:
    src = CoinGlassSource(KEY, base_url=cg.base, timeout_s=0.5)
    yield src
    await src.aclose()


async def fill_store(path: Path, first_ms: int = S, *more: tuple[int, float]) -> None:
    db = await Database.open(path)
    await db.upsert_buckets(
        [
            BucketRow(first_ms, "BTC", "binance", 1.0, 0.0),
            BucketRow(STORE_SPIKE, "BTC", "binance", 120e6, 0.0),
            *(BucketRow(m, "BTC", "binance", usd, 0.0) for m, usd in more),
        ]
    )
    await db.close()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    await fill_store(tmp_path / "bt.sqlite3")
    d = await Database.open(tmp_path / "bt.sqlite3")
    yield d
    await d.close()


async def test_hourly_coinglass_buckets_before_the_store_are_replayed_with_the_lifecycle(
    db: Database, cg: FakeCoinGlass, source: CoinGlassSource
) -> None:
    h = await rule_history(db, Policy(), rule("btc 1h 100m"), NOW, source)
    r = h.result
    assert r is not None
    assert (r.fired, r.escalations) == (4, 0)
    assert r.last_ms == STORE_SPIKE + MIN
    assert r.since_ms == DAY0 + 59 * MIN  # the first CoinGlass bucket's start + one whole window
    assert r.until_ms == NOW
    # one request: hourly buckets, enough of them to reach 30 days back from now
    assert cg.history_asks == [
        {"exchange_list": "Binance,OKX,Bybit", "symbol": "BTC", "interval": "1h", "limit": "721"}
    ]
    assert h.source_note == (
        "History: 2 days from our store, 10 days before that from CoinGlass hourly totals "
        "(Binance, OKX, Bybit); those can only fire at each bucket's end, so that part is an "
        "estimate."
    )

    shorts = await rule_history(db, Policy(), rule("btc 1h 100m shorts"), NOW, source)
    assert shorts.result is not None
    assert (shorts.result.fired, shorts.result.last_ms) == (1, DAY0 + 6 * DAY + 11 * HOUR)


async def test_without_coinglass_the_store_answers_alone_as_before(db: Database) -> None:
    h = await rule_history(db, Policy(), rule("btc 1h 100m"), NOW)
    assert h.source_note is None
    assert h.result is not None
    assert (h.result.fired, h.result.last_ms) == (1, STORE_SPIKE + MIN)
    assert h.result.since_ms == S + 59 * MIN


async def test_a_4h_rule_sums_four_hourly_buckets(
    db: Database, cg: FakeCoinGlass, source: CoinGlassSource
) -> None:
    """A 4h window holds four hourly buckets. Day 2, at each bucket's end: 04:00 $156M (2+2+2+150)
    fires at level 1; 05:00 $244M (2+2+150+90) reaches 2x: escalation; 06:00 $402M
    (2+150+90+160) reaches 4x: escalation; back under $80M at 10:00. Day 6 11:00 $206M fires
    (level 2 at once: no escalation); day 8 $96M does not; S $136M fires; the store's $120M
    minute fires. So 4 alerts and 2 escalations."""
    h = await rule_history(db, Policy(), rule("btc 4h 100m"), NOW, source)
    assert cg.history_asks[0]["interval"] == "1h"  # the finest that covers 30 days
    r = h.result
    assert r is not None
    assert r.since_ms == DAY0 + 239 * MIN
    assert (r.fired, r.escalations) == (4, 2) and r.last_ms == STORE_SPIKE + MIN


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("btc 5m 100m", "hourly buckets at the finest, too coarse for a 5m window"),
        ("btc 30m 100m", "too coarse for a 30m window"),
        ("all 1h 100m", "it answers per coin, not for all coins together"),
        ("btc 1h 100m on binance", "it sums several exchanges, not Binance alone"),
        ("btc 1h 3x", '"usual" comes from our store'),
    ],
)
async def test_rules_coinglass_cannot_serve_do_not_ask_it_and_say_why(
    db: Database, cg: FakeCoinGlass, source: CoinGlassSource, text: str, words: str
) -> None:
    sub = rule(text)
    h = await rule_history(db, Policy(), sub, NOW, source)
    assert cg.calls == []
    assert h.source_note is not None and words in h.source_note
    assert await coinglass_span(source, sub, S, NOW) is None
    if sub.factor is None:  # the store's part alone: its 2 days
        assert h.result is not None and h.result.since_ms == S + (sub.window - 1) * MIN


def test_the_interval_is_the_finest_that_reaches_30_days_and_fits_the_window() -> None:
    span = MAX_DAYS_WITH_COINGLASS * DAY
    assert history_interval(60, span) == "1h"
    assert history_interval(240, span) == "1h"
    assert history_interval(1440, span) == "1h"
    assert history_interval(59, span) is None  # 30m x 1000 buckets reach back only 20.8 days
    assert history_interval(30, 20 * DAY) == "30m"
    assert history_interval(5, span) is None
    assert unusable_reason(rule("eth 4h 10m longs")) is None


@pytest.mark.parametrize("mode", ["401", "429", "500", "malformed", "envelope_error", "slow"])
async def test_a_failing_coinglass_leaves_the_store_answer_and_one_friendly_line(
    db: Database, cg: FakeCoinGlass, source: CoinGlassSource, mode: str
) -> None:
    cg.mode = mode
    cg.slow_s = 2.0  # the source gives up after 0.5 s
    h = await rule_history(db, Policy(), rule("btc 1h 100m"), NOW, source)
    assert len(cg.calls) == 1
    assert h.source_note == COINGLASS_UNAVAILABLE
    assert KEY not in h.source_note
    assert h.result is not None
    assert (h.result.fired, h.result.last_ms) == (1, STORE_SPIKE + MIN)  # the store's alone
    assert h.result.since_ms == S + 59 * MIN


async def test_a_slow_coinglass_does_not_hold_the_confirmation(
    db: Database, cg: FakeCoinGlass, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slower than HISTORY_WAIT_S (but inside the source's own 10 s timeout): the reply comes
    from the store at the wait's end, with the friendly line."""
    import bot.features.insight

    monkeypatch.setattr(bot.features.insight, "HISTORY_WAIT_S", 0.3)
    cg.mode, cg.slow_s = "slow", 3.0
    slow = CoinGlassSource(KEY, base_url=cg.base)  # the default 10 s HTTP timeout
    try:
        t0 = asyncio.get_running_loop().time()
        h = await rule_history(db, Policy(), rule("btc 1h 100m"), NOW, slow)
        waited = asyncio.get_running_loop().time() - t0
    finally:
        await slow.aclose()
    assert waited < 2.0  # not the 3 s CoinGlass takes
    assert h.source_note == COINGLASS_UNAVAILABLE
    assert h.result is not None and h.result.fired == 1  # the store's own answer


async def test_a_store_that_holds_30_days_needs_no_coinglass(
    tmp_path: Path, cg: FakeCoinGlass, source: CoinGlassSource
) -> None:
    path = tmp_path / "full.sqlite3"
    await fill_store(path, first_ms=NOW - 31 * DAY)
    db = await Database.open(path)
    try:
        h = await rule_history(db, Policy(), rule("btc 1h 100m"), NOW, source)
    finally:
        await db.close()
    assert cg.calls == [] and h.source_note is None
    assert h.result is not None and h.result.fired == 1
    assert h.result.since_ms == NOW - 30 * DAY + 59 * MIN


async def test_a_gap_between_the_last_bucket_and_the_store_blocks_the_rearm(
    tmp_path: Path, cg: FakeCoinGlass, source: CoinGlassSource
) -> None:
    """The store starts at S + 20 min: the bucket S..S+1h is not whole before it, so CoinGlass
    ends at S and minutes S..S+19 are held by neither: an outage. The S-1h bucket fires at S and
    leaves the 1h window at minute S+59, but windows touching the hole (up to minute S+78) may
    not re-arm, so the store's $120M at minute S+70 is the same episode: still 4, not 5."""
    path = tmp_path / "late.sqlite3"
    await fill_store(path, S + 20 * MIN, (S + 70 * MIN, 120e6))
    db = await Database.open(path)
    try:
        span = await coinglass_span(source, rule("btc 1h 100m"), S + 20 * MIN, NOW)
        assert span is not None and span.until_ms == S and span.first_ms == DAY0
        assert span.values[(S - MIN) // MIN] == 130e6
        assert (S + 3 * HOUR + HOUR - MIN) // MIN not in span.values  # the store's own days
        h = await rule_history(db, Policy(), rule("btc 1h 100m"), NOW, source)
    finally:
        await db.close()
    assert h.result is not None and h.result.fired == 4


async def test_backtest_command_through_the_app_uses_coinglass(
    tmp_path: Path, cg: FakeCoinGlass
) -> None:
    """The production wiring: `app.build` with a CoinGlass key gives the command service the
    keyed source, and /backtest answers with the CoinGlass part and says where it came from."""
    store = tmp_path / "app.sqlite3"
    await fill_store(store)
    config = parse_config(
        {
            "storage": {"path": str(store)},
            "sources": sources_off(coinglass={"url": cg.base}),
            "console": {"enabled": "off"},
        }
    )
    clock = ManualClock(NOW)
    rt = await app.build(config, Secrets(coinglass_key=KEY), stdout=io.StringIO(), clock=clock)
    ctx = ChatContext("console:bt", "console")
    try:
        reply = await rt.service.handle_text(ctx, "/backtest btc 1h 100m")
        text = plain_text(reply.messages[0])
        # the same coin again in this hour, two chats at once: no further request
        again = await asyncio.gather(
            rt.service.handle_text(ctx, "/backtest btc 1h 200m"),
            rt.service.handle_text(ChatContext("console:b2", "console"), "/subscribe btc 4h 1b"),
        )
        assert len(cg.history_asks) == 1
        assert all("CoinGlass hourly totals" in plain_text(r.messages[0]) for r in again)
        clock.now = (NOW // HOUR + 1) * HOUR  # the next hourly bucket: asked afresh
        await rt.service.handle_text(ctx, "/backtest btc 1h 100m")
        assert len(cg.history_asks) == 2
    finally:
        await app.stop(rt)
    assert (
        "Backtest: would have fired 4 times in the last 12 days, last on 24 Jan 05:01 UTC" in text
    )
    assert "2 days from our store, 10 days before that from CoinGlass hourly totals" in text
    assert [a["interval"] for a in cg.history_asks] == ["1h", "1h"]
    assert cg.keys_seen == [KEY, KEY] and KEY not in text
