"""Minute buckets, rolling windows, snapshots, persistence rows and source health."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.aggregate import Aggregator, BucketRow, SourceHealth
from bot.domain.market import WINDOWS
from bot.domain.models import ALL, Liquidation, Side, VenueSplit, WindowTotals
from bot.domain.source_fault import DownReason, Fault

MIN = 60_000
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC, a minute boundary
NOW = T0 + 2 * 1440 * MIN + 30_000  # two days later, 30 s into a minute
CUR = NOW // MIN * MIN  # start of the current minute


def liq(
    coin: str = "BTC",
    side: Side = Side.LONG,
    usd: float = 100.0,
    ts: int = NOW,
    venue: str = "binance",
) -> Liquidation:
    return Liquidation(venue, coin, side, usd, ts)


def fresh(**kw: object) -> Aggregator:
    agg = Aggregator(**kw)  # type: ignore[arg-type]
    agg.snapshot(NOW - 3 * 1440 * MIN)  # a clock reading, so add() has bounds
    return agg


# ---- window sums ---------------------------------------------------------------------------

# (minutes before the current minute, window) -> inside?
BOUNDARY_CASES = [
    (0, 5, True),
    (4, 5, True),  # the 5 m window is the current minute and the four before it
    (5, 5, False),
    (14, 15, True),
    (15, 15, False),
    (59, 60, True),
    (60, 60, False),
    (1439, 1440, True),
    (1440, 1440, False),
]


@pytest.mark.parametrize(("back", "window", "inside"), BOUNDARY_CASES)
def test_minute_boundaries(back: int, window: int, inside: bool) -> None:
    agg = fresh()
    start = CUR - back * MIN
    agg.add([liq(usd=7.0, ts=start), liq(usd=11.0, ts=start + MIN - 1)], now_ms=NOW)
    # both ends of one minute land in the same bucket
    expected = 18.0 if inside else 0.0
    assert agg.window("BTC", window, NOW).longs == pytest.approx(expected)
    snap = agg.snapshot(NOW, WINDOWS)
    assert snap.value("BTC", window, Side.LONG) == pytest.approx(expected)
    assert snap.value(ALL, window, Side.TOTAL) == pytest.approx(expected)


def test_sums_per_window_side_coin_and_all() -> None:
    agg = fresh()
    agg.add(
        [
            liq("BTC", Side.LONG, 1_000.0, CUR),  # now
            liq("BTC", Side.SHORT, 2_000.0, CUR - 10 * MIN, "bybit"),
            liq("ETH", Side.SHORT, 500.0, CUR - 100 * MIN, "okx"),
            liq("ETH", Side.LONG, 300.0, CUR - 1000 * MIN),
            liq("SOL", Side.LONG, 50.0, CUR - 2000 * MIN),  # outside every window
        ],
        now_ms=NOW,
    )
    snap = agg.snapshot(NOW, WINDOWS)
    table = {
        ("BTC", 5): (1_000.0, 0.0),
        ("BTC", 15): (1_000.0, 2_000.0),
        ("BTC", 1440): (1_000.0, 2_000.0),
        ("ETH", 60): (0.0, 0.0),
        ("ETH", 120): (0.0, 500.0),
        ("ETH", 1440): (300.0, 500.0),
        (ALL, 5): (1_000.0, 0.0),
        (ALL, 120): (1_000.0, 2_500.0),
        (ALL, 720): (1_000.0, 2_500.0),
        (ALL, 1440): (1_300.0, 2_500.0),
        ("SOL", 1440): (0.0, 0.0),
    }
    for (coin, w), (longs, shorts) in table.items():
        got = snap.window_totals(coin, w)
        assert got == WindowTotals(pytest.approx(longs), pytest.approx(shorts)), (coin, w)
        assert agg.window(coin, w, NOW) == WindowTotals(
            pytest.approx(longs), pytest.approx(shorts)
        ), (coin, w)
    # only coins with liquidations in a window appear in it; ALL is always there
    assert ("ETH", 60) not in snap.totals and ("SOL", 1440) not in snap.totals
    assert all((ALL, w) in snap.totals for w in WINDOWS)


def test_venue_split_biggest_first() -> None:
    agg = fresh()
    agg.add(
        [
            liq(venue="okx", usd=10.0),
            liq(venue="bybit", usd=30.0, side=Side.SHORT),
            liq(venue="binance", usd=20.0),
            liq(venue="binance", usd=15.0, side=Side.SHORT),
            liq(coin="ETH", venue="okx", usd=1000.0),
        ],
        now_ms=NOW,
    )
    expected = (
        VenueSplit("binance", 20.0, 15.0),
        VenueSplit("bybit", 0.0, 30.0),
        VenueSplit("okx", 10.0, 0.0),
    )
    assert agg.venues("BTC", 60, NOW) == expected
    snap = agg.snapshot(NOW, WINDOWS)
    assert snap.venues[("BTC", 60)] == expected
    assert [v.venue for v in snap.venues[(ALL, 60)]] == ["okx", "binance", "bybit"]
    assert snap.venues[(ALL, 60)][0] == VenueSplit("okx", 1010.0, 0.0)


@pytest.mark.parametrize(
    ("ts", "usd", "counter"),
    [
        (NOW - 7 * 1440 * MIN, 1.0, "ignored_old"),  # beyond the 7-day retention
        (NOW + 6 * MIN, 1.0, "ignored_future"),  # beyond the 5-minute clock tolerance
        (NOW, -5.0, "ignored_bad"),
        (NOW, float("nan"), "ignored_bad"),
        (NOW, 0.0, "ignored_bad"),
    ],
)
def test_old_future_and_bad_events_are_ignored_and_counted(
    ts: int, usd: float, counter: str
) -> None:
    agg = fresh()
    assert agg.add([liq(usd=usd, ts=ts)], now_ms=NOW) == 0
    assert getattr(agg, counter) == 1
    assert agg.dirty_rows() == []
    assert agg.window(ALL, 1440, NOW).total == 0.0


def test_event_side_total_is_rejected_and_plain_strings_are_understood() -> None:
    agg = fresh()
    taken = agg.add(
        [liq(side=Side.TOTAL), liq(side="short", usd=3.0), liq(side="long", usd=2.0)],  # type: ignore[arg-type]
        now_ms=NOW,
    )
    assert (taken, agg.ignored_bad) == (2, 1)
    assert agg.window("BTC", 5, NOW) == WindowTotals(2.0, 3.0)


def test_small_clock_skew_is_accepted() -> None:
    agg = fresh()
    assert agg.add([liq(ts=NOW + 2 * MIN)], now_ms=NOW) == 1
    assert agg.window("BTC", 5, NOW + 2 * MIN).longs == 100.0


def test_out_of_order_events_land_in_their_own_minute() -> None:
    agg = fresh()
    agg.add([liq(usd=1.0, ts=CUR)], now_ms=NOW)
    before = agg.snapshot(NOW, WINDOWS)
    assert before.value("BTC", 5, Side.LONG) == 1.0
    # OKX: an event from 7 minutes ago arrives after the snapshot
    agg.add([liq(usd=2.0, ts=CUR - 7 * MIN, venue="okx")], now_ms=NOW)
    after = agg.snapshot(NOW + 1_000, WINDOWS)
    assert after.value("BTC", 5, Side.LONG) == 1.0  # not in the 5 m window
    assert after.value("BTC", 15, Side.LONG) == 3.0
    rows = agg.dirty_rows()
    assert BucketRow(CUR - 7 * MIN, "BTC", "okx", 2.0, 0.0) in rows


def test_incremental_snapshots_match_direct_sums_over_random_ticks() -> None:
    """The running sums (advance, late log, recount) against a plain sum of the buckets."""
    rng = random.Random(7)
    agg = fresh()
    now = NOW
    for _ in range(120):
        now += rng.choice((1_000, 5_000, 30_000, 61_000, 7 * MIN, 300 * MIN))
        events = [
            liq(
                rng.choice(("BTC", "ETH", "PEPE")),
                rng.choice((Side.LONG, Side.SHORT)),
                rng.uniform(1, 1e6),
                now - rng.choice((0, 0, 0, 1, 3, 30, 200, 1500)) * MIN - rng.randrange(MIN),
                rng.choice(("binance", "bybit", "okx")),
            )
            for _ in range(rng.randrange(0, 30))
        ]
        agg.add(events, now_ms=now)
        snap = agg.snapshot(now, WINDOWS)
        for coin in ("BTC", "ETH", "PEPE", ALL):
            for w in WINDOWS:
                direct = agg.window(coin, w, now)
                got = snap.window_totals(coin, w)
                assert got is not None
                assert got.longs == pytest.approx(direct.longs, rel=1e-9, abs=1e-6)
                assert got.shorts == pytest.approx(direct.shorts, rel=1e-9, abs=1e-6)


def test_clock_going_back_recounts() -> None:
    agg = fresh()
    agg.add([liq(ts=CUR - 3 * MIN)], now_ms=NOW)
    assert agg.snapshot(NOW, WINDOWS).value("BTC", 5, Side.LONG) == 100.0
    assert agg.snapshot(NOW + 10 * MIN, WINDOWS).value("BTC", 5, Side.LONG) == 0.0
    assert agg.snapshot(NOW, WINDOWS).value("BTC", 5, Side.LONG) == 100.0


# ---- persistence and pruning ---------------------------------------------------------------


def test_dirty_rows_carry_full_bucket_values_once() -> None:
    agg = fresh()
    agg.add([liq(usd=5.0), liq(usd=7.0, side=Side.SHORT), liq("ETH", usd=1.0)], now_ms=NOW)
    rows = agg.dirty_rows()
    assert sorted(rows, key=lambda r: r.coin) == [
        BucketRow(CUR, "BTC", "binance", 5.0, 7.0),
        BucketRow(CUR, "ETH", "binance", 1.0, 0.0),
    ]
    assert agg.dirty_rows() == []
    agg.add([liq(usd=3.0)], now_ms=NOW)
    # the store REPLACES values: the row must hold the whole bucket, not the increment
    assert agg.dirty_rows() == [BucketRow(CUR, "BTC", "binance", 8.0, 7.0)]


def test_load_round_trip_restores_windows() -> None:
    rng = random.Random(3)
    agg = fresh()
    events = [
        liq(
            rng.choice(("BTC", "ETH")),
            rng.choice((Side.LONG, Side.SHORT)),
            rng.uniform(1, 1e5),
            NOW - rng.randrange(3 * 1440 * MIN),
            rng.choice(("binance", "okx")),
        )
        for _ in range(500)
    ]
    agg.add(events, now_ms=NOW)
    rows = agg.dirty_rows()
    assert len({(r.minute_ms, r.coin, r.venue) for r in rows}) == len(rows)
    restored = Aggregator()
    assert restored.load(rows) == len(rows)
    assert restored.dirty_rows() == []  # loaded rows are already in the store
    a, b = agg.snapshot(NOW, WINDOWS), restored.snapshot(NOW, WINDOWS)
    assert a.totals.keys() == b.totals.keys()
    for key in a.totals:
        assert b.totals[key].longs == pytest.approx(a.totals[key].longs)
        assert b.totals[key].shorts == pytest.approx(a.totals[key].shorts)
    assert b.venues.keys() == a.venues.keys()


def test_load_replaces_a_bucket() -> None:
    agg = fresh()
    agg.add([liq(usd=5.0)], now_ms=NOW)
    agg.load([BucketRow(CUR, "BTC", "binance", 1.0, 2.0)])
    assert agg.window("BTC", 5, NOW) == WindowTotals(1.0, 2.0)
    assert agg.snapshot(NOW, WINDOWS).value("BTC", 5, Side.TOTAL) == 3.0


def test_prune_drops_only_buckets_beyond_retention() -> None:
    agg = fresh(retention_minutes=2 * 1440)
    old = CUR - 2 * 1440 * MIN + 10 * MIN  # kept now, beyond retention 20 minutes later
    agg.add([liq(usd=1.0, ts=old), liq("ETH", usd=2.0, ts=old), liq(usd=4.0)], now_ms=NOW)
    agg.snapshot(NOW, WINDOWS)  # the old minutes get frozen (compacted): still readable
    rows = {(r.coin, r.minute_ms): r for r in agg.dirty_rows()}
    assert rows[("BTC", old)].longs == 1.0
    agg.add([liq(usd=1.5, ts=old)], now_ms=NOW)  # a late event into a frozen chunk
    assert agg.dirty_rows() == [BucketRow(old, "BTC", "binance", 2.5, 0.0)]
    later = NOW + 20 * MIN
    assert agg.prune(later) >= 1
    assert agg.coins() == {"BTC"}  # ETH had nothing left
    assert agg.window("BTC", 1440, later).longs == 4.0
    assert agg.add([liq(usd=9.0, ts=old)], now_ms=later) == 0
    fresh_rows = Aggregator(retention_minutes=2 * 1440)
    fresh_rows.load([BucketRow(old, "BTC", "binance", 1.0, 0.0)])
    assert fresh_rows.prune(later) == 1


# ---- source health -------------------------------------------------------------------------


def test_health_gaps_and_never_up_source() -> None:
    h = SourceHealth(["binance", "bybit"], start_ms=T0)
    assert h.gaps(T0, "binance") == [(T0, None)]  # never came up: a gap since start
    assert h.notes(T0) == ("binance not connected yet", "bybit not connected yet")
    assert not h.any_up() and h.complete_windows(T0 + 10 * MIN, WINDOWS) == frozenset()
    h.up("binance", T0 + MIN)
    h.up("bybit", T0 + 2 * MIN)
    h.down("bybit", T0 + 10 * MIN, DownReason(Fault.DISCONNECTED, "connection reset"))
    h.down(
        "bybit", T0 + 11 * MIN, DownReason(Fault.TIMEOUT, "still failing")
    )  # keeps the original start
    h.up("bybit", T0 + 13 * MIN)
    assert h.gaps(T0, "binance") == [(T0, T0 + MIN)]
    assert h.gaps(T0, "bybit") == [(T0, T0 + 2 * MIN), (T0 + 10 * MIN, T0 + 13 * MIN)]
    assert h.gaps(T0 + 5 * MIN, "bybit") == [(T0 + 10 * MIN, T0 + 13 * MIN)]
    assert h.gaps(T0) == [(T0, T0 + 2 * MIN), (T0 + 10 * MIN, T0 + 13 * MIN)]  # merged
    assert h.notes(T0 + 5 * MIN) == ("bybit down 00:10–00:13 UTC",)
    h.down("binance", T0 + 20 * MIN, DownReason(Fault.RATE_LIMITED, "429"))
    assert h.notes(T0 + 15 * MIN) == ("binance down since 00:20 UTC (is rate limiting us)",)
    assert h.is_up("bybit") and not h.is_up("binance") and h.any_up()


# now, then which windows are complete
COMPLETE_CASES = [
    (T0 + 20 * MIN, {5}),  # the gap 00:10–00:13 is inside every window from 15 m
    (T0 + 28 * MIN, {5, 15}),  # 15 m back is 00:13, the gap's end: no overlap
    (T0 + 13 * MIN + 1440 * MIN, set(WINDOWS)),  # the start gap and the outage left the 24 h
    (T0 + 1452 * MIN, set(WINDOWS)),  # the 24 h buckets start at 00:13, the gap's end
    (T0 + 1452 * MIN - 1, set(WINDOWS) - {1440}),  # they start at 00:12: overlap
]


@pytest.mark.parametrize(("now", "complete"), COMPLETE_CASES)
def test_complete_windows(now: int, complete: set[int]) -> None:
    h = SourceHealth(["binance", "bybit"], start_ms=T0)
    h.up("binance", T0)
    h.up("bybit", T0 + MIN)
    h.down("bybit", T0 + 10 * MIN, DownReason(Fault.DISCONNECTED, "reset"))
    h.up("bybit", T0 + 13 * MIN)
    assert h.complete_windows(now, WINDOWS) == frozenset(complete)


def test_snapshot_served_and_complete_follow_health() -> None:
    agg = fresh()
    agg.add([liq(usd=50.0)], now_ms=NOW)
    h = SourceHealth(["binance", "okx"], start_ms=NOW - 30 * MIN)
    h.up("binance", NOW - 29 * MIN)
    h.up("okx", NOW - 29 * MIN)
    snap = agg.snapshot(NOW, WINDOWS, h)
    assert snap.served_windows == frozenset(WINDOWS)
    assert snap.complete_windows == frozenset(
        {5, 15}
    )  # up 29 minutes ago: the 30 m buckets start 29.5 minutes ago
    assert snap.sources == ("binance", "okx") and snap.sampled
    h.down("okx", NOW - 2 * MIN, DownReason(Fault.DISCONNECTED, "closed (1006)"))
    snap = agg.snapshot(NOW, WINDOWS, h)
    assert snap.complete_windows == frozenset()
    assert snap.gaps == (
        f"binance no data before {_hhmm(NOW - 29 * MIN)} UTC",
        f"okx no data before {_hhmm(NOW - 29 * MIN)} UTC",
        f"okx down since {_hhmm(NOW - 2 * MIN)} UTC (lost its connection)",
    )
    assert snap.past_gaps == snap.gaps[:2]  # the current outage is said apart
    assert snap.value("BTC", 5, Side.LONG) == 50.0  # still served: binance is up
    h.down("binance", NOW - MIN, DownReason(Fault.DISCONNECTED, "closed"))
    snap = agg.snapshot(NOW, WINDOWS, h)
    assert snap.served_windows == frozenset()  # every source down: unknown, not zero
    assert snap.value("BTC", 5, Side.LONG) is None


def _hhmm(ms: int) -> str:
    import time

    return time.strftime("%H:%M", time.gmtime(ms / 1000))


def test_frozen_minutes_stay_exact_through_late_events_loads_and_recounts() -> None:
    agg = fresh()
    minutes = range(CUR // MIN - 3 * 1440, CUR // MIN + 1, 7)  # three days, every 7th minute
    agg.add([liq(usd=float(m % 1000 + 1), ts=m * MIN) for m in minutes], now_ms=NOW)
    agg.snapshot(NOW, WINDOWS)  # minutes older than a day and a bit get frozen
    series = agg._series[("BTC", "binance")]
    assert len(series.cold_min) > 300 and min(series.chunks) * 15 > CUR // MIN - 1500
    two_days_ago = NOW - 2 * 1440 * MIN
    then = two_days_ago // MIN
    expected = sum(float(m % 1000 + 1) for m in minutes if then - 59 <= m <= then)
    assert agg.window("BTC", 60, two_days_ago).longs == pytest.approx(expected)
    old_minute = minutes[10]
    agg.dirty_rows()
    agg.add([liq(usd=0.5, ts=old_minute * MIN), liq(usd=0.25, ts=(old_minute + 1) * MIN)])
    assert series.get(old_minute) == (float(old_minute % 1000 + 1) + 0.5, 0.0)
    assert [(r.minute_ms // MIN, r.longs) for r in agg.dirty_rows()] == [
        (old_minute, float(old_minute % 1000 + 1) + 0.5),
        (old_minute + 1, 0.25),
    ]
    snap = agg.snapshot(NOW + 15 * MIN, WINDOWS)  # refreezes the thawed chunk
    assert series.get(old_minute + 1) == (0.25, 0.0) and old_minute // 15 not in series.chunks
    back = agg.snapshot(two_days_ago, WINDOWS)  # the clock went back: recount from cold
    assert back.value("BTC", 60, Side.LONG) == pytest.approx(expected)
    assert snap.value("BTC", 1440, Side.LONG) == pytest.approx(
        agg.window("BTC", 1440, NOW + 15 * MIN).longs
    )


# ---- load_minutes: the store's minute columns, the same as load ------------------------------


def _state(agg: Aggregator) -> object:
    """Everything an Aggregator holds, in order (series, their chunks, cold stores, sums)."""
    return (
        [
            (key, s.idx, [(ci, c.tolist()) for ci, c in s.chunks.items()],
             s.cold_min.tolist(), s.cold_val.tolist(), sorted(s.dirty), list(s.sums))
            for key, s in agg._series.items()
        ],
        agg.venue_names, agg._anchor, list(agg._late),
    )  # fmt: skip


def _columns(rows: list[BucketRow], share: bool) -> list[tuple[int, tuple, object]]:
    """Rows ordered by (minute, coin, venue) -> the store's minute columns (bucket_minutes)."""
    from array import array

    out: list[tuple[int, tuple, object]] = []
    for r in rows:
        if not out or out[-1][0] != r.minute_ms:
            out.append((r.minute_ms, [], array("d")))
        out[-1][1].append((r.coin, r.venue))
        out[-1][2].extend((r.longs, r.shorts))
    shared: list[tuple[int, tuple, object]] = []
    for m, keys, values in out:
        k = tuple(keys)
        if share and shared and shared[-1][1] == k:
            k = shared[-1][1]  # the same object, as the store hands it on
        shared.append((m, k, values))
    return shared


