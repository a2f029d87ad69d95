"""Per-series index of subscriptions by the value that would make each one transition.

For one (coin, window, side) series:
- armed subscriptions sorted by threshold: those with threshold <= value fire (a prefix);
- fired ones sorted by their next escalation bound: bound <= value escalates (a prefix);
- fired ones sorted by their re-arm bound: bound > value may re-arm (a suffix), if the window is
  complete and the quiet time is over (checked per candidate by rules.step).
So a tick costs a few bisects per series plus the candidates, not a pass over every subscription.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bot.domain.models import Subscription
from bot.domain.policy import MAX_LEVEL, Policy

if TYPE_CHECKING:
    from bot.domain.moves import SeriesMoves, StateTuple

Pairs = list[tuple[float, int]]
# (bound, sub id, the subscription, its state): what a crossing needs, without a dict look-up
Entry = tuple[float, int, Subscription, "StateTuple | None"]


class _Sorted:
    """Parallel lists of bounds (ascending), subscription ids, the subscriptions and their states.

    The last two are kept beside the ids so that the crossing prefix of a crash tick is a slice:
    looking each id up in the book's million-entry dicts was most of the evaluation (a cache miss
    or two per look-up). The states are the book's own tuples (replaced, never mutated). The
    re-arm list holds None there: an escalation keeps its re-arm entry, so its state would go
    stale; its few candidates read the book's states.
    """

    __slots__ = ("bounds", "ids", "olds", "subs")

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self.bounds: list[float] = []
        self.ids: list[int] = []
        self.subs: list[Subscription] = []
        self.olds: list[Any] = []  # StateTuple | None (see above); never None where fired
        self._set(sorted(entries))  # ids are unique in a list: tuples never compare further

    def __len__(self) -> int:
        return len(self.ids)

    def insert(self, bound: float, sub: Subscription, state: StateTuple | None) -> None:
        i = bisect_right(self.bounds, bound)
        self.bounds.insert(i, bound)
        self.ids.insert(i, sub.id)
        self.subs.insert(i, sub)
        self.olds.insert(i, state)

    def discard(self, bound: float, sub_id: int) -> None:
        bounds, ids = self.bounds, self.ids
        i = bisect_left(bounds, bound)
        while i < len(ids) and bounds[i] == bound:
            if ids[i] == sub_id:
                self._delete(i)
                return
            i += 1
        if sub_id in ids:  # only if the bound was computed differently: stay correct anyway
            self._delete(ids.index(sub_id))

    def _delete(self, i: int) -> None:
        del self.bounds[i], self.ids[i], self.subs[i], self.olds[i]

    def take_first(self, n: int) -> tuple[list[float], list[int]]:
        """Remove the first `n` entries; returns their bounds and ids."""
        bounds, ids = self.bounds[:n], self.ids[:n]
        del self.bounds[:n], self.ids[:n], self.subs[:n], self.olds[:n]
        return bounds, ids

    def update(self, remove: Pairs, add: list[Entry]) -> None:
        """Remove many (bound, id) pairs and add many entries: a slice when the removed are the
        first ones (a crossing fires the armed prefix), else one filter and one sort when that
        is cheaper than a bisect-insert (a list shift) per pair."""
        if not remove and not add:
            return
        few = 8 + len(self.ids) // 32
        if remove and len(remove) > few and self._is_prefix(remove):
            n = len(remove)
            del self.bounds[:n], self.ids[:n], self.subs[:n], self.olds[:n]
            remove = []
            few = 8 + len(self.ids) // 32
        if len(remove) + len(add) <= few:
            for bound, sub_id in remove:
                self.discard(bound, sub_id)
            for bound, _, sub, state in add:
                self.insert(bound, sub, state)
            return
        gone = {i for _, i in remove}
        entries = [
            e
            for e in zip(self.bounds, self.ids, self.subs, self.olds, strict=True)
            if e[1] not in gone
        ]
        entries += add
        entries.sort()
        self._set(entries)

    def _is_prefix(self, remove: Pairs) -> bool:
        """Whether the pairs are exactly the list's first len(remove) entries."""
        n = len(remove)  # ids are unique in a list: equal sets of n ids are the same n
        return n <= len(self.ids) and set(self.ids[:n]) == {i for _, i in remove}

    def _set(self, ordered: list[Entry]) -> None:
        # the same four lists, refilled: a new list holding a series' rules would be a young
        # object for the cyclic collector, which then walks every rule it holds (after a crash
        # tick, ~0.1-0.2 s over the lists the tick rebuilt); the old ones are frozen with the
        # book (gc.freeze after start-up) or long since old
        if not ordered:
            for column in (self.bounds, self.ids, self.subs, self.olds):
                column.clear()
            return
        bounds, ids, subs, olds = zip(*ordered, strict=True)
        self.bounds[:], self.ids[:], self.subs[:], self.olds[:] = bounds, ids, subs, olds

    def count_upto(self, value: float) -> int:
        """How many bounds are <= value (the first ones)."""
        return bisect_right(self.bounds, value)

    def upto(self, value: float) -> list[int]:
        """Ids whose bound <= value."""
        return self.ids[: bisect_right(self.bounds, value)]

    def above(self, value: float) -> list[int]:
        """Ids whose bound > value."""
        return self.ids[bisect_right(self.bounds, value) :]


