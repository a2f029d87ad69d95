"""The per-series evaluation (bisected levels, the index's own columns) against the plain loop.

The reference model is the evaluation as it was before rules_levels.py: per series, every member
looked at one by one with `rules.step`'s comparisons (`threshold * factor**level`, level by
level). Books, states, policies and snapshots are random, with values placed exactly on bounds
and far above them (MAX_LEVEL), so that every comparison's edge is reached.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.models import ALL, AlertState, Side, Snapshot, Status, Subscription, WindowTotals
from bot.domain.moves import StateTuple
from bot.domain.rules import Policy, RuleBook
from bot.domain.rules_levels import MAX_LEVEL, escalate_levels, fire_levels, loop_level

MIN = 60_000
T0 = 1_767_225_600_000
FACTORS = (1.0001, 1.5, 2.0, 3.0, 10.0)
BASE_THRESHOLDS = (0.0, 1e-3, 1.0, 99.99, 100.0, 100.0, 123.456, 1e6, 3.3e9)

threshold_st = st.one_of(
    st.sampled_from(BASE_THRESHOLDS),
    st.floats(min_value=1e-6, max_value=1e12, allow_nan=False, allow_infinity=False),
)


def value_near(thresholds: list[float], factor: float) -> st.SearchStrategy[float]:
    """Values on a bound (t * factor**L, exactly the loop's double), beside one, or anywhere."""
    on_bound = st.builds(
        lambda t, lv: t * factor**lv,
        st.sampled_from(thresholds),
        st.integers(0, MAX_LEVEL + 2),
    )
    return st.one_of(
        on_bound,
        st.builds(lambda v, k: v * (1 + k * 2**-52), on_bound, st.sampled_from((-2, -1, 1, 2))),
        st.floats(min_value=0, max_value=1e30, allow_nan=False, allow_infinity=False),
        st.sampled_from((0.0, 1e300)),
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fire_levels_are_the_loops(data: st.DataObject) -> None:
    factor = data.draw(st.sampled_from(FACTORS))
    thresholds = sorted(data.draw(st.lists(threshold_st, min_size=1, max_size=40)))
    value = data.draw(value_near(thresholds, factor))
    n = sum(1 for t in thresholds if t <= value)
    want = [loop_level(t, value, 1, factor) for t in thresholds[:n]]
    assert fire_levels(thresholds, n, value, factor) == want


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_escalate_levels_are_the_loops(data: st.DataObject) -> None:
    factor = data.draw(st.sampled_from(FACTORS))
    members = data.draw(
        st.lists(st.tuples(threshold_st, st.integers(1, MAX_LEVEL)), min_size=1, max_size=40)
    )
    value = data.draw(value_near([t for t, _ in members], factor))
    # the escalation list: sorted by next bound, the prefix whose bound the value reached
    entries = sorted((t * factor**lv, i, t, lv) for i, (t, lv) in enumerate(members))
    crossing = [e for e in entries if e[0] <= value]
    subs = [Subscription(i, "c", "BTC", 60, Side.TOTAL, t) for _, i, t, _ in crossing]
    olds: list[StateTuple] = [(True, lv, 1, T0, T0) for *_, lv in crossing]
    want = [
        loop_level(t, value, lv + 1 if lv < MAX_LEVEL else lv, factor) for _, _, t, lv in crossing
    ]
    got = escalate_levels([e[0] for e in entries], subs, olds, value, factor)
    assert got == want


# ---- the whole evaluation against the reference model --------------------------------------

SERIES = [(c, w, s) for c in ("BTC", ALL) for w in (5, 60) for s in (Side.TOTAL, Side.LONG)]


def reference(book: RuleBook, snapshot: Snapshot, now: int) -> dict[tuple, tuple]:
    """Per series: the fired, escalated and re-armed members as the old loop found them."""
    policy, factor = book.policy, book.policy.escalation_factor
    out: dict[tuple, tuple] = {}
    for sub in book.subscriptions():
        key = (sub.coin, sub.window, sub.side)
        value = snapshot.value(*key)
        if value is None or value != value:
            continue
        old = book.state(sub.id)
        assert old is not None
        t = book._states.get(sub.id)  # the book's own tuple, as the old loop read it
        fired, escalated, rearmed = out.setdefault(key, ([], [], []))
        if old.status is Status.ARMED:
            if sub.threshold <= value:
                fired.append((sub.id, loop_level(sub.threshold, value, 1, factor), t))
        elif policy.bound(sub.threshold, old.level) <= value:
            start = old.level + 1 if old.level < MAX_LEVEL else old.level
            escalated.append((sub.id, loop_level(sub.threshold, value, start, factor), t))
        elif (
            policy.rearm_bound(sub.threshold) > value
            and sub.window in snapshot.complete_windows
            and (old.fired_ms is None or now - old.fired_ms >= policy.min_quiet_ms)
        ):
            rearmed.append((sub.id, t))
    return {k: tuple(sorted(x) for x in v) for k, v in out.items() if any(v)}


def got(book: RuleBook, snapshot: Snapshot, now: int) -> dict[tuple, tuple]:
    moves = book.evaluate(snapshot, now)
    out = {}
    for m in moves.series:
        fired = [
            (s.id, lv, o) for s, lv, o in zip(m.fired, m.fired_levels, m.fired_old, strict=True)
        ]
        esc = [
            (s.id, lv, o)
            for s, lv, o in zip(m.escalated, m.escalated_levels, m.escalated_old, strict=True)
        ]
        rearmed = [(s.id, o) for s, o in zip(m.rearmed, m.rearmed_old, strict=True)]
        for s in (*m.fired, *m.escalated, *m.rearmed):  # the index's subscription is the book's
            assert book.subscription(s.id) is s
        out[(m.coin, m.window, m.side)] = (sorted(fired), sorted(esc), sorted(rearmed))
    return out


member_st = st.tuples(
    st.sampled_from(SERIES),
    threshold_st,
    st.one_of(
        st.none(), st.tuples(st.integers(0, MAX_LEVEL), st.integers(1, 3), st.integers(0, 40))
    ),
)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_evaluation_matches_the_reference_over_ticks(data: st.DataObject) -> None:
    factor = data.draw(st.sampled_from(FACTORS))
    book = RuleBook(Policy(rearm_ratio=data.draw(st.sampled_from((0.5, 0.8, 1.0))),
                           min_quiet_ms=10 * MIN, escalation_factor=factor))  # fmt: skip
    members = data.draw(st.lists(member_st, max_size=40))
    subs, states = [], {}
    for i, ((coin, window, side), thr, state) in enumerate(members, start=1):
        subs.append(Subscription(i, "c", coin, window, side, thr))
        if state is not None:
            level, ep, back = state
            fired = level > 0
            states[i] = AlertState(
                i, Status.FIRED if fired else Status.ARMED, level, ep,
                T0 - back * MIN if fired else None, T0 - back * MIN,
            )  # fmt: skip
    book.load(subs, states)
    thresholds = [t for _, t, _ in members] or [1.0]
    now = T0
    for _ in range(data.draw(st.integers(1, 4))):
        now += data.draw(st.integers(0, 20)) * MIN
        values = {  # (longs, shorts) = (v, 0) or (0, v): the total is v exactly
            (c, w): (data.draw(value_near(thresholds, factor)), data.draw(st.booleans()))
            for c in ("BTC", ALL)
            for w in (5, 60)
            if data.draw(st.booleans())
        }
        snapshot = Snapshot(
            as_of_ms=now,
            totals={
                k: WindowTotals(v, 0.0) if lo else WindowTotals(0.0, v)
                for k, (v, lo) in values.items()
            },
            served_windows=frozenset({5, 60}),
            complete_windows=data.draw(st.frozensets(st.sampled_from((5, 60)))),
        )
        assert got(book, snapshot, now) == reference(book, snapshot, now)
        moves = book.evaluate(snapshot, now)
        assert moves == book.evaluate_naive(snapshot, now)
        book.apply(moves)
        for sub_id in data.draw(st.lists(st.integers(1, len(members) + 1), max_size=3)):
            book.remove(sub_id)  # commands change the book between ticks
