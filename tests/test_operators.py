"""Operator alerts and the health reading behind /healthz, on the real parts (SQLite outbox,
LiveMarket, Watchdog) with a hand-moved clock: one message per transition, never a repeat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.domain.aggregate import Aggregator
from bot.domain.health import SourceHealth
from bot.domain.message import Message, plain_text
from bot.domain.render_ops import span
from bot.domain.source_fault import DownReason, Fault
from bot.ops.operators import OperatorAlerts, next_daily_ms
from bot.ops.service_health import DeliveryHealth, ServiceHealth
from bot.runtime.clock import Clock
from bot.runtime.market_view import LiveMarket
from bot.runtime.watchdog import Watchdog
from bot.store import Database, OutboxItem

T0 = 1_800_000_000_000  # 2027-01-15 08:00 UTC
MIN = 60_000
OPS = ("telegram:4242", "discord:channel:99")


class ManualClock(Clock):
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


@dataclass
class World:
    clock: ManualClock
    db: Database
    market: LiveMarket
    watchdog: Watchdog
    delivery: DeliveryHealth
    health: ServiceHealth
    ops: OperatorAlerts

    def advance(self, ms: int) -> None:
        self.clock.now += ms

    async def told(self, chat: str = OPS[0]) -> list[str]:
        rows = await self.db.due_outbox(self.clock.now + 10 * 86_400_000, 1000)
        return [plain_text(r.message).splitlines()[0] for r in rows if r.chat_key == chat]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = ManualClock(T0)
    db = await Database.open(tmp_path / "ops.sqlite3")
    sources = ("binance", "bybit", "coinglass")
    start = T0 - MIN  # the process started a minute ago; every source came up then
    market = LiveMarket(Aggregator(venues=sources[:2]), SourceHealth(sources, start), clock)
    for s in sources:
        market.up(s, start)
    watchdog = Watchdog(clock.now_ms)
    delivery = DeliveryHealth(clock.now_ms)
    health = ServiceHealth(market, watchdog, delivery, db, ("telegram", "discord"), clock.now_ms)
    ops = OperatorAlerts(health, db, OPS, clock.now_ms, heartbeat="09:00")
    watchdog.success("evaluate")
    yield World(clock, db, market, watchdog, delivery, health, ops)
    await db.close()


async def test_a_source_down_and_up_is_told_once_each_way(world: World) -> None:
    w = world
    w.market.down("binance", w.clock.now, DownReason(Fault.CANNOT_CONNECT, "refused"))
    w.advance(4 * MIN)
    w.watchdog.success("evaluate")
    assert await w.ops.check() == 0  # not yet 5 min: a blip is not news
    w.advance(1 * MIN)
    w.watchdog.success("evaluate")
    assert await w.ops.check() == 2  # one message to each operator chat
    for _ in range(3):
        w.advance(MIN)
        w.watchdog.success("evaluate")
        assert await w.ops.check() == 0  # still down: nothing new to say
    assert await w.told() == ["liqbot: binance down for 5 min (cannot connect)"]
    assert await w.told(OPS[1]) == await w.told()
    w.market.up("binance", w.clock.now)
    assert await w.ops.check() == 2
    assert await w.ops.check() == 0
    assert (await w.told())[1] == "liqbot: binance is back after 8 min"


async def test_alerting_failing_is_critical_and_told(world: World) -> None:
    w = world
    w.watchdog.failure("evaluate", RuntimeError("database is locked"))
    status, body = await w.health.healthz()
    assert status == 503
    assert body["reasons"][0].startswith("alerting is failing since 08:00 UTC")
    assert "database is locked" in body["reasons"][0]
    assert await w.ops.check() == 2
    w.watchdog.failure("evaluate", RuntimeError("database is locked"))
    assert await w.ops.check() == 0
    w.advance(2 * MIN)
    w.watchdog.success("evaluate")
    assert (await w.health.healthz())[0] == 200
    assert await w.ops.check() == 2
    told = await w.told()
    assert told[0].startswith("liqbot: alerting is failing") and "database is locked" in told[0]
    assert told[1] == "liqbot: alerting works again (failed for 2 min)"


async def test_an_evaluation_that_stops_finishing_fails_healthz(world: World) -> None:
    w = world
    w.advance(2 * MIN + 1)  # evaluate neither failed nor succeeded: hung
    status, body = await w.health.healthz()
    assert status == 503 and body["reasons"] == [
        "alerting is stuck: no evaluation finished for 2 min"
    ]


async def test_no_source_up_for_five_minutes_fails_healthz(world: World) -> None:
    w = world
    for i, s in enumerate(("binance", "bybit", "coinglass")):
        w.market.down(s, w.clock.now + i * MIN, DownReason(Fault.CANNOT_CONNECT))
    w.advance(6 * MIN)
    w.watchdog.success("evaluate")
    assert (await w.health.healthz())[0] == 200  # the last went down 4 min ago
    w.advance(1 * MIN)
    status, body = await w.health.healthz()
    assert status == 503
    assert body["reasons"] == ["no data source has been up for 5 min: alerts cannot fire"]
    assert "binance down for 7 min (cannot connect)" in body["warnings"]


async def test_delivery_to_a_platform_failing_for_ten_minutes(world: World) -> None:
    w = world
    w.delivery.record("telegram", "permanent", "bot was blocked by the user")  # one chat's matter
    w.delivery.record("telegram", "retry", "NetworkError")
    w.advance(9 * MIN)
    w.watchdog.success("evaluate")
    w.delivery.record("telegram", "retry", "TimedOut")
    assert await w.ops.check() == 0
    w.advance(MIN)
    w.watchdog.success("evaluate")
    assert await w.ops.check() == 2
    w.delivery.record("telegram", "sent")
    assert await w.ops.check() == 2
    assert await w.told() == [
        "liqbot: delivery to Telegram failing for 10 min (TimedOut)",
        "liqbot: delivery to Telegram works again after 10 min",
    ]
    assert (await w.health.healthz())[0] == 200  # a warning, not a 503: the outbox keeps it


async def test_coinglass_key_rejected_is_told_at_once(world: World) -> None:
    w = world
    w.market.down("coinglass", w.clock.now, DownReason(Fault.AUTH_REJECTED, "CoinGlass 401"))
    assert await w.ops.check() == 2
    assert await w.told() == ["liqbot: coinglass key rejected: check COINGLASS_API_KEY"]
    w.advance(MIN)
    w.watchdog.success("evaluate")
    w.market.up("coinglass", w.clock.now)
    assert await w.ops.check() == 2
    assert (await w.told())[1] == "liqbot: coinglass accepts the key again"


async def test_a_stuck_outbox_fails_healthz_but_paused_chats_and_platforms_off_do_not(
    world: World,
) -> None:
    w = world
    msg = Message("an alert")
    await w.db.enqueue(
        [
            OutboxItem("console:local", msg, "off", w.clock.now),  # no console sender: waits
            OutboxItem("telegram:1", msg, "paused", w.clock.now),
        ]
    )
    await w.db.pause_chat("telegram:1", "blocked", w.clock.now)
    w.advance(11 * MIN)
    w.watchdog.success("evaluate")
    assert (await w.health.healthz())[0] == 200
    await w.db.enqueue([OutboxItem("telegram:2", msg, "due", w.clock.now)])
    w.advance(10 * MIN + 1)
    w.watchdog.success("evaluate")
    status, body = await w.health.healthz()
    assert status == 503
    assert body["reasons"] == ["delivery is stuck: a due message has waited 10 min"]
    assert body["outbox_pending"] == 3


async def test_the_daily_heartbeat_comes_once_a_day(world: World) -> None:
    w = world
    assert next_daily_ms("09:00", T0) == T0 + 60 * MIN
    assert await w.ops.check() == 0  # 08:00
    w.advance(60 * MIN)
    w.watchdog.success("evaluate")
    assert await w.ops.check() == 2  # 09:00
    w.advance(MIN)
    w.watchdog.success("evaluate")
    assert await w.ops.check() == 0
    for row in await w.db.due_outbox(w.clock.now, 100):  # delivered (or the outbox is stuck)
        await w.db.mark_sent(row.id, w.clock.now)
    w.advance(24 * 60 * MIN)
    w.watchdog.success("evaluate")
    assert await w.ops.check() == 2
    rows = await w.db.due_outbox(w.clock.now, 100)
    beat = plain_text(rows[0].message)
    assert beat.startswith("liqbot is running")
    assert "Sources up: binance, bybit, coinglass" in beat and "No ongoing problems." in beat


async def test_a_failed_enqueue_is_retried_at_the_next_look(world: World) -> None:
    w = world
    w.watchdog.failure("drain", RuntimeError("boom"))
    real = w.db.enqueue

    async def broken(items: object) -> int:
        raise RuntimeError("disk full")

    w.db.enqueue = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await w.ops.check()
    w.db.enqueue = real  # type: ignore[method-assign]
    assert await w.ops.check() == 2
    assert (await w.told())[0].startswith("liqbot: the delivery loop is failing")


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0 s"),
        (59_999, "59 s"),
        (5 * MIN, "5 min"),
        (130 * MIN, "2 h 10 min"),
        (27 * 60 * MIN, "1 d 3 h"),
        (48 * 60 * MIN, "2 d"),
    ],
)
def test_span(ms: int, text: str) -> None:
    assert span(ms) == text
