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

from bot.domain.models import AlertState, Status, Subscription

if TYPE_CHECKING:
    from bot.domain.rules import Policy


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
        cls, policy: Policy, members: Iterable[tuple[Subscription, AlertState | None]]
    ) -> SeriesIndex:
        armed, esc, rearm = [], [], []
        for sub, state in members:
            if state is None or state.status is Status.ARMED:
                armed.append((sub.threshold, sub.id))
            else:
                esc.append((policy.bound(sub.threshold, state.level), sub.id))
                rearm.append((policy.rearm_bound(sub.threshold), sub.id))
        index = cls()
        index.armed = _Sorted(armed)
        index.escalate = _Sorted(esc)
        index.rearm = _Sorted(rearm)
        return index

    def insert(self, policy: Policy, sub: Subscription, state: AlertState | None) -> None:
        if state is None or state.status is Status.ARMED:
            self.armed.insert(sub.threshold, sub.id)
        else:
            self.escalate.insert(policy.bound(sub.threshold, state.level), sub.id)
            self.rearm.insert(policy.rearm_bound(sub.threshold), sub.id)

    def discard(self, policy: Policy, sub: Subscription, state: AlertState | None) -> None:
        if state is None or state.status is Status.ARMED:
            self.armed.discard(sub.threshold, sub.id)
        else:
            self.escalate.discard(policy.bound(sub.threshold, state.level), sub.id)
            self.rearm.discard(policy.rearm_bound(sub.threshold), sub.id)

    def crossed(self, value: float, complete: bool) -> tuple[list[int], list[int], list[int]]:
        """Ids to fire, to escalate, and that may re-arm (if their quiet time is over)."""
        return (
            self.armed.upto(value),
            self.escalate.upto(value),
            self.rearm.above(value) if complete else [],
        )
