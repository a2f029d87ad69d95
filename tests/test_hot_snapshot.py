"""Start-up's snapshot of the hot buckets (issue 18 item 4): written at a clean stop beside the
SQLite file, used at the next start only when it matches the store, else today's load.

Through the production wiring (`app.build` / `app.stop` on a real SQLite file): the snapshot path
must fill the aggregator exactly as the store path does, and a stale, damaged or missing
snapshot must fall back to the store."""

from __future__ import annotations

import logging
import random
from itertools import pairwise
from pathlib import Path

import pytest

from bot.config import Secrets, parse_config
from bot.domain.aggregate import Aggregator
from bot.domain.models import ALL, Liquidation, Side
from bot.runtime import app
from bot.runtime.clock import Clock
from bot.runtime.hot_buckets import HOT_MINUTES
from bot.runtime.hot_snapshot import read_snapshot, snapshot_path, write_snapshot
from bot.store import Database
from bot.store.rows import BucketRow
from tests.offline import sources_off

MIN = 60_000
T0 = 1_800_000_000_000 + 10_000
COINS = ("BTC", "ETH", "SOL", "DOGE")
VENUES = ("binance", "bybit")


class ManualClock(Clock):
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


def config(tmp_path: Path):  # type: ignore[no-untyped-def]
    return parse_config(
        {
            "storage": {"path": str(tmp_path / "hot.sqlite3")},
            "sources": sources_off(binance={}, bybit={}),
            "console": {"enabled": "on"},
        }
    )