class SeriesIndex:
    __slots__ = ("armed", "escalate", "rearm")

    def __init__(self) -> None:
        self.armed = _Sorted()
        self.escalate = _Sorted()
        self.rearm = _Sorted()

    def __len__(self) -> int:
        return len(self.armed) + len(self.escalate)

    @classmethod
    def build(
        cls, policy: Policy, members: Iterable[tuple[Subscription, StateTuple | None]]
    ) -> SeriesIndex:
        armed: list[Entry] = []
        esc: list[Entry] = []
        rearm: list[Entry] = []
        for sub, state in members:
            if state is None or not state[0]:
                armed.append((sub.threshold, sub.id, sub, state))
            else:
                esc.append((policy.bound(sub.threshold, state[1]), sub.id, sub, state))
                rearm.append((policy.rearm_bound(sub.threshold), sub.id, sub, None))
        index = cls()
        index.armed = _Sorted(armed)
        index.escalate = _Sorted(esc)
        index.rearm = _Sorted(rearm)
        return index

    def insert(self, policy: Policy, sub: Subscription, state: StateTuple | None) -> None:
        if state is None or not state[0]:
            self.armed.insert(sub.threshold, sub, state)
        else:
            self.escalate.insert(policy.bound(sub.threshold, state[1]), sub, state)
            self.rearm.insert(policy.rearm_bound(sub.threshold), sub, None)

    def discard(self, policy: Policy, sub: Subscription, state: StateTuple | None) -> None:
        if state is None or not state[0]:
            self.armed.discard(sub.threshold, sub.id)
        else:
            self.escalate.discard(policy.bound(sub.threshold, state[1]), sub.id)
            self.rearm.discard(policy.rearm_bound(sub.threshold), sub.id)

    def bulk_move(
        self,
        policy: Policy,
        moves: list[tuple[Subscription, StateTuple]],
        states: dict[int, StateTuple],
    ) -> None:
        """Give each member of this series in `moves` its new state (in `states` too)."""
        rm_armed: Pairs = []
        rm_esc: Pairs = []
        rm_rearm: Pairs = []
        add_armed: list[Entry] = []
        add_esc: list[Entry] = []
        add_rearm: list[Entry] = []
        for sub, new in moves:
            sub_id, threshold = sub.id, sub.threshold
            old = states.get(sub_id)
            was_fired = old is not None and old[0]
            if was_fired:
                rm_esc.append((policy.bound(threshold, old[1]), sub_id))  # type: ignore[index]
            else:
                rm_armed.append((threshold, sub_id))
            if new[0]:
                add_esc.append((policy.bound(threshold, new[1]), sub_id, sub, new))
            else:
                add_armed.append((threshold, sub_id, sub, new))
            if new[0]:
                if not was_fired:  # an escalation keeps its re-arm entry (same threshold)
                    add_rearm.append((policy.rearm_bound(threshold), sub_id, sub, None))
            elif was_fired:
                rm_rearm.append((policy.rearm_bound(threshold), sub_id))
            states[sub_id] = new
        self.armed.update(rm_armed, add_armed)
        self.escalate.update(rm_esc, add_esc)
        self.rearm.update(rm_rearm, add_rearm)

    def move_series(
        self,
        policy: Policy,
        m: SeriesMoves,
        new: tuple[list[StateTuple], list[StateTuple], list[StateTuple]],
        states: dict[int, StateTuple],
        unchanged: bool = False,
    ) -> None:
        """`bulk_move` for one series' moves as evaluated (`RuleBook._as_evaluated`): armed
        rules fired, fired ones escalated or re-armed; the same list updates, made a kind at a
        time instead of deciding per move.

        `unchanged`: the book has not changed since the evaluation, so the fired rules are
        still the armed list's first ones and the escalated the escalation list's first ones,
        in their order (`RuleBook.evaluate` took them as slices): they are cut off their lists
        and their ids read from them (a crash tick's 213,583 rules are not each looked for)."""
        bound, rearm = policy.bound, policy.rearm_bound
        fired, esc, back = m.fired, m.escalated, m.rearmed
        fired_new, esc_new, back_new = new
        armed: list[Entry] = [
            (s.threshold, s.id, s, n) for s, n in zip(back, back_new, strict=True)
        ]
        back_at: Pairs = [
            (bound(s.threshold, o[1]), s.id) for s, o in zip(back, m.rearmed_old, strict=True)
        ]
        if unchanged:
            thresholds, fired_ids = self.armed.take_first(len(fired))
            self.armed.update([], armed)
            esc_ids = self.escalate.take_first(len(esc))[1]
            gone = back_at
        else:
            self.armed.update([(s.threshold, s.id) for s in fired], armed)
            thresholds, fired_ids = [s.threshold for s in fired], [s.id for s in fired]
            esc_ids = [s.id for s in esc]
            gone = [
                (bound(s.threshold, o[1]), i)
                for s, i, o in zip(esc, esc_ids, m.escalated_old, strict=True)
            ] + back_at
        if type(policy) is Policy:  # its bounds without a call per rule: the same products
            factor, ratio = policy.escalation_factor, policy.rearm_ratio
            powers = [factor**level for level in range(MAX_LEVEL + 1)]
            added: list[Entry] = [
                (t * powers[n[1]], i, s, n)
                for t, i, s, n in zip(thresholds, fired_ids, fired, fired_new, strict=True)
            ]
            added += [
                (s.threshold * powers[n[1]], i, s, n)
                for s, i, n in zip(esc, esc_ids, esc_new, strict=True)
            ]
            fired_rearm: list[Entry] = [
                (t * ratio, i, s, None)
                for t, i, s in zip(thresholds, fired_ids, fired, strict=True)
            ]
        else:
            added = [
                (bound(t, n[1]), i, s, n)
                for t, i, s, n in zip(thresholds, fired_ids, fired, fired_new, strict=True)
            ]
            added += [
                (bound(s.threshold, n[1]), i, s, n)
                for s, i, n in zip(esc, esc_ids, esc_new, strict=True)
            ]
            fired_rearm = [
                (rearm(t), i, s, None) for t, i, s in zip(thresholds, fired_ids, fired, strict=True)
            ]
        self.escalate.update(gone, added)
        # an escalation keeps its re-arm entry (same threshold)
        self.rearm.update([(rearm(s.threshold), s.id) for s in back], fired_rearm)
        states.update(zip(fired_ids, fired_new, strict=True))
        states.update(zip(esc_ids, esc_new, strict=True))
        states.update(zip([s.id for s in back], back_new, strict=True))

    def crossed(self, value: float, complete: bool) -> tuple[int, int, list[int]]:
        """How many to fire (the first armed), to escalate (the first of `escalate`), and the
        ids that may re-arm (if their quiet time is over)."""
        return (
            self.armed.count_upto(value),
            self.escalate.count_upto(value),
            self.rearm.above(value) if complete else [],
        )
