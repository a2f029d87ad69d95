"""Issue 14's pure parts: backtests against a hand-computed case, "usual" against a hand-built
history, single-liquidation matching, venue views and the grammar of the new rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.backtest import backtest
from bot.domain.baselines import DAY_MS, HOUR_MS, MINUTE_MS, side_values, usual_by_hour
from bot.domain.command_types import CommandError, Liqs, Subscribe, Top
from bot.domain.commands import parse_command
from bot.domain.extra_rules import ExtraRules
from bot.domain.models import (
    ALL,
    AlertKind,
    Liquidation,
    Side,
    Snapshot,
    Status,
    Subscription,
    VenueSplit,
    WindowTotals,
)
from bot.domain.rules import Policy
from bot.domain.venue_view import venue_snapshot

K = 1_000.0
DAY0 = 1768262400000  # 2026-01-13 00:00 UTC


def sub(**kw: object) -> Subscription:
    base: dict[str, object] = dict(
        id=1, chat_key="c", coin="BTC", window=5, side=Side.TOTAL, threshold=100 * K
    )
    base.update(kw)
    return Subscription(**base)  # type: ignore[arg-type]


# ---- backtest: the real lifecycle, counted by hand ------------------------------------------


def test_backtest_counts_episodes_with_hysteresis_and_quiet_time() -> None:
    """5m window, $100K, re-arm below 80% and at least 15 minutes after firing.

    minute 10: $120K -> fires at the end of minute 10 (t=11 min). Window empty from minute 15,
    but the quiet time holds it fired until t=26: the $150K spike at minute 20 is NOT a new alert
    (without the quiet time it would be). Re-armed at the end of minute 25. Minute 40: $100K ->
    fires (t=41). Minute 42: $60K (window $160K: not 2x). Minute 50: $250K (window 46..50 holds
    only it: $250K >= $200K while still fired, quiet until t=56) -> one escalation.
    So: fired 2 times, last at t=41 min, 1 escalation.
    """
    start = DAY0
    m0 = start // MINUTE_MS
    values = {m0 + 10: 120 * K, m0 + 20: 150 * K, m0 + 40: 100 * K, m0 + 42: 60 * K}
    values[m0 + 50] = 250 * K
    now = start + 120 * MINUTE_MS
    policy = Policy(rearm_ratio=0.8, min_quiet_ms=15 * MINUTE_MS)
    r = backtest(policy, sub(), values, start, now)
    assert r is not None
    assert (r.fired, r.escalations) == (2, 1)
    assert r.last_ms == start + 41 * MINUTE_MS
    assert r.since_ms == start + 4 * MINUTE_MS  # the first whole 5-minute window ends there
    assert r.until_ms == now

    # without the quiet time: re-armed at minutes 15 and 45 (window back under $80K), so the
    # spikes at 20 and 50 are episodes of their own: 4 alerts (10, 20, 40, 50), no escalation
    loose = backtest(Policy(rearm_ratio=0.8, min_quiet_ms=0), sub(), values, start, now)
    assert loose is not None and (loose.fired, loose.escalations) == (4, 0)
    assert loose.last_ms == start + 51 * MINUTE_MS


def test_backtest_never_rearms_over_a_recorded_outage() -> None:
    """As live: a window with a gap may not re-arm. Outage minutes 14..30 keep the rule fired
    from minute 10 through minute 34 (windows 30..34 touch the gap), so the spike at minute 20 is
    no new episode even without a quiet time, and minute 40 is the second: 2, not 3."""
    m0 = DAY0 // MINUTE_MS
    values = {m0 + 10: 120 * K, m0 + 20: 150 * K, m0 + 40: 100 * K}
    now = DAY0 + 60 * MINUTE_MS
    policy = Policy(rearm_ratio=0.8, min_quiet_ms=0)
    assert backtest(policy, sub(), values, DAY0, now).fired == 3  # type: ignore[union-attr]
    gap = [(DAY0 + 14 * MINUTE_MS, DAY0 + 30 * MINUTE_MS + 5_000)]
    r = backtest(policy, sub(), values, DAY0, now, gaps=gap)
    assert r is not None and r.fired == 2 and r.last_ms == DAY0 + 41 * MINUTE_MS


def test_backtest_needs_a_whole_window_of_history() -> None:
    now = DAY0 + 30 * MINUTE_MS
    assert backtest(Policy(), sub(window=60), {}, DAY0, now) is None
    r = backtest(Policy(), sub(window=5), {}, DAY0, now)
    assert r is not None and r.fired == 0 and r.last_ms is None


def test_backtest_reads_at_most_seven_days() -> None:
    m0 = DAY0 // MINUTE_MS
    now = DAY0 + 10 * DAY_MS
    values = {m0 + 60: 500 * K, m0 + 9 * 1440: 500 * K}  # day 0 (too old) and day 9
    r = backtest(Policy(), sub(), values, DAY0, now)
    assert r is not None and r.fired == 1 and r.last_ms == DAY0 + 9 * DAY_MS + MINUTE_MS
    # with older history joined in (CoinGlass, bot.features.backtest_history) it may reach further back
    far = backtest(Policy(), sub(), values, DAY0, now, max_days=30)
    assert far is not None and far.fired == 2 and far.since_ms == DAY0 + 4 * MINUTE_MS


# ---- "usual" for coin, window and hour of day -----------------------------------------------


def hand_history(days: int, first_ms: int) -> dict[int, float]:
    """$1K of longs every minute, $3K during 14:00-14:59 UTC, for `days` whole days."""
    out = {}
    for m in range(first_ms // MINUTE_MS, first_ms // MINUTE_MS + days * 1440):
        hour = m % 1440 // 60
        out[m] = 3 * K if hour == 14 else 1 * K
    return out


def test_usual_is_the_median_of_daily_means_by_hour() -> None:
    first = DAY0
    now = DAY0 + 4 * DAY_MS + 15 * HOUR_MS + 30 * MINUTE_MS  # day 5, 15:30
    values = hand_history(4, first) | hand_history(1, DAY0 + 4 * DAY_MS)  # today so far too
    usual = usual_by_hour(values, 60, now, first)
    # 14:k: the hour window holds (59-k) minutes at $1K and (k+1) at $3K = $62K + $2K*k;
    # the mean over k = 0..59 is $62K + $2K*29.5 = $121K, every day: median $121K
    assert usual[14].usd == pytest.approx(121 * K)
    assert usual[14].days == 4
    # 15:k: (59-k) minutes of the 14h at $3K, (k+1) at $1K: mean $60K + 2K*(59-29.5) = $119K
    assert usual[15].usd == pytest.approx(119 * K)
    assert usual[10].usd == pytest.approx(60 * K)
    # hour 0 of the first day has no window before it in the store: 3 days (enough), not 4
    assert usual[0].days == 3


def test_usual_waits_for_three_days_at_that_hour() -> None:
    first = DAY0
    now = DAY0 + 2 * DAY_MS + 12 * HOUR_MS
    usual = usual_by_hour(hand_history(3, first), 60, now, first)
    assert 10 not in usual and 14 not in usual  # two whole days: not enough
    assert usual_by_hour({}, 60, now, None) == {}


def test_side_values_pick_the_rules_side() -> None:
    rows = [(DAY0, 10.0, 5.0), (DAY0 + MINUTE_MS, 0.0, 7.0)]
    m = DAY0 // MINUTE_MS
    assert side_values(rows, Side.LONG) == {m: 10.0}
    assert side_values(rows, Side.SHORT) == {m: 5.0, m + 1: 7.0}
    assert side_values(rows, Side.TOTAL) == {m: 15.0, m + 1: 7.0}


# ---- single liquidations --------------------------------------------------------------------


def liq(
    usd: float, coin: str = "BTC", side: Side = Side.LONG, venue: str = "binance"
) -> Liquidation:
    return Liquidation(venue, coin, side, usd, DAY0, "X", 94_210.0)


def test_single_index_matches_coin_side_venue_and_threshold() -> None:
    x = ExtraRules(Policy())
    x.add(sub(id=1, kind="single", window=0, threshold=1e6))
    x.add(sub(id=2, kind="single", window=0, threshold=2e6, side=Side.SHORT))
    x.add(sub(id=3, kind="single", window=0, coin=ALL, threshold=5e6, venue="bybit"))
    assert x.singles.floor == 1e6
    x.singles.offer(
        [liq(999_999.0), liq(1e6), liq(3e6, side=Side.SHORT), liq(6e6, "ETH", venue="bybit"),
         liq(6e6, "ETH"), liq(float("nan"))]
    )  # fmt: skip
    got = sorted((h.sub.id, h.event.usd, h.event.coin) for h in x.take_singles())
    assert got == [(1, 1e6, "BTC"), (1, 3e6, "BTC"), (2, 3e6, "BTC"), (3, 6e6, "ETH")]
    assert x.take_singles() == []
    x.remove(1)
    assert x.singles.floor == 2e6
    x.remove(2), x.remove(3)
    assert x.singles.floor == float("inf") and len(x) == 0


# ---- venue filters --------------------------------------------------------------------------


def snapshot(now: int = DAY0) -> Snapshot:
    return Snapshot(
        now,
        {("BTC", 60): WindowTotals(30e6, 90e6), (ALL, 60): WindowTotals(40e6, 100e6)},
        {
            ("BTC", 60): (VenueSplit("binance", 20e6, 80e6), VenueSplit("bybit", 10e6, 10e6)),
            (ALL, 60): (VenueSplit("binance", 25e6, 85e6), VenueSplit("bybit", 15e6, 15e6)),
        },
        frozenset({60}),
        frozenset({60}),
        ("binance", "bybit"),
    )


def test_venue_view_is_that_venues_share() -> None:
    v = venue_snapshot(snapshot(), "bybit")
    assert v.value("BTC", 60, Side.SHORT) == 10e6
    assert v.value(ALL, 60, Side.TOTAL) == 30e6
    assert v.value("ETH", 60, Side.TOTAL) == 0.0  # served, nothing on that venue
    assert venue_snapshot(snapshot(), "okx").value("BTC", 60, Side.TOTAL) == 0.0


def test_venue_rule_fires_on_its_venue_only_with_the_lifecycle() -> None:
    x = ExtraRules(Policy())
    x.add(sub(id=7, window=60, side=Side.SHORT, threshold=50e6, venue="binance"))
    x.add(sub(id=8, window=60, side=Side.SHORT, threshold=50e6, venue="bybit"))
    ts = x.evaluate(snapshot(), DAY0)
    assert [t.sub_id for t in ts] == [7]
    alert = ts[0].alert
    assert alert is not None and alert.kind is AlertKind.FIRED and alert.value == 80e6
    assert alert.venues == (VenueSplit("binance", 20e6, 80e6),)
    x.apply(ts)
    assert x.evaluate(snapshot(), DAY0 + 60_000) == []  # fired: no second alert
    state = x.state(7)
    assert state is not None and state.status is Status.FIRED


def test_relative_rule_waits_then_fires_at_factor_times_usual() -> None:
    from bot.domain.baselines import Usual

    x = ExtraRules(Policy())
    rel = sub(id=9, window=60, side=Side.SHORT, threshold=0.0, factor=3.0)
    x.add(rel)
    assert x.evaluate(snapshot(), DAY0) == []  # no baseline yet: waits
    x.set_baselines(("BTC", 60, Side.SHORT, None), {0: Usual(20e6, 5)})
    [t] = x.evaluate(snapshot(), DAY0)  # 00:00 UTC: 3 x $20M = $60M <= $90M
    assert t.alert is not None and t.alert.sub.threshold == 60e6 and t.alert.value == 90e6
    x.set_baselines(("BTC", 60, Side.SHORT, None), {0: Usual(40e6, 5)})
    assert x.evaluate(snapshot(), DAY0) == []  # $120M needed


# ---- grammar --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/subscribe btc single 1m", Subscribe("BTC", 0, 1e6, single=True)),
        ("/subscribe all single 2.5m longs on okx",
         Subscribe(ALL, 0, 2.5e6, Side.LONG, venue="okx", single=True)),
        ("/subscribe btc 1h 100m shorts on binance",
         Subscribe("BTC", 60, 100e6, Side.SHORT, venue="binance")),
        ("/subscribe btc 1h 3x", Subscribe("BTC", 60, 0.0, factor=3.0)),
        ("/subscribe eth 4h 2.5x short bybit",
         Subscribe("ETH", 240, 0.0, Side.SHORT, venue="bybit", factor=2.5)),
        ("/subscribe btc 1h 10m on gate", Subscribe("BTC", 60, 10e6, venue="gate")),
        ("/top", Top(60)),
        ("/top 4h", Top(240)),
    ],
)  # fmt: skip
def test_new_rule_grammar(text: str, expected: object) -> None:
    assert parse_command(text) == expected


def test_a_venue_named_like_a_coin_needs_on() -> None:
    coins = frozenset({"HTX"})  # HTX is also a token the venues may list
    assert parse_command("/liqs htx", known_coins=coins) == Liqs("HTX")
    assert parse_command("/liqs btc on htx", known_coins=coins) == Liqs("BTC", venue="htx")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("/subscribe btc 1h 100m on kraken", "unknown venue 'kraken'"),
        ("/subscribe btc 1h 100m on", "on which venue?"),
        ("/subscribe btc 1h 100m on binance on bybit", "one venue at most"),
        ("/subscribe btc single 5k", "too small for single liquidations"),
        ("/subscribe btc single", "smallest single liquidation"),
        ("/subscribe btc 1h 0.5x", "the multiple goes from 1.1x to 50x"),
        ("/top 3d", "window"),
        ("/backtest btc 1h", "amount is missing"),
    ],
)
def test_new_rule_grammar_errors(text: str, fragment: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_command(text)
    assert fragment in info.value.message


_coins = st.sampled_from(["BTC", "ETH", ALL])
_sides = st.sampled_from([Side.LONG, Side.SHORT, Side.TOTAL])
_venues = st.sampled_from([None, "binance", "bybit"])
_usd = st.sampled_from([1e4, 5e4, 1e5, 2e5, 1e6])


@settings(max_examples=150, deadline=None)
@given(
    rules=st.lists(st.tuples(_coins, _sides, _venues, _usd), max_size=12),
    removed=st.sets(st.integers(1, 12), max_size=4),
    evs=st.lists(
        st.tuples(st.sampled_from(["BTC", "ETH", "SOL"]), st.sampled_from([Side.LONG, Side.SHORT]),
                  st.sampled_from(["binance", "bybit", "okx"]), _usd),
        max_size=10,
    ),
)  # fmt: skip
def test_single_index_agrees_with_a_plain_filter(
    rules: list[tuple[str, Side, str | None, float]],
    removed: set[int],
    evs: list[tuple[str, Side, str, float]],
) -> None:
    x = ExtraRules(Policy())
    subs = [
        sub(id=i, coin=c, side=s, venue=v, threshold=t, kind="single", window=0)
        for i, (c, s, v, t) in enumerate(rules, 1)
    ]
    for s in subs:
        x.add(s)
    for i in removed:
        x.remove(i)
    live = [s for s in subs if s.id not in removed]
    events = [Liquidation(v, c, side, usd, DAY0) for c, side, v, usd in evs]
    x.singles.offer(events)
    got = sorted(
        (h.sub.id, i) for h in x.take_singles() for i, e in enumerate(events) if e is h.event
    )
    want = sorted(
        (s.id, i)
        for i, e in enumerate(events)
        for s in live
        if e.usd >= s.threshold
        and s.coin in (e.coin, ALL)
        and s.side in (e.side, Side.TOTAL)
        and s.venue in (e.venue, None)
    )
    assert got == want
    assert x.singles.floor == min((s.threshold for s in live), default=float("inf"))


def test_relative_rule_on_one_venue_reads_that_venue() -> None:
    from bot.domain.baselines import Usual

    x = ExtraRules(Policy())
    x.add(sub(id=5, window=60, side=Side.SHORT, threshold=0.0, factor=2.0, venue="bybit"))
    x.set_baselines(("BTC", 60, Side.SHORT, "bybit"), {0: Usual(4e6, 3)})
    [t] = x.evaluate(snapshot(), DAY0)  # Bybit shorts $10M >= 2 x $4M (the market's $90M aside)
    assert t.alert is not None and t.alert.value == 10e6 and t.alert.sub.threshold == 8e6
    assert t.alert.venues == (VenueSplit("bybit", 10e6, 10e6),)
    x.set_baselines(("BTC", 60, Side.SHORT, "bybit"), {0: Usual(6e6, 3)})
    assert x.evaluate(snapshot(), DAY0) == []  # $12M needed on Bybit