def history(rng: random.Random, now: int) -> list[BucketRow]:
    """A day and more of buckets, sparse, with cents (the store keeps whole dollars)."""
    rows = []
    for m in range(now // MIN - HOT_MINUTES - 30, now // MIN - 1):
        for coin in COINS:
            for venue in VENUES:
                if rng.random() < 0.3:
                    rows.append(
                        BucketRow(
                            m * MIN,
                            coin,
                            venue,
                            rng.choice([0.0, rng.uniform(0, 5e6)]),
                            rng.uniform(0, 5e6),
                        )
                    )
    return rows


async def seeded_store(tmp_path: Path, now: int) -> Path:
    path = tmp_path / "hot.sqlite3"
    db = await Database.open(path)
    await db.upsert_buckets(history(random.Random(7), now))
    await db.close()
    return path


def totals(rt: app.Runtime) -> dict[tuple[str, int, str], float]:
    snap = rt.market.agg.snapshot(rt.clock.now_ms())
    return {
        (coin, w, side.value): snap.value(coin, w, side) or 0.0
        for coin in (*COINS, ALL)
        for w in (5, 60, 240, 720, 1440)
        for side in (Side.LONG, Side.SHORT)
    }


async def build(tmp_path: Path, now: int) -> app.Runtime:
    return await app.build(config(tmp_path), Secrets(), clock=ManualClock(now))


async def test_a_clean_stop_writes_it_and_the_next_start_fills_the_aggregator_alike(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await seeded_store(tmp_path, T0)
    rt = await build(tmp_path, T0)  # no snapshot yet: from the store
    rt.market.events("binance", [Liquidation("binance", "BTC", Side.LONG, 12_345.67, T0 - 5_000)])
    from_store = totals(rt)
    columns_before = rt.market.agg.minute_columns(T0 - HOT_MINUTES * MIN)
    await app.stop(rt)
    snap = snapshot_path(tmp_path / "hot.sqlite3")
    assert snap.exists()

    with caplog.at_level(logging.INFO, logger="bot.runtime.hot_buckets"):
        rt2 = await build(tmp_path, T0 + 20_000)
    assert any("from the snapshot" in r.getMessage() for r in caplog.records)
    try:
        via_snapshot = rt2.market.agg.minute_columns(T0 - HOT_MINUTES * MIN)
        assert via_snapshot == columns_before
        with_snapshot = totals(rt2)
    finally:
        await app.stop(rt2)
    snap.unlink()
    rt3 = await build(tmp_path, T0 + 20_000)  # the same start from the store
    try:
        assert rt3.market.agg.minute_columns(T0 - HOT_MINUTES * MIN) == via_snapshot
        assert totals(rt3) == with_snapshot
    finally:
        await app.stop(rt3)
    # the live event survived at the store's whole-dollar precision, by either path
    assert with_snapshot[("BTC", 5, Side.LONG.value)] == round(
        from_store[("BTC", 5, Side.LONG.value)]
    )


async def test_a_write_after_the_snapshot_makes_it_stale(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await seeded_store(tmp_path, T0)
    rt = await build(tmp_path, T0)
    await app.stop(rt)
    db = await Database.open(tmp_path / "hot.sqlite3")  # say, a restored copy written since
    await db.upsert_buckets([BucketRow(T0 - 2 * MIN, "XRP", "binance", 7e6, 0.0)])
    await db.close()
    with caplog.at_level(logging.INFO, logger="bot.runtime.hot_buckets"):
        rt2 = await build(tmp_path, T0)
    try:
        assert any("stale" in r.getMessage() for r in caplog.records)
        assert rt2.market.agg.snapshot(T0).value("XRP", 60, Side.LONG) == 7e6
    finally:
        await app.stop(rt2)


@pytest.mark.parametrize(
    "damage",
    ["flip", "truncate", "magic", "empty"],
)
async def test_a_damaged_snapshot_is_refused_and_the_store_read(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    await seeded_store(tmp_path, T0)
    rt = await build(tmp_path, T0)
    expected = rt.market.agg.minute_columns(T0 - HOT_MINUTES * MIN)
    await app.stop(rt)
    snap = snapshot_path(tmp_path / "hot.sqlite3")
    raw = bytearray(snap.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0x40
    elif damage == "truncate":
        del raw[-100:]
    elif damage == "magic":
        raw[:5] = b"XXXXX"
    else:
        raw = bytearray()
    snap.write_bytes(bytes(raw))
    with caplog.at_level(logging.INFO, logger="bot.runtime.hot_buckets"):
        rt2 = await build(tmp_path, T0)
    try:
        said = " ".join(r.getMessage() for r in caplog.records)
        assert "read from the store" in said and "from the snapshot" not in said
        assert rt2.market.agg.minute_columns(T0 - HOT_MINUTES * MIN) == expected
    finally:
        await app.stop(rt2)


def test_round_trip_of_the_file_and_the_token_check(tmp_path: Path) -> None:
    agg = Aggregator(venues=VENUES, retention_minutes=HOT_MINUTES)
    agg.load(history(random.Random(3), T0))
    columns = agg.minute_columns(0)
    assert columns, "the history has buckets"
    path = tmp_path / "x.hot"
    write_snapshot(path, "tok", T0, columns)
    back, why = read_snapshot(path, "tok")
    assert why == "" and back == columns
    # consecutive minutes of one (coin, venue) list share a tuple, as the store hands them
    # (load_minutes writes such a run per series at once)
    assert all(a[1] is b[1] for a, b in pairwise(back) if a[1] == b[1])
    assert read_snapshot(path, "other")[0] is None
    assert read_snapshot(path, None)[1].startswith("snapshot stale")
    assert read_snapshot(tmp_path / "missing.hot", "tok") == (None, "no snapshot")


async def test_the_store_and_the_snapshot_hand_load_minutes_the_same_columns(
    tmp_path: Path,
) -> None:
    """Aggregator.minute_columns is what Database.bucket_minutes returns for the same buckets."""
    rows = history(random.Random(11), T0)
    db = await Database.open(tmp_path / "s.sqlite3")
    try:
        await db.upsert_buckets(rows)
        from_store = await db.bucket_minutes(T0 - HOT_MINUTES * MIN)
    finally:
        await db.close()
    agg = Aggregator(venues=VENUES, retention_minutes=HOT_MINUTES + 60)
    agg.load(rows)
    assert agg.minute_columns(T0 - HOT_MINUTES * MIN) == from_store
