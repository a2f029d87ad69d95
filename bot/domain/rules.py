"""The rules engine: subscriptions x snapshot -> state transitions and alerts.

Lifecycle per subscription (see models.AlertState):
armed --(value >= threshold)--> fired at the highest level reached (one alert)
fired --(value >= threshold * factor**level)--> escalated to the highest level reached (one alert)
fired --(value < rearm_ratio * threshold, window complete, quiet time over)--> armed (no alert)
A window that is not served changes nothing; a muted subscription moves but says nothing.

`RuleBook.evaluate` touches only the subscriptions that transition: per series (coin, window,
side) it keeps armed ones sorted by threshold and fired ones sorted by their next escalation bound
and by their re-arm bound, so each tick is one bisect per bound list (see rules_index.py), and
it records the moves compactly (see moves.py). `evaluate_naive` walks every subscription with
`step`, the readable statement of the lifecycle; a property test holds the two equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from bot.domain.models import (
    ALL,
    Alert,
    AlertKind,
    AlertState,
    Side,
    Snapshot,
    Status,
    Subscription,
    Transition,
)
from bot.domain.moves import (
    SeriesMoves,
    StateTuple,
    Transitions,
    from_state,
    paused_gc,
    to_state,
)
from bot.domain.policy import Policy
from bot.domain.rules_index import SeriesIndex
from bot.domain.rules_levels import escalate_levels, fire_levels

Muted = Callable[[Subscription], bool]
SeriesKey = tuple[str, int, Side]
# A series with at least this many moves is applied a kind at a time. Fewer go move by move,
# which costs less than that path's dozen list comprehensions: a crash over 20,000 rules (1.8
# moves a series) applied in 23.4 ms that way against 12.6 ms at 8; over 1,000,000 rules, 8 and
# 1 were the same within the noise.
KINDS_AT_ONCE = 8


def step(
    policy: Policy,
    sub: Subscription,
    state: AlertState,
    value: float | None,
    complete: bool,
    now_ms: int,
) -> AlertState | None:
    """The next state of one subscription, or None when it stays as it is."""
    if value is None or value != value:  # unknown, or NaN: no data is not a number
        return None
    if state.status is Status.ARMED:
        if value >= sub.threshold:
            level = policy.level_for(sub.threshold, value)
            return AlertState(
                sub.id, Status.FIRED, level, state.episode + 1, now_ms, state.last_alert_ms
            )
        return None
    if value >= policy.bound(sub.threshold, state.level):
        level = policy.level_for(sub.threshold, value, state.level)
        return AlertState(
            sub.id, Status.FIRED, level, state.episode, state.fired_ms, state.last_alert_ms
        )
    if (
        value < policy.rearm_bound(sub.threshold)
        and complete
        and (state.fired_ms is None or now_ms - state.fired_ms >= policy.min_quiet_ms)
    ):
        return AlertState(sub.id, Status.ARMED, 0, state.episode, None, state.last_alert_ms)
    return None


def transition(
    sub: Subscription,
    old: AlertState,
    new: AlertState,
    value: float,
    snapshot: Snapshot,
    now_ms: int,
    muted: Muted,
) -> Transition:
    """Wrap a state change with the alert it produces (none for re-arming or when muted)."""
    if new.status is not Status.FIRED:
        return Transition(sub.id, old, new, None)
    kind = AlertKind.FIRED if old.status is Status.ARMED else AlertKind.ESCALATED
    if muted(sub):
        return Transition(sub.id, old, new, None)
    totals = snapshot.window_totals(sub.coin, sub.window)
    alert = Alert(
        sub=sub,
        kind=kind,
        value=value,
        level=new.level,
        episode=new.episode,
        as_of_ms=snapshot.as_of_ms,
        longs=totals.longs if totals else 0.0,
        shorts=totals.shorts if totals else 0.0,
        venues=snapshot.venues.get((sub.coin, sub.window), ()),
        sources=snapshot.sources,
        sampled=snapshot.sampled,
        gaps=snapshot.gaps,
    )
    new = AlertState(new.sub_id, new.status, new.level, new.episode, new.fired_ms, now_ms)
    return Transition(sub.id, old, new, alert)


def _never_muted(_sub: Subscription) -> bool:
    return False


class RuleBook:
    """All subscriptions and their states, indexed by series for cheap evaluation.

    States are kept as plain tuples (see moves.py): a crash tick replaces hundreds of thousands.
    """

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or Policy()
        self._subs: dict[int, Subscription] = {}
        self._states: dict[int, StateTuple] = {}  # absent = armed, never fired
        self._index: dict[SeriesKey, SeriesIndex] = {}
        # counts every change: moves evaluated at the current count are exactly as evaluated
        # (their apply needs no check per rule: `_as_evaluated` on a crash tick was ~0.25 s)
        self._changes = 0

    def __len__(self) -> int:
        return len(self._subs)

    # ---- changes -------------------------------------------------------------------------

    def load(self, subs: Iterable[Subscription], states: Mapping[int, AlertState]) -> None:
        """Replace the whole book (at start); states of unknown subscriptions are dropped."""
        self._changes += 1
        self._subs = {s.id: s for s in subs}
        self._states = {i: from_state(st) for i, st in states.items() if i in self._subs}
        self._index = {}
        pending: dict[SeriesKey, list[tuple[Subscription, StateTuple | None]]] = {}
        for sub in self._subs.values():
            key = (sub.coin, sub.window, sub.side)
            pending.setdefault(key, []).append((sub, self._states.get(sub.id)))
        for key, members in pending.items():
            self._index[key] = SeriesIndex.build(self.policy, members)

    def add(self, sub: Subscription, state: AlertState | None = None) -> None:
        """Add (or replace, by id) a subscription; armed unless a state is given."""
        if sub.id in self._subs:
            self.remove(sub.id)
        self._add(sub, from_state(state) if state is not None else None)

    def _add(self, sub: Subscription, state: StateTuple | None) -> None:
        self._changes += 1
        self._subs[sub.id] = sub
        if state is not None:
            self._states[sub.id] = state
        key = (sub.coin, sub.window, sub.side)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = SeriesIndex()
        index.insert(self.policy, sub, self._states.get(sub.id))

    def remove(self, sub_id: int) -> bool:
        sub = self._subs.pop(sub_id, None)
        if sub is None:
            return False
        self._changes += 1
        state = self._states.pop(sub_id, None)
        key = (sub.coin, sub.window, sub.side)
        index = self._index[key]
        index.discard(self.policy, sub, state)
        if not index:
            del self._index[key]
        return True

    def sync_states(self, states: Mapping[int, AlertState]) -> int:
        """Make every state the store's, as `load` would (a takeover: the old leader moved them),
        re-indexing only the subscriptions whose state differs. Returns how many moved."""
        wanted = {i: from_state(st) for i, st in states.items() if i in self._subs}
        moved = 0
        for sub_id in self._states.keys() | wanted.keys():
            new = wanted.get(sub_id)
            if self._states.get(sub_id) == new:
                continue
            sub = self._subs[sub_id]
            self.remove(sub_id)
            self._add(sub, new)
            moved += 1
        return moved

    def apply(self, transitions: Iterable[Transition]) -> None:
        """Make the transitions the book's truth (after the store committed them)."""
        if isinstance(transitions, Transitions):
            self._apply_moves(transitions)
        else:
            for t in transitions:
                self._apply_one(t.sub_id, from_state(t.new))
        self._changes += 1

    def revert(self, moves: Transitions) -> None:
        """Undo `apply(moves)`: every moved rule back to the state it was evaluated from. For a
        tick whose commit failed after the book applied its moves (the engine applies them
        while the store's last writes run); a rule removed since is left alone."""
        for m in moves.series:
            for subs, olds in (
                (m.fired, m.fired_old),
                (m.escalated, m.escalated_old),
                (m.rearmed, m.rearmed_old),
            ):
                for sub, old in zip(subs, olds, strict=True):
                    self._restore(sub.id, old)
        self._changes += 1

    def _restore(self, sub_id: int, old: StateTuple | None) -> None:
        sub = self._subs.get(sub_id)
        if sub is None:
            return
        index = self._index[(sub.coin, sub.window, sub.side)]
        index.discard(self.policy, sub, self._states.get(sub_id))
        if old is None:
            self._states.pop(sub_id, None)
        else:
            self._states[sub_id] = old
        index.insert(self.policy, sub, old)

    def _apply_one(self, sub_id: int, new: StateTuple) -> None:
        sub = self._subs.get(sub_id)
        if sub is None:
            return  # removed between evaluate and apply
        index = self._index[(sub.coin, sub.window, sub.side)]
        index.discard(self.policy, sub, self._states.get(sub_id))
        self._states[sub_id] = new
        index.insert(self.policy, sub, new)

    def _apply_moves(self, moves: Transitions) -> None:
        """Per series, one bulk update of its sorted lists instead of a bisect-insert per move."""
        subs = self._subs
        unchanged = moves.book_changes == self._changes  # nothing changed since the evaluation
        seen: set[SeriesKey] = set()  # a series twice (an `only` naming it twice): careful
        for m in moves.series:
            key = (m.coin, m.window, m.side)
            index = self._index.get(key)
            first = key not in seen
            seen.add(key)
            if (
                index is not None
                and not moves.silent
                and len(m) >= KINDS_AT_ONCE
                and first
                and (unchanged or self._as_evaluated(m))
            ):
                index.move_series(
                    self.policy, m, m.new_state_lists(moves.now_ms), self._states, unchanged
                )
                continue
            same: list[tuple[Subscription, StateTuple]] = []
            for sub, new in m.new_states(moves.now_ms, moves.silent):
                if subs.get(sub.id) is sub and index is not None:
                    same.append((sub, new))
                else:  # removed, re-added or moved since the evaluation: the careful way
                    self._apply_one(sub.id, new)
            if same:
                index.bulk_move(self.policy, same, self._states)  # type: ignore[union-attr]

    def _as_evaluated(self, m: SeriesMoves) -> bool:
        """Whether every rule of these moves is still the one evaluated, in the state it was
        evaluated from (then its moves are known exactly: armed ones fired, fired ones
        escalated or re-armed). Only apply changes states, so this holds unless a rule was
        removed, re-added or moved meanwhile."""
        subs, states = self._subs, self._states
        return (
            all(subs.get(s.id) is s and states.get(s.id) is o and (o is None or not o[0])
                for s, o in zip(m.fired, m.fired_old, strict=True))
            and all(subs.get(s.id) is s and states.get(s.id) is o and o[0]
                    for s, o in zip(m.escalated, m.escalated_old, strict=True))
            and all(subs.get(s.id) is s and states.get(s.id) is o and o[0]
                    for s, o in zip(m.rearmed, m.rearmed_old, strict=True))
        )  # fmt: skip

    def rekey_chat(self, old_key: str, new_key: str) -> int:
        """A chat moved (Telegram group -> supergroup): its rules now speak to the new key."""
        moved = [s for s in self._subs.values() if s.chat_key == old_key]
        for sub in moved:
            state = self._states.get(sub.id)
            self.remove(sub.id)
            self._add(replace(sub, chat_key=new_key), state)
        return len(moved)

    # ---- questions -----------------------------------------------------------------------

    def state(self, sub_id: int) -> AlertState | None:
        if sub_id not in self._subs:
            return None
        return to_state(sub_id, self._states.get(sub_id))

    def subscription(self, sub_id: int) -> Subscription | None:
        return self._subs.get(sub_id)

    def subscriptions(self) -> Iterable[Subscription]:
        """Every subscription in the book (a view: do not change the book while iterating)."""
        return self._subs.values()

    def series_of(self, touched: Iterable[tuple[str, Side]]) -> list[SeriesKey]:
        """The series new data on (coin, side) can move: that side and the total, in every window,
        for the coin and for the whole market."""
        wanted = set()
        for coin, side in touched:
            for c in (coin, ALL):
                wanted.add((c, side))
                wanted.add((c, Side.TOTAL))
        return [key for key in self._index if (key[0], key[2]) in wanted]

    def evaluate(
        self,
        snapshot: Snapshot,
        now_ms: int,
        muted: Muted = _never_muted,
        only: Iterable[SeriesKey] | None = None,
    ) -> Transitions:
        """The transitions this snapshot causes (read as a list sorted by sub id); the book is
        not changed. `only`: evaluate just these series (the ones new data touched).

        Per series: a few bisects, then only the candidates, a few list entries each. Same
        results as `evaluate_naive` (a property test).
        """
        # A crash tick builds hundreds of thousands of acyclic objects; the cyclic collector
        # would rescan the whole book several times meanwhile (measured: half the time).
        with paused_gc():
            return self._evaluate(snapshot, now_ms, muted, only)

    def _evaluate(
        self, snapshot: Snapshot, now_ms: int, muted: Muted, only: Iterable[SeriesKey] | None
    ) -> Transitions:
        policy = self.policy
        factor = policy.escalation_factor
        quiet = policy.min_quiet_ms
        subs = self._subs
        states = self._states
        complete_windows = snapshot.complete_windows
        out = Transitions(snapshot, now_ms, self._changes)
        check_mutes = muted is not _never_muted
        if only is None:
            series: Iterable[tuple[SeriesKey, SeriesIndex]] = self._index.items()
        else:
            series = [(k, i) for k in only if (i := self._index.get(k)) is not None]
        for (coin, window, side), index in series:
            value = snapshot.value(coin, window, side)
            if value is None or value != value:  # unknown, or NaN (which bisect would misread)
                continue
            complete = window in complete_windows
            n_fire, n_escalate, to_rearm = index.crossed(value, complete)
            if not (n_fire or n_escalate or to_rearm):
                continue
            totals = snapshot.window_totals(coin, window)
            m = SeriesMoves(
                coin, window, side, value,
                totals.longs if totals else 0.0, totals.shorts if totals else 0.0,
                snapshot.venues.get((coin, window), ()),
            )  # fmt: skip
            if n_fire:  # the first armed ones (threshold <= value): level 1 at least
                armed = index.armed
                m.fired = armed.subs[:n_fire]
                m.fired_ids = armed.ids[:n_fire]
                m.fired_levels = fire_levels(armed.bounds, n_fire, value, factor)
                m.fired_old = armed.olds[:n_fire]
            if n_escalate:  # value reached their next bound: one level up at least
                esc = index.escalate
                m.escalated = esc.subs[:n_escalate]
                m.escalated_ids = esc.ids[:n_escalate]
                m.escalated_old = esc.olds[:n_escalate]
                m.escalated_levels = escalate_levels(
                    esc.bounds, m.escalated, m.escalated_old, value, factor
                )
            for sub_id in to_rearm:  # value is below their re-arm bound: only the quiet time
                old = states[sub_id]
                if old[3] is None or now_ms - old[3] >= quiet:
                    m.rearmed.append(subs[sub_id])
                    m.rearmed_old.append(old)
            if check_mutes:
                out.silent.update(s.id for s in (*m.fired, *m.escalated) if muted(s))
            if m:
                out.series.append(m)
        return out

    def evaluate_naive(
        self, snapshot: Snapshot, now_ms: int, muted: Muted = _never_muted
    ) -> list[Transition]:
        """The same as `evaluate`, one subscription at a time (the reference and the baseline)."""
        policy = self.policy
        out: list[Transition] = []
        for sub in self._subs.values():
            value = snapshot.value(sub.coin, sub.window, sub.side)
            if value is None:
                continue
            old = to_state(sub.id, self._states.get(sub.id))
            complete = sub.window in snapshot.complete_windows
            new = step(policy, sub, old, value, complete, now_ms)
            if new is not None:
                out.append(transition(sub, old, new, value, snapshot, now_ms, muted))
        out.sort(key=_by_sub)
        return out


def _by_sub(t: Transition) -> int:
    return t.sub_id