bucket = st.tuples(
    st.integers(-1700, 3),  # minutes from the current one: some beyond the retention
    st.sampled_from(["BTC", "ETH", "Ä", "1000PEPE"]),
    st.sampled_from(["binance", "okx", "zeta"]),  # zeta: a venue the aggregator did not name
    st.floats(0, 1e9, allow_nan=False) | st.integers(0, 10**6).map(float),
    st.floats(0, 1e9, allow_nan=False),
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(bucket, max_size=300, unique_by=lambda b: b[:3]),
    cuts=st.lists(st.integers(-1700, 3), max_size=4),
    dense_minutes=st.integers(0, 40),
    dense_at=st.sampled_from([0, -1470, -1530]),  # now, or in minutes frozen before the load
    share=st.booleans(),
    before=st.lists(bucket, max_size=20),
)
def test_load_minutes_equals_load_on_random_rows(
    rows: list[tuple[int, str, str, float, float]],
    cuts: list[int],
    dense_minutes: int,
    dense_at: int,
    share: bool,
    before: list[tuple[int, str, str, float, float]],
) -> None:
    cur = CUR // MIN
    # a run of minutes holding the same buckets: the fast path (a slice per series and chunk)
    taken = {r[:3] for r in rows}
    for back in range(dense_minutes):
        for coin, venue in (("BTC", "binance"), ("BTC", "okx"), ("ETH", "binance")):
            if (dense_at - back, coin, venue) not in taken:
                rows.append((dense_at - back, coin, venue, float(back + 1), 0.5 * back))
    # events before the load in the block's minutes and next to a lone bucket: a load into a
    # chunk with frozen minutes thaws them first
    before = [*before, (dense_at - 2, "BTC", "okx", 7.0, 0.0), (-1500, "Ä", "zeta", 1.0, 0.0)]
    if (-1502, "Ä", "zeta") not in taken:
        rows.append((-1502, "Ä", "zeta", 2.0, 3.0))
    ordered = [  # as the store orders them: (minute, coin, venue)
        BucketRow((cur + m) * MIN, coin, venue, longs, shorts)
        for m, coin, venue, longs, shorts in sorted(rows)
    ]
    old, new = Aggregator(retention_minutes=1560), Aggregator(retention_minutes=1560)
    for agg in (old, new):  # the same state before the load: events, frozen chunks, sums
        agg.add([liq(c, Side.LONG, 1.0 + lg, (cur + m) * MIN, v) for m, c, v, lg, _ in before],
                now_ms=NOW)  # fmt: skip
        agg.snapshot(NOW, WINDOWS)
    bounds = sorted({(cur + c) * MIN for c in cuts})
    slices: list[list[BucketRow]] = [[] for _ in range(len(bounds) + 1)]
    for r in ordered:  # loaded a slice at a time, as app.build does
        slices[sum(1 for b in bounds if r.minute_ms >= b)].append(r)
    for part in slices:
        assert new.load_minutes(_columns(part, share)) == old.load(part)
        assert _state(new) == _state(old)
    a, b = old.snapshot(NOW, WINDOWS), new.snapshot(NOW, WINDOWS)
    assert list(a.totals.items()) == list(b.totals.items())
    assert list(a.venues.items()) == list(b.venues.items())
    assert _state(new) == _state(old)
    later = NOW + 7 * MIN  # and they stay equal as the clock moves (sums stepped, not recounted)
    for agg in (old, new):
        agg.add([liq("BTC", Side.SHORT, 3.25, later, "okx")], now_ms=later)
    assert old.snapshot(later, WINDOWS) == new.snapshot(later, WINDOWS)
    assert _state(new) == _state(old)


