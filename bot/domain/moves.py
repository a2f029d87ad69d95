"""The transitions of one evaluation, held compactly: per series, parallel lists, no per-sub objects.

A crash tick moves hundreds of thousands of subscriptions at once. Building a `Transition` (two
`AlertState`s and an `Alert`) for each cost about a second; here each move is a few list entries,
and the objects are made only where they are needed: `AlertState`s for the store as plain row
tuples, `Alert`s per chat message when it is rendered (`alerts_by_chat`), and the full
`Transition` list only when someone reads the batch as a sequence (tests, the reference check).

A book state is a plain tuple `(fired, level, episode, fired_ms, last_alert_ms)`; None stands for
"armed, never fired".
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import overload

from bot.domain.models import (
    Alert,
    AlertKind,
    AlertState,
    Side,
    Snapshot,
    Status,
    Subscription,
    Transition,
    VenueSplit,
)

StateTuple = tuple[bool, int, int, int | None, int | None]
# a store row: (sub_id, status, level, episode, fired_ms, last_alert_ms)
StateRow = tuple[int, str, int, int, int | None, int | None]
# a store row without its sub id: (status, level, episode, fired_ms, last_alert_ms)
StateValues = tuple[str, int, int, int | None, int | None]
# the new states of one series' fired, escalated and re-armed rules, in their lists' order
NewStates = tuple[list[StateTuple], list[StateTuple], list[StateTuple]]

_FIRED = Status.FIRED.value
_ARMED = Status.ARMED.value


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside: for building many short-lived acyclic objects.

    After `gc.freeze()` every collection that reaches the oldest generation rescans all objects
    made since; a crash tick's hundreds of thousands of alerts made that 3x the work itself.
    The pause defers collections, it does not skip them: objects still referenced when it ends
    are scanned by the next ones, so drop them inside it (`Engine._run` keeps a tick's there).
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def to_state(sub_id: int, t: StateTuple | None) -> AlertState:
    if t is None:
        return AlertState(sub_id)
    fired, level, episode, fired_ms, last_alert_ms = t
    return AlertState(
        sub_id, Status.FIRED if fired else Status.ARMED, level, episode, fired_ms, last_alert_ms
    )


def from_state(s: AlertState) -> StateTuple:
    return (s.status is Status.FIRED, s.level, s.episode, s.fired_ms, s.last_alert_ms)


class SeriesMoves:
    """What one (coin, window, side) series did in one evaluation, and what its alerts share."""

    __slots__ = (
        "_new",
        "coin",
        "escalated",
        "escalated_ids",
        "escalated_levels",
        "escalated_old",
        "fired",
        "fired_ids",
        "fired_levels",
        "fired_old",
        "longs",
        "rearmed",
        "rearmed_old",
        "shorts",
        "side",
        "value",
        "venues",
        "window",
    )  # fmt: skip

    def __init__(
        self,
        coin: str,
        window: int,
        side: Side,
        value: float,
        longs: float,
        shorts: float,
        venues: tuple[VenueSplit, ...],
    ) -> None:
        self.coin, self.window, self.side, self.value = coin, window, side, value
        self.longs, self.shorts, self.venues = longs, shorts, venues
        self.fired: list[Subscription] = []  # armed -> fired
        self.fired_levels: list[int] = []
        self.fired_old: list[StateTuple | None] = []
        self.escalated: list[Subscription] = []  # fired -> a higher level
        self.escalated_levels: list[int] = []
        self.escalated_old: list[StateTuple] = []
        # the fired and escalated rules' ids as the evaluation took them (slices of the sorted
        # lists' ids, beside the rules: no rule object is read for them); `ids` reads them
        self.fired_ids: list[int] = []
        self.escalated_ids: list[int] = []
        self.rearmed: list[Subscription] = []  # fired -> armed (says nothing)
        self.rearmed_old: list[StateTuple] = []
        # new_state_lists' last answer and what it was made from: the store's write and the
        # book's apply read the same lists (a crash tick's 213,583 states made once, not twice)
        self._new: tuple[tuple[int, int, int, int], NewStates] | None = None

    def __len__(self) -> int:
        return len(self.fired) + len(self.escalated) + len(self.rearmed)

    def ids(self) -> list[int]:
        """The moved rules' ids, in `new_states`' order: fired, escalated, re-armed (each kind's
        ids as the evaluation took them, or read from the rules where it took none)."""
        fired, esc = self.fired_ids, self.escalated_ids
        if len(fired) != len(self.fired):
            fired = [s.id for s in self.fired]
        if len(esc) != len(self.escalated):
            esc = [s.id for s in self.escalated]
        return [*fired, *esc, *[s.id for s in self.rearmed]]

    def new_states(
        self, now_ms: int, silent: frozenset[int] | set[int]
    ) -> Iterator[tuple[Subscription, StateTuple]]:
        """Each moved subscription with its new state (`silent`: muted ids, no alert stamp)."""
        for sub, level, old in zip(self.fired, self.fired_levels, self.fired_old, strict=True):
            episode = old[2] + 1 if old is not None else 1
            last = (old[4] if old is not None else None) if sub.id in silent else now_ms
            yield sub, (True, level, episode, now_ms, last)
        for sub, level, old in zip(
            self.escalated, self.escalated_levels, self.escalated_old, strict=True
        ):
            yield sub, (True, level, old[2], old[3], old[4] if sub.id in silent else now_ms)
        for sub, old in zip(self.rearmed, self.rearmed_old, strict=True):
            yield sub, (False, 0, old[2], None, old[4])

    def new_state_lists(self, now_ms: int) -> NewStates:
        """The fired, escalated and re-armed rules' new states, as `new_states` gives them when
        none is silent: a comprehension per kind (the crash tick's apply, 213,583 of them).
        Made once per `now_ms` (and lists' lengths); the caller must not change them."""
        made_of = (now_ms, len(self.fired), len(self.escalated), len(self.rearmed))
        if self._new is not None and self._new[0] == made_of:
            return self._new[1]
        new = self._new_state_lists(now_ms)
        self._new = (made_of, new)
        return new

    def _new_state_lists(self, now_ms: int) -> NewStates:
        return (
            [(True, lv, o[2] + 1 if o is not None else 1, now_ms, now_ms)
             for lv, o in zip(self.fired_levels, self.fired_old, strict=True)],
            [(True, lv, o[2], o[3], now_ms)
             for lv, o in zip(self.escalated_levels, self.escalated_old, strict=True)],
            [(False, 0, o[2], None, o[4]) for o in self.rearmed_old],
        )  # fmt: skip


class Transitions(Sequence[Transition]):
    """Every move of one evaluation; reads as the list of `Transition`s sorted by sub id."""

    def __init__(self, snapshot: Snapshot, now_ms: int, book_changes: int | None = None) -> None:
        self.snapshot = snapshot
        self.now_ms = now_ms
        self.book_changes = book_changes  # the evaluating book's change count (RuleBook.apply)
        self.series: list[SeriesMoves] = []
        self.silent: set[int] = set()  # muted (or paused) ids among the fired and escalated
        self._list: list[Transition] | None = None

    def __len__(self) -> int:
        return sum(len(m) for m in self.series)

    def __bool__(self) -> bool:
        return bool(self.series)

    @overload
    def __getitem__(self, i: int) -> Transition: ...
    @overload
    def __getitem__(self, i: slice) -> list[Transition]: ...
    def __getitem__(self, i: int | slice) -> Transition | list[Transition]:
        return self.as_list()[i]

    def __iter__(self) -> Iterator[Transition]:
        return iter(self.as_list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Transitions):
            return self.as_list() == other.as_list()
        if isinstance(other, Sequence):
            return self.as_list() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Transitions({len(self)} in {len(self.series)} series)"

    # ---- compact views -------------------------------------------------------------------

    def state_rows(self) -> list[StateRow]:
        """Each new state as a store row (for one executemany), as `new_states` gives them.

        A comprehension per series and kind, not a generator per row: a crash tick's 213,583
        rows took over a second through `new_states`."""
        now, silent = self.now_ms, self.silent
        rows: list[StateRow] = []
        for m in self.series:
            if silent:  # rare (mutes, paused chats): the one general path
                rows += [
                    (sub.id, _FIRED if st[0] else _ARMED, st[1], st[2], st[3], st[4])
                    for sub, st in m.new_states(now, silent)
                ]
                continue
            rows += [
                (s.id, _FIRED, lv, o[2] + 1 if o is not None else 1, now, now)
                for s, lv, o in zip(m.fired, m.fired_levels, m.fired_old, strict=True)
            ]
            rows += [
                (s.id, _FIRED, lv, o[2], o[3], now)
                for s, lv, o in zip(m.escalated, m.escalated_levels, m.escalated_old, strict=True)
            ]
            rows += [
                (s.id, _ARMED, 0, o[2], None, o[4])
                for s, o in zip(m.rearmed, m.rearmed_old, strict=True)
            ]
        return rows

    def state_codes(self) -> tuple[list[StateValues], list[int], list[int]]:
        """The new states numbered: (each distinct store value (status, level, episode,
        fired_ms, last_alert_ms), each move's number in that list, each move's rule id), the
        moves series after series, each in `new_states`' order.

        A crash tick's 213,583 states share ~20 values: numbered here by one look-up per
        state, the store groups them with one sort (bot/store/tick_commit.py) instead of a
        look-up and a list append per rule; the ids come as the evaluation took them."""
        now, silent = self.now_ms, self.silent
        states: list[StateTuple] = []
        ids: list[int] = []
        for m in self.series:
            if silent:  # rare (mutes, paused chats): the one general path
                moved = list(m.new_states(now, silent))
                states += [st for _, st in moved]
                ids += [sub.id for sub, _ in moved]
            else:  # the states as apply makes them, a kind at a time
                for kind in m.new_state_lists(now):
                    states += kind
                ids += m.ids()
        numbers: dict[StateTuple, int] = {}  # equal tuples hash alike: one number per value
        number = numbers.setdefault
        codes = [number(st, len(numbers)) for st in states]
        values = [(_FIRED if st[0] else _ARMED, st[1], st[2], st[3], st[4]) for st in numbers]
        return values, codes, ids

    def state_groups(self) -> dict[StateValues, list[int]]:
        """The new states by value: each distinct (status, level, episode, fired_ms,
        last_alert_ms) with the ids of the subscriptions that take it, as `state_rows` gives
        them (in `state_codes`' order)."""
        values, codes, ids = self.state_codes()
        groups: list[list[int]] = [[] for _ in values]
        for code, sub_id in zip(codes, ids, strict=True):
            groups[code].append(sub_id)
        return dict(zip(values, groups, strict=True))

    def alerts_by_chat(self) -> dict[str, list[Alert]]:
        """The alerts to send, one list per chat, each sorted by sub id."""
        with paused_gc():
            return self._alerts_by_chat()

    def _alerts_by_chat(self) -> dict[str, list[Alert]]:
        s = self.snapshot
        silent = self.silent
        out: dict[str, list[Alert]] = {}
        for m in self.series:
            for kind, subs, levels, olds in (
                (AlertKind.FIRED, m.fired, m.fired_levels, m.fired_old),
                (AlertKind.ESCALATED, m.escalated, m.escalated_levels, m.escalated_old),
            ):
                for sub, level, old in zip(subs, levels, olds, strict=True):
                    if silent and sub.id in silent:
                        continue
                    if kind is AlertKind.FIRED:
                        episode = old[2] + 1 if old is not None else 1
                    else:
                        episode = old[2]  # type: ignore[index]
                    alert = Alert(
                        sub, kind, m.value, level, episode, s.as_of_ms, m.longs, m.shorts,
                        m.venues, s.sources, s.sampled, s.gaps,
                    )  # fmt: skip
                    chat = out.get(sub.chat_key)
                    if chat is None:
                        out[sub.chat_key] = [alert]
                    else:
                        chat.append(alert)
        for alerts in out.values():
            if len(alerts) > 1:
                alerts.sort(key=_alert_sub_id)
        return out

    def alert_count(self) -> int:
        n = sum(len(m.fired) + len(m.escalated) for m in self.series)
        return n - len(self.silent)

    # ---- the full objects, on demand -----------------------------------------------------

    def as_list(self) -> list[Transition]:
        if self._list is None:
            self._list = self._materialize()
        return self._list

    def _materialize(self) -> list[Transition]:
        by_sub: dict[int, Alert] = {
            a.sub.id: a for alerts in self.alerts_by_chat().values() for a in alerts
        }
        out = []
        for m in self.series:
            olds = [*m.fired_old, *m.escalated_old, *m.rearmed_old]
            for (sub, new), old in zip(m.new_states(self.now_ms, self.silent), olds, strict=True):
                out.append(
                    Transition(
                        sub.id, to_state(sub.id, old), to_state(sub.id, new), by_sub.get(sub.id)
                    )
                )
        out.sort(key=_transition_sub_id)
        return out


def _alert_sub_id(a: Alert) -> int:
    return a.sub.id


def _transition_sub_id(t: Transition) -> int:
    return t.sub_id
