"""The alert lifecycle and the indexed rules engine (checked against the one-by-one evaluator)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.market import WINDOWS
from bot.domain.models import (
    ALL,
    AlertKind,
    AlertState,
    Side,
    Snapshot,
    Status,
    Subscription,
    Transition,
    VenueSplit,
    WindowTotals,
)
from bot.domain.rules import Policy, RuleBook

MIN = 60_000
T0 = 1_767_225_600_000
ALL_WINDOWS = frozenset(WINDOWS)


def sub(
    sub_id: int = 1,
    coin: str = "BTC",
    window: int = 60,
    side: Side = Side.TOTAL,
    threshold: float = 100.0,
    chat: str = "console:local",
) -> Subscription:
    return Subscription(sub_id, chat, coin, window, side, threshold)


def snap(
    totals: dict[tuple[str, int], tuple[float, float]],
    now: int = T0,
    served: frozenset[int] = ALL_WINDOWS,
    complete: frozenset[int] = ALL_WINDOWS,
) -> Snapshot:
    return Snapshot(
        as_of_ms=now,
        totals={k: WindowTotals(lo, sh) for k, (lo, sh) in totals.items()},
        venues={k: (VenueSplit("binance", lo, sh),) for k, (lo, sh) in totals.items()},
        served_windows=served,
        complete_windows=complete,
        sources=("binance", "bybit"),
        sampled=True,
        gaps=("bybit down 14:02–14:05 UTC",),
    )


def tick(book: RuleBook, snapshot: Snapshot, now: int, muted=lambda s: False) -> list[Transition]:
    """One scheduler tick: evaluate (checked against the naive loop), then apply."""
    got = book.evaluate(snapshot, now, muted)
    assert got == book.evaluate_naive(snapshot, now, muted)
    book.apply(got)
    return got


# ---- the lifecycle, step by step -----------------------------------------------------------

# minute, total value (None = window not served), complete?, -> (status, level, episode), alert
LIFECYCLE = [
    (0, 50.0, True, (Status.ARMED, 0, 0), None),
    (1, 100.0, True, (Status.FIRED, 1, 1), AlertKind.FIRED),  # crosses (>=)
    (2, 150.0, True, (Status.FIRED, 1, 1), None),  # stays above: no second alert
    (3, 199.0, True, (Status.FIRED, 1, 1), None),
    (4, 120.0, True, (Status.FIRED, 1, 1), None),
    (5, 90.0, True, (Status.FIRED, 1, 1), None),  # under threshold, above recovery: stays
    (6, 200.0, True, (Status.FIRED, 2, 1), AlertKind.ESCALATED),  # 2x
    (7, 399.0, True, (Status.FIRED, 2, 1), None),
    (8, 400.0, True, (Status.FIRED, 3, 1), AlertKind.ESCALATED),  # 4x
    (9, 500.0, True, (Status.FIRED, 3, 1), None),
    (10, None, True, (Status.FIRED, 3, 1), None),  # not served: nothing
    (12, 70.0, True, (Status.FIRED, 3, 1), None),  # below 80 but only 11 min quiet
    (15, 80.0, True, (Status.FIRED, 3, 1), None),  # quiet over, but 80 is not < 80
    (16, 79.0, False, (Status.FIRED, 3, 1), None),  # incomplete window: no re-arm
    (17, 79.0, True, (Status.ARMED, 0, 1), None),  # re-arms silently
    (18, 99.0, True, (Status.ARMED, 0, 1), None),
    (19, None, True, (Status.ARMED, 0, 1), None),
    (20, 100.0, True, (Status.FIRED, 1, 2), AlertKind.FIRED),  # episode 2
]


def test_every_lifecycle_step() -> None:
    book = RuleBook(Policy(rearm_ratio=0.8, min_quiet_ms=15 * MIN, escalation_factor=2.0))
    book.add(sub(threshold=100.0))
    for minute, value, complete, (status, level, episode), kind in LIFECYCLE:
        now = T0 + minute * MIN
        served = ALL_WINDOWS if value is not None else ALL_WINDOWS - {60}
        totals = {("BTC", 60): (value or 0.0, 0.0)} if value is not None else {}
        s = snap(totals, now, served, ALL_WINDOWS if complete else ALL_WINDOWS - {60})
        transitions = tick(book, s, now)
        state = book.state(1)
        assert state is not None
        assert (state.status, state.level, state.episode) == (status, level, episode), minute
        alerts = [t.alert for t in transitions if t.alert]
        assert [a.kind for a in alerts] == ([kind] if kind else []), minute
        if kind:
            assert alerts[0].level == level and alerts[0].episode == episode
            assert state.last_alert_ms == now
    assert book.state(1).fired_ms == T0 + 20 * MIN  # the quiet time counts from the new episode


def test_fired_jump_straight_to_4x_gives_one_alert_at_the_highest_level() -> None:
    book = RuleBook()
    book.add(sub(threshold=100.0))
    assert [t.alert.kind for t in tick(book, snap({("BTC", 60): (100.0, 0)}), T0)] == [
        AlertKind.FIRED
    ]
    (t,) = tick(book, snap({("BTC", 60): (450.0, 0)}), T0 + MIN)
    assert t.alert is not None and t.alert.kind is AlertKind.ESCALATED and t.alert.level == 3
    assert (t.old.level, t.new.level) == (1, 3)
    assert tick(book, snap({("BTC", 60): (450.0, 0)}), T0 + 2 * MIN) == []


def test_armed_jump_straight_to_4x_fires_once_at_level_3() -> None:
    book = RuleBook()
    book.add(sub(threshold=100.0))
    (t,) = tick(book, snap({("BTC", 60): (400.0, 0)}), T0)
    assert t.alert is not None and (t.alert.kind, t.alert.level) == (AlertKind.FIRED, 3)
    assert tick(book, snap({("BTC", 60): (799.0, 0)}), T0 + MIN) == []  # no re-escalation
    (t,) = tick(book, snap({("BTC", 60): (800.0, 0)}), T0 + 2 * MIN)
    assert t.alert is not None and (t.alert.kind, t.alert.level) == (AlertKind.ESCALATED, 4)


@pytest.mark.parametrize(
    ("side", "threshold", "fires"),
    [
        (Side.LONG, 60.0, True),
        (Side.LONG, 60.01, False),
        (Side.SHORT, 50.0, True),
        (Side.SHORT, 51.0, False),
        (Side.TOTAL, 110.0, True),
        (Side.TOTAL, 111.0, False),
    ],
)
def test_per_side(side: Side, threshold: float, fires: bool) -> None:
    book = RuleBook()
    book.add(sub(side=side, threshold=threshold))
    transitions = tick(book, snap({("BTC", 60): (60.0, 50.0)}), T0)
    assert bool(transitions) is fires
    if fires:
        assert transitions[0].alert is not None
        assert transitions[0].alert.value == {"long": 60.0, "short": 50.0, "total": 110.0}[side]


def test_all_coin_and_other_series_do_not_mix() -> None:
    book = RuleBook()
    book.add(sub(1, coin=ALL, threshold=1_000.0))
    book.add(sub(2, coin="ETH", threshold=1_000.0))
    book.add(sub(3, coin=ALL, window=15, threshold=1_000.0))
    s = snap({(ALL, 60): (900.0, 200.0), ("BTC", 60): (900.0, 200.0), (ALL, 15): (10.0, 0.0)})
    assert [t.sub_id for t in tick(book, s, T0)] == [1]


def test_alert_carries_the_split_venues_sources_and_gaps() -> None:
    book = RuleBook()
    s = sub(coin="ETH", window=240, side=Side.SHORT, threshold=2e6)
    book.add(s)
    snapshot = snap({("ETH", 240): (3e5, 2.5e6), ("BTC", 240): (1.0, 1.0)}, now=T0 + 5)
    (t,) = tick(book, snapshot, T0 + 7)
    a = t.alert
    assert a is not None
    assert (a.sub, a.value, a.longs, a.shorts, a.as_of_ms) == (s, 2.5e6, 3e5, 2.5e6, T0 + 5)
    assert a.venues == (VenueSplit("binance", 3e5, 2.5e6),)
    assert a.sources == ("binance", "bybit") and a.sampled
    assert a.gaps == ("bybit down 14:02–14:05 UTC",)
    assert (t.old, t.new) == (
        AlertState(1),
        AlertState(1, Status.FIRED, 1, 1, fired_ms=T0 + 7, last_alert_ms=T0 + 7),
    )


def test_muted_subscription_moves_without_alerts() -> None:
    book = RuleBook(Policy(min_quiet_ms=0))
    book.add(sub(1, chat="telegram:1"))
    book.add(sub(2, chat="telegram:2"))
    asked: list[int] = []

    def muted(s: Subscription) -> bool:
        asked.append(s.id)
        return s.chat_key == "telegram:1"

    fired = tick(book, snap({("BTC", 60): (250.0, 0)}), T0, muted)
    assert [(t.sub_id, t.new.status, t.new.level, t.alert is None) for t in fired] == [
        (1, Status.FIRED, 2, True),
        (2, Status.FIRED, 2, False),
    ]
    assert fired[0].new.last_alert_ms is None  # nothing was said
    # unmuted later while still above: no stale burst
    assert tick(book, snap({("BTC", 60): (250.0, 0)}), T0 + MIN) == []
    rearmed = tick(book, snap({("BTC", 60): (10.0, 0)}), T0 + 2 * MIN, muted)
    assert [(t.sub_id, t.new.status, t.alert) for t in rearmed] == [
        (1, Status.ARMED, None),
        (2, Status.ARMED, None),
    ]
    # asked only when there is something to say: evaluate, then the naive check in tick()
    assert asked == [1, 2, 1, 2]


def test_evaluate_is_pure_and_apply_moves_the_index() -> None:
    book = RuleBook()
    book.add(sub(1, threshold=100.0))
    s = snap({("BTC", 60): (150.0, 0)})
    first = book.evaluate(s, T0)
    assert book.evaluate(s, T0) == first and book.state(1) == AlertState(1)
    book.apply(first)
    assert book.evaluate(s, T0 + MIN) == []
    assert book.state(1).status is Status.FIRED


def test_add_remove_load_keep_the_index_right() -> None:
    book = RuleBook()
    states = {2: AlertState(2, Status.FIRED, 1, 4, fired_ms=T0 - 60 * MIN)}
    book.load([sub(1, threshold=100.0), sub(2, threshold=100.0), sub(3, threshold=500.0)], states)
    low = snap({("BTC", 60): (10.0, 0)})
    (t,) = tick(book, low, T0)  # sub 2 re-arms from its loaded state
    assert (t.sub_id, t.new.status, t.new.episode) == (2, Status.ARMED, 4)
    assert book.remove(1) and not book.remove(1)
    assert book.state(1) is None
    high = snap({("BTC", 60): (600.0, 0)})
    pending = book.evaluate(high, T0 + MIN)
    assert [t.sub_id for t in pending] == [2, 3]
    book.remove(3)
    book.apply(pending)  # 3 was removed in between: ignored
    assert book.state(3) is None and book.state(2).episode == 5
    book.add(sub(3, threshold=50.0), AlertState(3, Status.FIRED, 1, 1, fired_ms=T0))
    (t,) = tick(book, high, T0 + 2 * MIN)  # 600 >= 50 * 8: level 4 from level 1
    assert (t.sub_id, t.new.level) == (3, 4)
    book.add(sub(3, threshold=5_000.0))  # re-adding replaces the old one and its state
    assert book.state(3) == AlertState(3) and len(book) == 2
    assert tick(book, high, T0 + 3 * MIN) == []


def test_unserved_window_changes_nothing_even_for_fired() -> None:
    book = RuleBook(Policy(min_quiet_ms=0))
    book.add(sub(1, threshold=100.0), AlertState(1, Status.FIRED, 1, 1, fired_ms=T0))
    book.add(sub(2, threshold=1.0))
    s = snap({}, T0 + 60 * MIN, served=ALL_WINDOWS - {60})
    assert tick(book, s, T0 + 60 * MIN) == []
    nan = snap({("BTC", 60): (float("nan"), 0.0)}, T0 + 60 * MIN)  # a broken source's sum
    assert tick(book, nan, T0 + 60 * MIN) == []


# ---- the index against the one-by-one evaluator --------------------------------------------

COINS = ("BTC", "ETH", ALL)
SMALL_WINDOWS = (5, 60, 1440)
THRESHOLDS = (50.0, 100.0, 100.0, 150.0, 200.0, 400.0, 1_000.0)

sub_st = st.builds(
    lambda coin, window, side, thr, chat: (coin, window, side, thr, chat),
    st.sampled_from(COINS),
    st.sampled_from(SMALL_WINDOWS),
    st.sampled_from(list(Side)),
    st.sampled_from(THRESHOLDS),
    st.sampled_from(("a", "b", "c")),
)
state_st = st.one_of(
    st.none(),
    st.builds(
        lambda level, ep, fired_back: (level, ep, fired_back),
        st.integers(0, 5),
        st.integers(1, 3),
        st.integers(0, 40),
    ),
)
value_st = st.one_of(st.none(), st.sampled_from((0.0, 39.9, 40.0, 80.0, 100.0, 200.0, 799.0)))
tick_st = st.tuples(
    st.dictionaries(
        st.tuples(st.sampled_from(COINS), st.sampled_from(SMALL_WINDOWS)),
        st.tuples(value_st, value_st),
        max_size=9,
    ),
    st.frozensets(st.sampled_from(SMALL_WINDOWS)),
    st.frozensets(st.sampled_from(SMALL_WINDOWS)),
    st.integers(0, 20),
    st.lists(st.integers(1, 30), max_size=3),
)


def drawn_book(subs: list) -> RuleBook:  # type: ignore[type-arg]
    """A book of drawn (sub_st, state_st) pairs, ids from 1."""
    book = RuleBook(Policy(min_quiet_ms=10 * MIN))
    loaded, states = [], {}
    for i, ((coin, window, side, thr, chat), state) in enumerate(subs, start=1):
        loaded.append(Subscription(i, chat, coin, window, side, thr))
        if state is not None:
            level, ep, back = state
            states[i] = AlertState(i, Status.FIRED, level, ep, fired_ms=T0 - back * MIN)
    book.load(loaded, states)
    return book


def drawn_snapshot(
    values: dict, served: frozenset[int], complete: frozenset[int], now: int
) -> Snapshot:  # type: ignore[type-arg]
    """The snapshot of a drawn tick's values (a None long: the series is absent)."""
    totals = {key: (lo or 0.0, sh or 0.0) for key, (lo, sh) in values.items() if lo is not None}
    return snap(totals, now, served, complete)


