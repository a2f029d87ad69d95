"""The evaluation step as the running service wires it: real store, real book, real market."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from bot.config import Secrets, parse_config
from bot.domain.models import Liquidation, Side, Status, WindowTotals
from bot.domain.source_fault import DownReason, Fault
from bot.runtime import app
from tests.test_e2e_console import ManualClock

T0 = 1_800_000_000_000


@pytest.fixture
async def live(tmp_path: Path):
    """A runtime fed $150M of ETH longs over the last 10 minutes; always stopped afterwards."""
    replay = tmp_path / "wave.jsonl"
    rows = [
        {
            "t": -600 + i,
            "venue": "bybit",
            "symbol": "ETHUSDT",
            "coin": "ETH",
            "side": "long",
            "usd": 1.5e6,
        }
        for i in range(100)
    ]
    replay.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "t.sqlite3")},
            "sources": {"replay": {"enabled": True, "url": str(replay)}},
            "console": {"enabled": "on"},
        }
    )
    out = io.StringIO()
    rt = await app.build(config, Secrets(), stdout=out, clock=ManualClock(T0))
    await rt.replay.run(rt.market)
    try:
        yield rt, out
    finally:
        await app.stop(rt)


async def test_alerts_of_one_chat_in_one_tick_become_one_message(live) -> None:
    rt, out = live
    for line in (
        "/subscribe eth 1h 100m",
        "/subscribe eth 15m 50m longs",
        "/subscribe all 1h 120m",
    ):
        await rt.console.handle_line(line)
    before = len(out.getvalue())
    assert await rt.engine.tick() == 1  # three alerts, one message
    stats = await rt.delivery.drain()
    assert stats.sent == 1
    text = out.getvalue()[before:]
    assert "ETH liquidations in 1h" in text and "ETH longs liquidated in 15m" in text
    assert "Market-wide liquidations in 1h" in text
    assert await rt.engine.tick() == 0  # still above the line: no repeat


async def test_paused_chat_is_silenced_and_muted_coin_too(live) -> None:
    rt, _ = live
    db = rt.db
    a = await db.add_subscription("telegram:-5", "ETH", 60, Side.TOTAL, 100e6, T0)
    b = await db.add_subscription("telegram:7", "ETH", 60, Side.TOTAL, 100e6, T0)
    c = await db.add_subscription("telegram:8", "ETH", 60, Side.TOTAL, 100e6, T0)
    for s in (a, b, c):
        rt.book.add(s)
    await db.pause_chat("telegram:-5", "bot was kicked")
    await db.set_mute("telegram:7", "ETH", T0 + 3600_000)
    assert await rt.engine.tick() == 1
    due = await db.due_outbox(T0, 10)
    assert [r.chat_key for r in due] == ["telegram:8"]
    # the silenced ones still moved through their lifecycle: unmuting brings no stale burst
    assert rt.book.state(a.id).status is Status.FIRED
    assert rt.book.state(b.id).status is Status.FIRED


async def test_book_follows_a_chat_migration(live) -> None:
    rt, _ = live
    sub = await rt.db.add_subscription("telegram:-42", "ETH", 60, Side.TOTAL, 100e6, T0)
    rt.book.add(sub)
    await rt.db.migrate_chat("telegram:-42", "telegram:-10042", T0)
    for _ in range(5):
        await asyncio.sleep(0)
    assert rt.book.subscription(sub.id).chat_key == "telegram:-10042"
    assert await rt.engine.tick() == 1
    assert [r.chat_key for r in await rt.db.due_outbox(T0, 10)] == ["telegram:-10042"]


async def test_no_data_is_not_zero(live) -> None:
    rt, _ = live
    await rt.console.handle_line("/subscribe eth 1h 100m")
    assert await rt.engine.tick() == 1
    sub = (await rt.db.list_subscriptions("console:local"))[-1]
    # the source goes down and the window empties: without data nothing may re-arm
    rt.market.down("replay", T0 + 1000, DownReason(Fault.DISCONNECTED, "connection lost"))
    rt.clock.now = T0 + 3 * 3600_000
    await rt.engine.tick()
    assert rt.book.state(sub.id).status is Status.FIRED
    status = rt.market.status(rt.clock.now)
    assert status[0].state == "down" and "connection lost" in status[0].note


async def test_a_data_run_evaluates_only_what_the_data_touched_and_the_tick_the_rest(
    live,
) -> None:
    rt, out = live
    await rt.console.handle_line("/subscribe eth 1h 100m")  # already crossed by the replay
    await rt.console.handle_line("/subscribe btc 1h 10m shorts")
    rt.market.take_touched()  # the replay's ETH data counts as evaluated already
    rt.market.events("bybit", [Liquidation("bybit", "BTC", Side.SHORT, 20e6, T0 - 1000)])
    assert await rt.engine.evaluate_new_data() == 1
    await rt.delivery.drain()
    assert "BTC shorts liquidated in 1h" in out.getvalue()
    assert "ETH liquidations in 1h" not in out.getvalue()  # ETH had no new data
    assert await rt.engine.evaluate_new_data() == 0  # nothing new since
    assert await rt.engine.tick() == 1  # the tick looks at every series
    await rt.delivery.drain()
    assert "ETH liquidations in 1h" in out.getvalue()


async def test_coinglass_totals_touch_every_series(live) -> None:
    rt, _ = live
    rt.market.take_touched()
    rt.market.events("bybit", [Liquidation("bybit", "BTC", Side.LONG, 1.0, T0 - 1000)])
    assert rt.market.take_touched() == {("BTC", Side.LONG)}
    rt.market.totals("coinglass", T0, {("BTC", 60): WindowTotals(1.0, 2.0)}, {})
    assert rt.market.take_touched() is None  # whole windows replaced: evaluate all
    assert rt.market.take_touched() == set()


async def test_a_ticks_alert_unsent_past_its_window_is_dropped_not_sent_late(live) -> None:
    """The tick's outbox rows carry their expiry (created + the rule's window): an alert the
    delivery could not send before its window rolled past is dropped and counted, not sent
    hours late (commit_transitions had left expires_ms out: only the 6 h cap applied)."""
    rt, out = live
    await rt.console.handle_line("/subscribe eth 15m 50m longs")
    assert await rt.engine.tick() == 1  # queued, not yet delivered
    rt.clock.now += 16 * 60_000  # the console was away for longer than the rule's window
    before = out.getvalue()
    stats = await rt.delivery.drain()
    assert (stats.sent, stats.expired) == (0, 1)
    assert "ETH liquidations in 15m" not in out.getvalue()[len(before) :]
    assert await rt.db.count_expired(0) == 1


async def test_a_commit_failing_after_the_book_moved_takes_the_moves_back(live) -> None:
    """The book applies a tick's moves while the store's last writes run: a commit that fails
    then (here at COMMIT itself, a deferred foreign key) must leave the book as it was, or the
    alert it never stored would never come."""
    rt, out = live
    await rt.console.handle_line("/subscribe eth 1h 100m")
    (sub,) = rt.book.subscriptions()
    await rt.db._write(
        "CREATE TABLE tripwire (x INTEGER REFERENCES subscriptions(id) DEFERRABLE INITIALLY "
        "DEFERRED)"
    )
    await rt.db._write(
        "CREATE TRIGGER trip AFTER INSERT ON outbox BEGIN INSERT INTO tripwire VALUES (-1); END"
    )
    with pytest.raises(Exception, match="FOREIGN KEY"):
        await rt.engine.tick()
    assert rt.book.state(sub.id).status is Status.ARMED
    assert await rt.db.load_states() == {}
    await rt.db._write("DROP TRIGGER trip")
    assert await rt.engine.tick() == 1  # the same alert, now that the store takes it
    assert (await rt.delivery.drain()).sent == 1
    assert "ETH liquidations in 1h" in out.getvalue()
    assert rt.book.state(sub.id).status is Status.FIRED


async def test_a_tick_whose_last_write_fails_keeps_none_of_its_writes(live) -> None:
    """SQLite undoes only the failed statement of a transaction: the tick's states, written
    before its messages, must not be committed without them (the COMMIT waits for every write)."""
    rt, _out = live
    await rt.console.handle_line("/subscribe eth 1h 100m")
    (sub,) = rt.book.subscriptions()
    await rt.db._write(
        "CREATE TRIGGER trip BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
    )
    with pytest.raises(Exception, match="disk says no"):
        await rt.engine.tick()
    assert await rt.db.load_states() == {}  # not the state without its alert
    assert rt.book.state(sub.id).status is Status.ARMED
    await rt.db._write("DROP TRIGGER trip")
    assert await rt.engine.tick() == 1
    assert (await rt.delivery.drain()).sent == 1
