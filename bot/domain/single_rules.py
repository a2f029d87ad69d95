"""Rules that fire on each single large liquidation (`/subscribe btc single 1m`).

The ingest path sees ~200k events/s, so the per-event cost is one float comparison against the
smallest threshold of every single rule; only events above it look rules up, by coin (and ALL),
and check side and venue. Matches wait in a small queue until the next engine tick drains them.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.models import ALL, Liquidation, Side, Subscription

_INF = float("inf")
MAX_PENDING = 10_000  # matches held between ticks; beyond it the oldest go (counted)


@dataclass(frozen=True, slots=True)
class SingleHit:
    sub: Subscription
    event: Liquidation


class SingleIndex:
    def __init__(self) -> None:
        self._subs: dict[int, Subscription] = {}
        # coin (or ALL) -> [(threshold, sub id)] ascending: a match is a prefix scan
        self._by_coin: dict[str, list[tuple[float, int]]] = {}
        self.floor: float = float("inf")  # no event is this big: no rule, no work
        self._pending: list[SingleHit] = []
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._subs)

    def __contains__(self, sub_id: int) -> bool:
        return sub_id in self._subs

    def add(self, sub: Subscription) -> None:
        self.remove(sub.id)
        self._subs[sub.id] = sub
        insort(self._by_coin.setdefault(sub.coin, []), (sub.threshold, sub.id))
        self.floor = min(self.floor, sub.threshold)

    def remove(self, sub_id: int) -> bool:
        sub = self._subs.pop(sub_id, None)
        if sub is None:
            return False
        rows = self._by_coin[sub.coin]
        rows.remove((sub.threshold, sub.id))
        if not rows:
            del self._by_coin[sub.coin]
        self.floor = min((r[0][0] for r in self._by_coin.values()), default=float("inf"))
        return True

    def subscriptions(self) -> Iterable[Subscription]:
        return self._subs.values()

    def offer(self, events: list[Liquidation]) -> None:
        """The hot path: called with every batch a source delivers."""
        floor = self.floor
        if floor == _INF:
            return  # no single rule: no per-event work at all
        for ev in events:
            if ev.usd >= floor:
                self._match(ev)

    def _match(self, ev: Liquidation) -> None:
        if not ev.usd < 1e12:  # NaN or absurd: the aggregator ignores it too
            return
        for key in (ev.coin, ALL):
            for threshold, sub_id in self._by_coin.get(key, ()):
                if threshold > ev.usd:
                    break
                sub = self._subs[sub_id]
                if sub.side is not Side.TOTAL and sub.side != ev.side:
                    continue
                if sub.venue is not None and sub.venue != ev.venue:
                    continue
                self._pending.append(SingleHit(sub, ev))
        if len(self._pending) > MAX_PENDING:
            over = len(self._pending) - MAX_PENDING
            del self._pending[:over]
            self.dropped += over

    def take(self) -> list[SingleHit]:
        """The matches since the last call (subscriptions removed meanwhile left out)."""
        hits, self._pending = self._pending, []
        return [h for h in hits if h.sub.id in self._subs]
