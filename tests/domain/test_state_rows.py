"""Transitions.state_rows (the store's rows, one comprehension per series and kind) and
state_groups (the same by value) say what the full Transition list says, with and without muted
rules."""

from __future__ import annotations

import random

import pytest

from bench import bench_rules as br
from bot.domain.models import AlertState, Status, Transition
from bot.domain.rules import RuleBook
from bot.store.tick_commit import state_groups


def small_book(rng: random.Random) -> RuleBook:
    """The benches' rule mix, 3,000 rules, all armed."""
    br.N_SUBS = 3_000
    try:
        subs = br.build_subscriptions(rng)
    finally:
        br.N_SUBS = 1_000_000
    book = RuleBook()
    book.load(subs, {})
    return book


@pytest.mark.parametrize("muted_every", [0, 3])
def test_state_rows_are_the_transitions_new_states(muted_every: int) -> None:
    rng = random.Random(7)
    book = small_book(rng)
    now = br.T0
    seen = {"fired": 0, "escalated": 0, "rearmed": 0}
    for scale in (1.0, 3.0, 1.2, 9.0, 0.1, 20.0):
        now += 20 * br.MIN
        snap = br.market(rng, scale, now)
        if muted_every:
            moves = book.evaluate(snap, now, lambda s: s.id % muted_every == 0)
        else:
            moves = book.evaluate(snap, now)
        want = [
            (t.sub_id, Status(t.new.status).value, t.new.level, t.new.episode, t.new.fired_ms,
             t.new.last_alert_ms)
            for t in moves
        ]  # fmt: skip
        assert sorted(moves.state_rows()) == want
        # the same states by value (the store's one statement): each id once, under its state
        groups = moves.state_groups()
        assert sorted((i, *v) for v, ids in groups.items() for i in ids) == want
        for m in moves.series:
            seen["fired"] += len(m.fired)
            seen["escalated"] += len(m.escalated)
            seen["rearmed"] += len(m.rearmed)
        book.apply(moves)
    assert all(seen.values()), seen  # every kind of move was checked


def test_the_stores_groups_are_the_states_by_value_in_key_order() -> None:
    # what the store's one statement writes (bot/store/tick_commit.state_groups): each state
    # once, under its value, each group's ids ascending; the engine's compact moves, the other
    # rule kinds' moves beside them (`also`) and a plain Transition list all group alike
    rng = random.Random(11)
    book = small_book(rng)
    now = br.T0
    big = 2**61  # beyond the one-integer key's room next to the other ids: the two-key sort
    extra = [
        Transition(big + 1, AlertState(big + 1), AlertState(big + 1, Status.FIRED, 1, 1, 5, 5)),
        Transition(
            7_000_001, AlertState(7_000_001), AlertState(7_000_001, Status.FIRED, 2, 9, 5, 5)
        ),
    ]
    checked = 0
    for scale in (1.0, 3.0, 1.2, 9.0, 0.1, 20.0):
        now += 20 * br.MIN
        moves = book.evaluate(br.market(rng, scale, now), now)
        for also in ([], extra[1:], extra):
            every = [*moves, *also]
            want = sorted(
                (t.sub_id, Status(t.new.status).value, t.new.level, t.new.episode,
                 t.new.fired_ms, t.new.last_alert_ms)
                for t in every
            )  # fmt: skip
            groups = state_groups(moves, also)
            assert all(ids == sorted(ids) for ids in groups.values())
            assert sorted((i, *v) for v, ids in groups.items() for i in ids) == want
            assert state_groups(every) == groups
            checked += len(moves)
        book.apply(moves)
    assert state_groups([]) == {}
    assert checked > 1_000