@settings(max_examples=150, deadline=None)
@given(
    subs=st.lists(st.tuples(sub_st, state_st), max_size=30),
    ticks=st.lists(tick_st, min_size=1, max_size=6),
)
def test_index_matches_naive_evaluation(subs, ticks) -> None:
    book = drawn_book(subs)
    now = T0
    next_id = len(subs) + 1
    for values, served, complete, minutes, removals in ticks:
        now += minutes * MIN
        s = drawn_snapshot(values, served, complete, now)
        muted = lambda x: x.chat_key == "b"  # noqa: E731
        got = book.evaluate(s, now, muted)
        assert got == book.evaluate_naive(s, now, muted)
        book.apply(got)
        for sub_id in removals:  # commands change the book between ticks
            book.remove(sub_id)
        book.add(Subscription(next_id, "a", "BTC", 60, Side.TOTAL, THRESHOLDS[next_id % 7]))
        next_id += 1


def test_new_data_on_one_side_of_a_coin_touches_that_side_its_total_and_the_market() -> None:
    book = RuleBook()
    for i, (coin, side) in enumerate(
        [("BTC", Side.SHORT), ("BTC", Side.LONG), ("BTC", Side.TOTAL), (ALL, Side.SHORT),
         (ALL, Side.LONG), ("ETH", Side.SHORT)],
        start=1,
    ):  # fmt: skip
        book.add(sub(i, coin, 60, side))
    book.add(sub(9, "BTC", 5, Side.SHORT))
    got = set(book.series_of({("BTC", Side.SHORT)}))
    assert got == {
        ("BTC", 60, Side.SHORT), ("BTC", 60, Side.TOTAL), (ALL, 60, Side.SHORT),
        ("BTC", 5, Side.SHORT),
    }  # fmt: skip


def test_evaluating_only_some_series_leaves_the_others_for_the_tick() -> None:
    book = RuleBook()
    book.load([sub(1, "BTC"), sub(2, "ETH")], {})
    s = snap({("BTC", 60): (200.0, 0.0), ("ETH", 60): (200.0, 0.0)})
    only = book.evaluate(s, T0, only=book.series_of({("BTC", Side.LONG)}))
    assert [t.sub_id for t in only] == [1]
    assert [t.sub_id for t in book.evaluate(s, T0)] == [1, 2]
