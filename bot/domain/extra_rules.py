"""The rule kinds beside the plain window rules of RuleBook (issue 14), as additive paths:

- venue-filtered window rules: one RuleBook per venue, evaluated on that venue's view of the
  snapshot (venue_view), so they keep the indexed evaluation and the exact lifecycle;
- relative rules (`3x` the usual sum for the coin, window and hour of day): few, evaluated one by
  one through `rules.step` with the threshold of the hour; they wait until a baseline exists;
- single-liquidation rules: matched on ingest by SingleIndex, drained each tick.

`RuleSet` routes each subscription to RuleBook or here, and is what the command service holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from bot.domain.baselines import Usual, hour_of
from bot.domain.models import AlertState, Side, Snapshot, Subscription, Transition
from bot.domain.rules import Muted, Policy, RuleBook, step, transition
from bot.domain.single_rules import SingleHit, SingleIndex
from bot.domain.venue_view import venue_snapshot

MIN_RELATIVE_USD = 1_000.0  # 3x a silent hour is still no alert for $1
BaselineKey = tuple[str, int, Side, str | None]  # coin, window, side, venue


def is_extra(sub: Subscription) -> bool:
    return sub.venue is not None or sub.kind == "single" or sub.factor is not None


def baseline_key(sub: Subscription) -> BaselineKey:
    return (sub.coin, sub.window, sub.side, sub.venue)


def _never(_sub: Subscription) -> bool:
    return False


class ExtraRules:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.singles = SingleIndex()
        self._venue_books: dict[str, RuleBook] = {}
        self._relative: dict[int, Subscription] = {}
        self._rel_states: dict[int, AlertState] = {}
        self._baselines: dict[BaselineKey, dict[int, Usual]] = {}

    def __len__(self) -> int:
        return len(self.singles) + len(self._relative) + sum(map(len, self._venue_books.values()))

    # ---- changes -------------------------------------------------------------------------

    def load(self, subs: Iterable[Subscription], states: Mapping[int, AlertState]) -> None:
        self.__init__(self.policy)  # type: ignore[misc]
        for sub in subs:
            self.add(sub, states.get(sub.id))

    def add(self, sub: Subscription, state: AlertState | None = None) -> None:
        self.remove(sub.id)
        if sub.kind == "single":
            self.singles.add(sub)
        elif sub.factor is not None:
            self._relative[sub.id] = sub
            if state is not None:
                self._rel_states[sub.id] = state
        else:
            assert sub.venue is not None
            book = self._venue_books.get(sub.venue)
            if book is None:
                book = self._venue_books[sub.venue] = RuleBook(self.policy)
            book.add(sub, state)

    def remove(self, sub_id: int) -> bool:
        if self.singles.remove(sub_id):
            return True
        if self._relative.pop(sub_id, None) is not None:
            self._rel_states.pop(sub_id, None)
            return True
        return any(book.remove(sub_id) for book in self._venue_books.values())

    def subscription(self, sub_id: int) -> Subscription | None:
        if sub_id in self._relative:
            return self._relative[sub_id]
        for book in self._venue_books.values():
            if (sub := book.subscription(sub_id)) is not None:
                return sub
        return next((s for s in self.singles.subscriptions() if s.id == sub_id), None)

    def all(self) -> list[Subscription]:
        return [
            *self.singles.subscriptions(),
            *self._relative.values(),
            *(s for b in self._venue_books.values() for s in b._subs.values()),
        ]

    def sync_states(self, states: Mapping[int, AlertState]) -> int:
        """As RuleBook.sync_states, for the venue books and the relative rules."""
        moved = 0
        for sub_id in self._relative:
            new = states.get(sub_id)
            if self._rel_states.get(sub_id) != new:
                moved += 1
                if new is None:
                    self._rel_states.pop(sub_id, None)
                else:
                    self._rel_states[sub_id] = new
        return moved + sum(book.sync_states(states) for book in self._venue_books.values())

    def rekey_chat(self, old_key: str, new_key: str) -> int:
        moved = [s for s in self.all() if s.chat_key == old_key]
        for sub in moved:
            self.add(replace(sub, chat_key=new_key), self.state(sub.id))
        return len(moved)

    def apply(self, transitions: Iterable[Transition]) -> None:
        mine = [t for t in transitions if t.sub_id in self._relative]
        for t in mine:
            self._rel_states[t.sub_id] = t.new
        for book in self._venue_books.values():
            book.apply(transitions)

    # ---- baselines of relative rules -----------------------------------------------------

    def baseline_keys(self) -> set[BaselineKey]:
        return {baseline_key(s) for s in self._relative.values()}

    def set_baselines(self, key: BaselineKey, by_hour: dict[int, Usual]) -> None:
        self._baselines[key] = by_hour

    def usual(self, sub: Subscription, now_ms: int) -> Usual | None:
        return self._baselines.get(baseline_key(sub), {}).get(hour_of(now_ms))

    def threshold_now(self, sub: Subscription, now_ms: int) -> float | None:
        """A relative rule's threshold at this hour; None while history is too short."""
        u = self.usual(sub, now_ms)
        if u is None or sub.factor is None:
            return None
        return max(sub.factor * u.usd, MIN_RELATIVE_USD)

    # ---- questions -----------------------------------------------------------------------

    def state(self, sub_id: int) -> AlertState | None:
        if sub_id in self._relative:
            return self._rel_states.get(sub_id) or AlertState(sub_id)
        for book in self._venue_books.values():
            if (st := book.state(sub_id)) is not None:
                return st
        return AlertState(sub_id) if sub_id in self.singles else None

    def evaluate(self, snapshot: Snapshot, now_ms: int, muted: Muted = _never) -> list[Transition]:
        out: list[Transition] = []
        views: dict[str, Snapshot] = {}

        def view(venue: str | None) -> Snapshot:
            if venue is None:
                return snapshot
            if venue not in views:
                views[venue] = venue_snapshot(snapshot, venue)
            return views[venue]

        for venue, book in self._venue_books.items():
            out.extend(book.evaluate(view(venue), now_ms, muted))
        for sub in self._relative.values():
            threshold = self.threshold_now(sub, now_ms)
            if threshold is None:
                continue  # waiting for enough history (the confirmation and /list say so)
            snap = view(sub.venue)
            value = snap.value(sub.coin, sub.window, sub.side)
            if value is None:
                continue
            rule = replace(sub, threshold=threshold)
            old = self._rel_states.get(sub.id) or AlertState(sub.id)
            new = step(self.policy, rule, old, value, sub.window in snap.complete_windows, now_ms)
            if new is not None:
                out.append(transition(rule, old, new, value, snap, now_ms, muted))
        out.sort(key=lambda t: t.sub_id)
        return out

    def take_singles(self) -> list[SingleHit]:
        return self.singles.take()


class RuleSet:
    """What the command service and the app hold: plain rules in RuleBook, the others here."""

    def __init__(self, book: RuleBook, extras: ExtraRules) -> None:
        self.book = book
        self.extras = extras

    @property
    def policy(self) -> Policy:
        return self.book.policy

    def load(self, subs: Iterable[Subscription], states: Mapping[int, AlertState]) -> None:
        subs = list(subs)
        self.book.load([s for s in subs if not is_extra(s)], states)
        self.extras.load([s for s in subs if is_extra(s)], states)

    def add(self, sub: Subscription) -> None:
        (self.extras if is_extra(sub) else self.book).add(sub)

    def remove(self, sub_id: int) -> bool:
        return bool(self.book.remove(sub_id)) or self.extras.remove(sub_id)

    def state(self, sub_id: int) -> AlertState | None:
        st = self.book.state(sub_id)
        return st if st is not None else self.extras.state(sub_id)

    def rekey_chat(self, old_key: str, new_key: str) -> int:
        return self.book.rekey_chat(old_key, new_key) + self.extras.rekey_chat(old_key, new_key)
