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
from typing import TYPE_CHECKING

from bot.domain.models import Subscription

if TYPE_CHECKING:
    from bot.domain.moves import StateTuple
    from bot.domain.policy import Policy

Pairs = list[tuple[float, int]]


class _Sorted:
    """Parallel lists of bounds (ascending) and subscription ids."""

    __slots__ = ("bounds", "ids")

    def __init__(self, pairs: Iterable[tuple[float, int]] = ()) -> None:
        ordered = sorted(pairs)
        self.bounds = [b for b, _ in ordered]
        self.ids = [i for _, i in ordered]

    def __len__(self) -> int:
        return len(self.ids)

    def insert(self, bound: float, sub_id: int) -> None:
        i = bisect_right(self.bounds, bound)
        self.bounds.insert(i, bound)
        self.ids.insert(i, sub_id)

    def discard(self, bound: float, sub_id: int) -> None:
        bounds, ids = self.bounds, self.ids
        i = bisect_left(bounds, bound)
        while i < len(ids) and bounds[i] == bound:
            if ids[i] == sub_id:
                del bounds[i], ids[i]
                return
            i += 1
        if sub_id in ids:  # only if the bound was computed differently: stay correct anyway
            j = ids.index(sub_id)
            del bounds[j], ids[j]

    def update(self, remove: Pairs, add: Pairs) -> None:
        """Remove and add many (bound, id) pairs: one filter and one sort when that is cheaper
        than a bisect-insert (a list shift) per pair."""
        if not remove and not add:
            return
        if len(remove) + len(add) <= 8 + len(self.ids) // 32:
            for bound, sub_id in remove:
                self.discard(bound, sub_id)
            for bound, sub_id in add:
                self.insert(bound, sub_id)
            return
        gone = {i for _, i in remove}
        pairs = [(b, i) for b, i in zip(self.bounds, self.ids, strict=True) if i not in gone]
        pairs += add
        pairs.sort()
        self.bounds = [b for b, _ in pairs]
        self.ids = [i for _, i in pairs]

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
        armed, esc, rearm = [], [], []
        for sub, state in members:
            if state is None or not state[0]:
                armed.append((sub.threshold, sub.id))
            else:
                esc.append((policy.bound(sub.threshold, state[1]), sub.id))
                rearm.append((policy.rearm_bound(sub.threshold), sub.id))
        index = cls()
        index.armed = _Sorted(armed)
        index.escalate = _Sorted(esc)
        index.rearm = _Sorted(rearm)
        return index

    def insert(self, policy: Policy, sub: Subscription, state: StateTuple | None) -> None:
        if state is None or not state[0]:
            self.armed.insert(sub.threshold, sub.id)
        else:
            self.escalate.insert(policy.bound(sub.threshold, state[1]), sub.id)
            self.rearm.insert(policy.rearm_bound(sub.threshold), sub.id)

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
        add_armed: Pairs = []
        add_esc: Pairs = []
        add_rearm: Pairs = []
        for sub, new in moves:
            sub_id, threshold = sub.id, sub.threshold
            old = states.get(sub_id)
            was_fired = old is not None and old[0]
            if was_fired:
                rm_esc.append((policy.bound(threshold, old[1]), sub_id))  # type: ignore[index]
            else:
                rm_armed.append((threshold, sub_id))
            if new[0]:
                add_esc.append((policy.bound(threshold, new[1]), sub_id))
                if not was_fired:  # an escalation keeps its re-arm bound (same threshold)
                    add_rearm.append((policy.rearm_bound(threshold), sub_id))
            else:
                add_armed.append((threshold, sub_id))
                if was_fired:
                    rm_rearm.append((policy.rearm_bound(threshold), sub_id))
            states[sub_id] = new
        self.armed.update(rm_armed, add_armed)
        self.escalate.update(rm_esc, add_esc)
        self.rearm.update(rm_rearm, add_rearm)

    def crossed(self, value: float, complete: bool) -> tuple[list[int], list[int], list[int]]:
        """Ids to fire, to escalate, and that may re-arm (if their quiet time is over)."""
        return (
            self.armed.upto(value),
            self.escalate.upto(value),
            self.rearm.above(value) if complete else [],
        )
