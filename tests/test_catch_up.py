"""A takeover brings the standby's own rule book to the store's truth (bot.ops.replicas.catch_up)
instead of loading a million subscriptions again. The result must be exactly what a fresh load
gives: the same subscriptions in the same books, the same states, the same evaluations.

On a real SQLite store (catch_up is plain SQL both engines run; the replica tests in
tests/replicas drive it through a real PostgreSQL failover)."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.extra_rules import ExtraRules, RuleSet
from bot.domain.models import ALL, AlertState, Side, Snapshot, Status, Transition, WindowTotals
from bot.domain.rules import Policy, RuleBook
from bot.ops.replicas import catch_up
from bot.store import Database

T = 1_800_000_000_000
M = 1e6
SERVED = frozenset({5, 60, 240})


def _fresh(subs, states) -> tuple[RuleBook, ExtraRules]:
    book, extras = RuleBook(Policy()), ExtraRules(Policy())
    RuleSet(book, extras).load(subs, states)
    return book, extras


def _view(book: RuleBook, extras: ExtraRules) -> tuple[dict, dict, dict]:
    subs = {s.id: s for s in book.subscriptions()}
    extra = {s.id: s for s in extras.all()}
    states = {i: book.state(i) for i in subs} | {i: extras.state(i) for i in extra}
    return subs, extra, states


def _snapshot(now: int) -> Snapshot:
    totals = {
        ("BTC", 60): WindowTotals(300 * M, 20 * M),
        ("ETH", 60): WindowTotals(5 * M, 90 * M),
        (ALL, 60): WindowTotals(305 * M, 110 * M),
        ("BTC", 240): WindowTotals(310 * M, 25 * M),
    }
    return Snapshot(now, totals, {}, SERVED, SERVED, ("binance",))


def _fired(sub_id: int, now: int) -> AlertState:
    return AlertState(sub_id, Status.FIRED, 1, 1, now, now)


async def test_catch_up_equals_a_fresh_load_after_changes_elsewhere(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "takeover.sqlite3")
    try:
        rng = random.Random(7)
        made = []
        for i in range(60):
            chat = f"telegram:{i % 9}"
            coin = rng.choice(["BTC", "ETH", ALL])
            kw = rng.choice([{}, {}, {"venue": "binance"}, {"factor": 3.0}, {"kind": "single"}])
            window = 0 if kw.get("kind") == "single" else rng.choice([60, 240])
            made.append(await db.add_subscription(chat, coin, window, Side.LONG, 100 * M, T, **kw))
        # an operator's broadcast (origin config: no per-chat number, NULL in the store)
        made.append(
            await db.add_subscription("telegram:-100777", ALL, 60, Side.SHORT, 400 * M, T, "config")
        )
        # the standby starts: its books from the store, as app.build loads them
        book, extras = _fresh(await db.all_subscriptions(), await db.load_states())

        # meanwhile, elsewhere: the leader fires rules, other replicas add and remove rules,
        # a group becomes a supergroup (its rows change in place)
        fired = [s for s in made if s.kind != "single"][:20]
        await db.commit_transitions(
            [Transition(s.id, AlertState(s.id), _fired(s.id, T)) for s in fired], []
        )
        for s in made[:5]:
            assert await db.remove_subscription(s.chat_key, s.id)
        await db.add_subscription("telegram:99", "SOL", 60, Side.SHORT, 5 * M, T)
        await db.add_subscription("telegram:99", "BTC", 60, Side.LONG, 7 * M, T, venue="okx")
        await db.migrate_chat("telegram:3", "telegram:-1003")
        # ... and a state the standby's book holds that the store does not (armed there)
        plain = [s for s in made[5:] if s.kind == "window" and not s.venue and s.factor is None]
        stray = next(s for s in plain if s not in fired)
        book.apply([Transition(stray.id, AlertState(stray.id), _fired(stray.id, T))])
        alive_fired = [s for s in fired if s not in made[:5]]

        caught = await catch_up(db, book, extras)
        want_book, want_extras = _fresh(await db.all_subscriptions(), await db.load_states())
    finally:
        await db.close()
    assert _view(book, extras) == _view(want_book, want_extras)
    moved_chat = [s for s in made[5:] if s.chat_key == "telegram:3"]
    assert (caught.removed, caught.added) == (5, 2 + len(moved_chat))  # 2 new + the moved rows
    # every fired rule the standby had not seen, and the stray one back to armed
    assert caught.states_moved == len(alive_fired) + 1
    # the same evaluation: positions in the series indexes are right, not only the dicts
    later = T + 20 * 60_000
    got = sorted((t.sub_id, t.new) for t in book.evaluate(_snapshot(later), later))
    want = sorted((t.sub_id, t.new) for t in want_book.evaluate(_snapshot(later), later))
    assert got == want and got  # something does fire: the comparison is not empty


states_strategy = st.dictionaries(
    st.integers(1, 40),
    st.tuples(st.booleans(), st.integers(0, 3), st.integers(0, 5)),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(before=states_strategy, after=states_strategy, seed=st.integers(0, 10_000))
def test_sync_states_gives_what_load_gives(before: dict, after: dict, seed: int) -> None:
    from bot.domain.models import Subscription

    rng = random.Random(seed)
    subs = [
        Subscription(
            i,
            f"telegram:{i % 4}",
            rng.choice(["BTC", "ETH"]),
            rng.choice([60, 240]),
            rng.choice([Side.LONG, Side.SHORT, Side.TOTAL]),
            rng.choice([10 * M, 100 * M, 300 * M]),
            T,
        )
        for i in range(1, 41)
    ]

    def as_states(raw: dict) -> dict[int, AlertState]:
        out = {}
        for i, (fired, level, episode) in raw.items():
            status = Status.FIRED if fired else Status.ARMED
            when = T - episode * 60_000 if fired else None
            out[i] = AlertState(i, status, level if fired else 0, episode, when, when)
        return out

    book = RuleBook(Policy())
    book.load(subs, as_states(before))
    book.sync_states(as_states(after))
    fresh = RuleBook(Policy())
    fresh.load(subs, as_states(after))
    assert {s.id: book.state(s.id) for s in subs} == {s.id: fresh.state(s.id) for s in subs}
    now = T + 30 * 60_000
    got = sorted((t.sub_id, t.new) for t in book.evaluate(_snapshot(now), now))
    want = sorted((t.sub_id, t.new) for t in fresh.evaluate(_snapshot(now), now))
    assert got == want