def test_load_minutes_fills_a_shared_run_per_series() -> None:
    """Fifteen minutes sharing one keys tuple land minute by minute in the right series."""
    from array import array

    agg = fresh()
    m0 = CUR // MIN // 15 * 15 - 15  # a whole chunk, before the current minute
    keys = (("BTC", "binance"), ("ETH", "okx"))
    cols = [
        ((m0 + i) * MIN, keys, array("d", [i + 1.0, 10.0 * i, 100.0 + i, 0.0])) for i in range(15)
    ]
    assert agg.load_minutes(cols) == 30
    btc, eth = agg._series[("BTC", "binance")], agg._series[("ETH", "okx")]
    assert [btc.get(m0 + i) for i in range(15)] == [(i + 1.0, 10.0 * i) for i in range(15)]
    assert [eth.get(m0 + i) for i in range(15)] == [(100.0 + i, 0.0) for i in range(15)]
    assert agg.window("BTC", 60, NOW).longs == sum(range(1, 16))
    assert agg.dirty_rows() == []  # loaded buckets are already in the store


@settings(max_examples=200, deadline=None)
@given(
    minutes=st.lists(
        st.tuples(st.integers(-1700, 2), st.floats(0, 1e9), st.floats(0, 1e9)), max_size=200
    ),
    clock_back=st.integers(0, 200),
    every_minute=st.booleans(),
)
def test_recount_gives_range_sums_bit_for_bit(
    minutes: list[tuple[int, float, float]], clock_back: int, every_minute: bool
) -> None:
    """The running sums a recount sets (whole chunks summed once for every window) are the
    floats range_sum gives per window, in dense chunks and frozen minutes alike."""
    agg = Aggregator(retention_minutes=1800)
    cur = CUR // MIN
    if every_minute:  # no chunk empty, the ends of every window in the middle of one
        minutes = [*minutes, *((m, 0.1 + m % 97, 0.0) for m in range(-1700, 3))]
    events = [liq(usd=lg, ts=(cur + m) * MIN) for m, lg, _ in minutes if lg > 0]
    events += [liq(side=Side.SHORT, usd=sh, ts=(cur + m) * MIN) for m, _, sh in minutes if sh > 0]
    agg.add(events, now_ms=NOW)
    agg.snapshot(NOW, WINDOWS)  # freezes the oldest chunks
    at = NOW - clock_back * MIN  # the clock went back: every series recounted
    agg.snapshot(at, WINDOWS)
    anchor = at // MIN - 1
    for s in agg._series.values():
        expected = [x for w in agg.windows for x in s.range_sum(anchor - w + 2, anchor)]
        assert [(type(x), float(x).hex()) for x in s.sums] == [
            (type(x), float(x).hex()) for x in expected
        ]
