"""Applying a tick's moves a kind at a time (`SeriesIndex.move_series`, the crash tick's path)
leaves the book exactly as applying them one transition at a time (`RuleBook._apply_one`, the
careful path), also when rules are removed or re-added between the evaluation and the apply."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import rules
from bot.domain.models import Side, Snapshot, Subscription
from bot.domain.moves import Transitions
from bot.domain.rules import Muted, RuleBook
from tests.domain.test_rules import (
    MIN,
    T0,
    drawn_book,
    drawn_snapshot,
    snap,
    state_st,
    sub_st,
    tick_st,
)


def columns(book: RuleBook) -> dict[object, tuple[list[object], ...]]:
    """Every series' three sorted lists, entry by entry, and the book's states. Rules of equal
    bounds are in no particular order (a crossing takes all of them or none): by id here."""
    out: dict[object, tuple[list[object], ...]] = {}
    for key, index in book._index.items():
        cols = (index.armed, index.escalate, index.rearm)
        assert all(col.bounds == sorted(col.bounds) for col in cols)
        out[key] = tuple(
            sorted(zip(col.bounds, col.ids, col.subs, col.olds, strict=True), key=lambda e: e[:2])
            for col in cols
        )
    return {"series": out, "states": dict(book._states)}  # type: ignore[dict-item]


def twin_books(subs: list) -> tuple[RuleBook, RuleBook]:  # type: ignore[type-arg]
    return drawn_book(subs), drawn_book(subs)


@settings(max_examples=200, deadline=None)
@given(
    subs=st.lists(st.tuples(sub_st, state_st), max_size=40),
    ticks=st.lists(tick_st, min_size=1, max_size=6),
    mute=st.booleans(),
)
def test_move_series_is_the_careful_apply(subs, ticks, mute) -> None:  # type: ignore[no-untyped-def]
    with every_series_at_once():
        check_against_the_careful_apply(subs, ticks, mute)


@contextmanager
def every_series_at_once() -> Iterator[None]:
    """The kind-at-a-time path for series of any size (these books' series are small)."""
    was = rules.KINDS_AT_ONCE
    rules.KINDS_AT_ONCE = 1
    try:
        yield
    finally:
        rules.KINDS_AT_ONCE = was


def drawn_ticks(ticks: list[Any], mute: bool) -> Iterator[tuple[int, Snapshot, Muted, list[int]]]:
    """Each drawn tick as (its time, its snapshot, who is muted: chat "b" or no one, the rules
    removed after it)."""
    muted: Muted = (lambda x: x.chat_key == "b") if mute else (lambda x: False)
    now = T0
    for values, served, complete, minutes, removals in ticks:
        now += minutes * MIN
        yield now, drawn_snapshot(values, served, complete, now), muted, removals


def check_against_the_careful_apply(subs, ticks, mute) -> None:  # type: ignore[no-untyped-def]
    fast, careful = twin_books(subs)
    next_id = len(subs) + 1
    for now, s, muted, removals in drawn_ticks(ticks, mute):
        got = fast.evaluate(s, now, muted)
        assert isinstance(got, Transitions)
        assert list(got) == list(careful.evaluate(s, now, muted))
        taken = [fast.subscription(i) for i in removals]
        for book in (fast, careful):  # rules change between the evaluation and the apply
            for sub_id in removals:
                book.remove(sub_id)
            if taken and taken[0] is not None:  # and one comes back: the same rule, no state
                book.add(taken[0])
        fast.apply(got)  # the kind-at-a-time path wherever the moves are as evaluated
        careful.apply(list(got))  # Transition objects: one at a time
        assert columns(fast) == columns(careful)
        assert list(fast.evaluate(s, now)) == list(careful.evaluate(s, now))
        for book in (fast, careful):
            book.add(Subscription(next_id, "a", "BTC", 60, Side.TOTAL, 100.0))
        next_id += 1


def test_a_crash_takes_the_kind_at_a_time_path() -> None:
    """Nothing changed between evaluate and apply: every series' moves are as evaluated."""
    subs = [
        (("BTC", 60, side, thr, "a"), state)
        for side in Side
        for thr in (50.0, 60.0, 100.0, 120.0, 400.0)
        for state in (None, (1, 2, 30), (0, 1, 5))
    ]
    fast, careful = twin_books(subs)
    now = T0 + 60 * MIN
    s = snap({("BTC", 60): (900.0, 900.0)}, now)
    got = fast.evaluate(s, now)
    assert len(got) > 10 and not got.silent
    assert all(fast._as_evaluated(m) and len(m) >= rules.KINDS_AT_ONCE for m in got.series)
    fast.apply(got)
    careful.apply(list(careful.evaluate(s, now)))
    assert columns(fast) == columns(careful)
