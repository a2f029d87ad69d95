"""A tick's objects are gone before the cyclic collector is back on (issue 18, the crash tick).

The engine pauses the collector for a tick. When the tick's moves, items and messages were still
referenced as it resumed, the first collection scanned all of them, and later ones scanned them
again in the older generations: ~0.5 s of a 1,000,000-rule crash tick (bench_crash_tick.py).
"""

from __future__ import annotations

import gc
import random
from pathlib import Path

from pytest import MonkeyPatch

from bench import bench_rules as br
from bot.domain.models import Subscription
from bot.domain.moves import Transitions
from bot.domain.rules import RuleBook
from bot.runtime.engine import Engine
from bot.runtime.tick_items import TickItems
from bot.store import Database, OutboxItem
from tests.store.test_render_once import Clock, Market, seeded_store

TICK_TYPES = (TickItems, Transitions, OutboxItem)


async def test_no_collection_sees_a_ticks_objects(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite")
    try:
        rng = random.Random(5)
        book = RuleBook()
        book.load(await seeded_store(db, rng), {})
        now = br.T0 + br.MIN
        engine = Engine(db, book, Market(br.market(rng, 1.5, now, 0.1)), Clock(now))  # type: ignore[arg-type]
        seen: list[int] = []  # per collection during and after the tick: its objects alive

        def watch(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                seen.append(sum(isinstance(o, TICK_TYPES) for o in gc.get_objects()))

        gc.collect()
        assert gc.isenabled()
        gc.callbacks.append(watch)
        try:
            made = await engine.tick()
            after = [[i] for i in range(10_000)]  # allocations: the collector runs again
        finally:
            gc.callbacks.remove(watch)
        assert made > 10 and len(after) == 10_000
        assert seen, "no collection ran after the tick"
        assert max(seen) == 0
        assert gc.isenabled()  # and the collector is back on
        # and the tick did its job: its rows are in the store
        (rows,) = await db._one("SELECT count(*) FROM outbox")
        assert rows == made
    finally:
        await db.close()


def test_a_crash_leaves_the_collector_no_new_list_of_rules(monkeypatch: MonkeyPatch) -> None:
    """The book's sorted lists are refilled, not replaced: a new list holding a series' rules
    is a young object, and the first collections after the crash walked every rule in each
    (~0.1-0.2 s after the 1,000,000-rule crash tick). Lists frozen with the book stay frozen."""
    rng = random.Random(7)
    monkeypatch.setattr(br, "N_SUBS", 20_000)
    book = RuleBook()
    book.load(br.build_subscriptions(rng), {})
    now = br.T0 + br.MIN
    gc.collect()
    gc.freeze()  # as the app does after start-up
    try:
        moves = book.evaluate(br.market(rng, 6.0, now, 0.1), now)
        assert moves.alert_count() > 2_000  # a crash: most series fire many rules at once
        book.apply(moves)
        del moves
        young = [
            o for o in gc.get_objects() if type(o) is list and o and isinstance(o[0], Subscription)
        ]
        assert not young, f"{len(young)} new lists of rules for the collector to walk"
    finally:
        gc.unfreeze()
