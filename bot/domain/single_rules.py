"""Rules that fire on each single large liquidation (`/subscribe btc single 1m`).

The ingest path sees ~200k events/s, so the per-event cost is one float comparison against the
smallest threshold of every single rule; an event above it is kept (a list append). The engine
tick then looks the kept events up, by coin (and ALL), and checks side and venue: the fan-out
to many chats costs the tick, never the ingest path.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.models import ALL, Liquidation, Side, Subscription

_INF = float("inf")
_Key = tuple[str, Side, str | None]
MAX_PENDING = 10_000  # big events kept between ticks; beyond it the oldest go (counted)


def _key(sub: Subscription) -> _Key:
    return (sub.coin, sub.side, sub.venue)


@dataclass(frozen=True, slots=True)
class SingleHit:
    sub: Subscription
    event: Liquidation


class SingleIndex:
    def __init__(self) -> None:
        self._subs: dict[int, Subscription] = {}
        # (coin or ALL, side or TOTAL, venue or None) -> thresholds ascending, with their subs:
        # an event's matches are a prefix of at most 8 such lists (no rejected candidates)
        self._by_key: dict[_Key, tuple[list[float], list[Subscription]]] = {}
        self.floor: float = float("inf")  # no event is this big: no rule, no work
        self._pending: list[Liquidation] = []
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._subs)

    def __contains__(self, sub_id: int) -> bool:
        return sub_id in self._subs

    def add(self, sub: Subscription) -> None:
        self.remove(sub.id)
        self._subs[sub.id] = sub
        bounds, subs = self._by_key.setdefault(_key(sub), ([], []))
        i = bisect_right(bounds, sub.threshold)
        bounds.insert(i, sub.threshold)
        subs.insert(i, sub)
        self.floor = min(self.floor, sub.threshold)

    def remove(self, sub_id: int) -> bool:
        sub = self._subs.pop(sub_id, None)
        if sub is None:
            return False
        key = _key(sub)
        bounds, subs = self._by_key[key]
        i = next(j for j, s in enumerate(subs) if s.id == sub_id)
        del bounds[i], subs[i]
        if not subs:
            del self._by_key[key]
        self.floor = min((b[0] for b, _ in self._by_key.values()), default=_INF)
        return True

    def subscriptions(self) -> Iterable[Subscription]:
        return self._subs.values()

    def offer(self, events: list[Liquidation]) -> None:
        """The hot path: called with every batch a source delivers."""
        floor = self.floor
        if floor == _INF:
            return  # no single rule: no per-event work at all
        pending = self._pending
        for ev in events:
            if ev.usd >= floor:
                pending.append(ev)
        if len(pending) > MAX_PENDING:
            over = len(pending) - MAX_PENDING
            del pending[:over]
            self.dropped += over

    def _match(self, ev: Liquidation, out: list[SingleHit]) -> None:
        if not ev.usd < 1e12:  # NaN or absurd: the aggregator ignores it too
            return
        by_key = self._by_key
        for coin in (ev.coin, ALL):
            for side in (ev.side, Side.TOTAL):
                for venue in (ev.venue, None):
                    found = by_key.get((coin, side, venue))
                    if found is not None:
                        bounds, subs = found
                        for sub in subs[: bisect_right(bounds, ev.usd)]:
                            out.append(SingleHit(sub, ev))

    def take(self) -> list[SingleHit]:
        """The matches of the events kept since the last call, against the rules now."""
        events, self._pending = self._pending, []
        hits: list[SingleHit] = []
        for ev in events:
            self._match(ev, hits)
        return hits
