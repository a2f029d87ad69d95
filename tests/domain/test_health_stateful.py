"""SourceHealth against a tiny reference model, over random lives of two sources.

The model keeps each source's outages as a plain list of intervals and recomputes their union
from scratch after every step; the record keeps them merged as it goes. Rules: up, down, data,
restored gaps (some overlapping the open start-up gap or sharing its start), restarts (a new
record built from what was persisted, as app.build does) and pruning. After every step the
invariants hold and complete_windows, notes, status and the persisted outages agree.

CI runs a few hundred sequences; `--hypothesis-profile nightly` (or
LIQBOT_HYPOTHESIS_PROFILE=nightly) runs 10,000 (profiles in tests/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from bot.domain.health import PastGap, SourceHealth
from bot.domain.market import utc_hhmm
from bot.domain.source_fault import NOT_CONNECTED, DownReason, Fault

SOURCES = ("binance", "okx")
WINDOWS = (1, 5, 15, 60, 240)
STEP = 10_000  # times on a 10 s grid, so that starts and ends often coincide
CAP = 3  # a small cap on gaps per source, so that the cap is exercised too
T0 = 1_800_000_000_000

Interval = tuple[int, int | None]


def union(intervals: list[Interval]) -> list[Interval]:
    """Merge touching or overlapping intervals; None (open) absorbs whatever it meets."""
    out: list[list[int | None]] = []
    for s, e in sorted(intervals, key=lambda g: (g[0], g[1] is None, g[1] or 0)):
        if out and (out[-1][1] is None or s <= out[-1][1]):  # type: ignore[operator]
            prev = out[-1][1]
            out[-1][1] = None if prev is None or e is None else max(prev, e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]  # type: ignore[misc]


@dataclass
class ModelSource:
    state: str = "connecting"
    reason: DownReason | None = NOT_CONNECTED  # None while up
    intervals: list[Interval] = field(default_factory=list)
    events: int = 0
    last_data: int | None = None

    def gaps(self) -> list[Interval]:
        return union(self.intervals)

    def settle(self) -> None:  # what the record does after each change: merge, then cap
        merged = self.gaps()
        self.intervals = merged[-CAP:]


class HealthMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.store: list[PastGap] = []  # what persist() wrote
        self.last_minute: int | None = None  # the newest stored minute bucket
        self.expect_ended: list[tuple[str, int, int]] = []  # outages up() should hand over

    @initialize()
    def start(self) -> None:
        self._boot([], last_seen=None)

    def _boot(self, past: list[PastGap], last_seen: int | None) -> None:
        self.start_ms = self.now
        self.real = SourceHealth.restored(
            SOURCES, self.now, past, last_seen_ms=last_seen, max_gaps=CAP
        )
        self.model = {name: ModelSource(intervals=[(self.now, None)]) for name in SOURCES}
        for name, m in self.model.items():
            if last_seen is not None:
                m.intervals.append((min(last_seen, self.now), self.now))
                m.settle()
            for g in past:
                if g.source == name:
                    m.intervals.append((g.start_ms, g.end_ms))
                    m.settle()

    # ---- rules ----------------------------------------------------------------------------

    @rule(steps=st.integers(0, 40))
    def advance(self, steps: int) -> None:
        self.now += steps * STEP

    @rule(name=st.sampled_from(SOURCES))
    def up(self, name: str) -> None:
        m = self.model[name]
        changed = self.real.up(name, self.now)
        assert changed == (m.state != "up")
        if m.state != "up":
            gaps = m.gaps()
            if gaps and gaps[-1][1] is None:
                start = gaps[-1][0]
                m.intervals = [*gaps[:-1], (start, max(self.now, start))]
                self.expect_ended.append((name, start, max(self.now, start)))
            m.state, m.reason = "up", None
        self._persist()

    @rule(name=st.sampled_from(SOURCES), fault=st.sampled_from(Fault), detail=st.sampled_from(
        ["", "connection closed (1006)", "CoinGlass rejected the API key"]
    ))  # fmt: skip
    def down(self, name: str, fault: Fault, detail: str) -> None:
        m = self.model[name]
        reason = DownReason(fault, detail)
        changed = self.real.down(name, self.now, reason)
        assert changed == (m.state != "down")
        if m.state == "down":
            m.reason = reason  # the newest classification; the outage keeps its start
        else:
            m.state, m.reason = "down", reason
            if not any(e is None for _, e in m.gaps()):
                m.intervals.append((self.now, None))
            m.settle()

    @rule(name=st.sampled_from(SOURCES), count=st.integers(1, 5))
    def data(self, name: str, count: int) -> None:
        self.real.data(name, self.now, count)
        m = self.model[name]
        m.events += count
        m.last_data = self.now
        self.last_minute = self.now // 60_000 * 60_000

    @rule(
        name=st.sampled_from(SOURCES),
        back=st.integers(0, 60),
        length=st.integers(0, 30),
        at_start=st.booleans(),
    )
    def restored_gap(self, name: str, back: int, length: int, at_start: bool) -> None:
        """An outage known from elsewhere; `at_start` makes it share the record's start."""
        start = self.start_ms if at_start else self.now - back * STEP
        end = min(self.now, start + length * STEP)
        self.real.add_gap(name, start, end)
        self.model[name].intervals.append((start, end))
        self.model[name].settle()

    @rule(back=st.integers(0, 200))
    def prune(self, back: int) -> None:
        cutoff = self.now - back * STEP
        self.real.prune(cutoff)
        for m in self.model.values():
            m.intervals = [g for g in m.gaps() if g[1] is None or g[1] >= cutoff]

    @rule(downtime=st.integers(0, 30))
    def restart(self, downtime: int) -> None:
        """Stop (persisting ended outages) and build a new record as app.build does."""
        self._persist()
        self.now += downtime * STEP
        last_seen = self.last_minute + 60_000 if self.last_minute is not None else None
        kept = [g for g in self.store if g.end_ms >= self.now - 24 * 3600_000]
        self._boot(kept, last_seen)

    @rule()
    def persist(self) -> None:
        self._persist()

    def _persist(self) -> None:
        ended = self.real.take_ended()
        assert [(g.source, g.start_ms, g.end_ms) for g in ended] == self.expect_ended
        self.expect_ended = []
        self.store.extend(ended)

    # ---- invariants -----------------------------------------------------------------------

    @invariant()
    def gaps_are_sorted_disjoint_and_only_the_last_is_open(self) -> None:
        for name in SOURCES:
            gaps = self.real.gaps(0, name)
            assert all(a[1] is not None and a[1] < b[0] for a, b in pairwise(gaps)), gaps
            assert all(e is None or s <= e for s, e in gaps), gaps
            assert (self.real.state(name) == "up") == (not gaps or gaps[-1][1] is not None)

    @invariant()
    def gaps_agree_with_the_model(self) -> None:
        for name in SOURCES:
            assert self.real.gaps(0, name) == self.model[name].gaps(), name
        every = [g for m in self.model.values() for g in m.gaps()]
        assert self.real.gaps(0) == union(every)

    @invariant()
    def complete_windows_agree(self) -> None:
        first_minute = self.now // 60_000 * 60_000
        every = [g for m in self.model.values() for g in m.gaps()]
        expected = set()
        for w in WINDOWS:
            since = first_minute - (w - 1) * 60_000
            hit = any(e is None or (e > since and s < self.now) for s, e in every)
            if not hit:
                expected.add(w)
        assert self.real.complete_windows(self.now, WINDOWS) == expected

    def _words(self, name: str, since: int) -> list[tuple[int, str]]:
        m = self.model[name]
        out = []
        for s, e in m.gaps():
            if e is not None and e < since:
                continue
            if s == self.start_ms:
                words = "not connected yet" if e is None else f"no data before {utc_hhmm(e)} UTC"
            elif e is None:
                why = f" ({m.reason.fault.words})" if m.reason else ""
                words = f"down since {utc_hhmm(s)} UTC{why}"
            else:
                words = f"down {utc_hhmm(s)}–{utc_hhmm(e)} UTC"
            out.append((s, words))
        return out

    def _spans(self, name: str, since: int) -> list[Interval]:
        return [(s, e) for s, e in self.model[name].gaps() if e is None or e >= since]

    @invariant()
    def notes_and_status_agree(self) -> None:
        since = self.now - 3600_000
        notes = sorted((s, f"{name} {w}") for name in SOURCES for s, w in self._words(name, since))
        assert self.real.notes(since) == tuple(t for _, t in notes)
        ended = sorted(
            (s, f"{name} {w}")
            for name in SOURCES
            for (s, w), (_, e) in zip(
                self._words(name, since), self._spans(name, since), strict=True
            )
            if e is not None
        )
        assert self.real.notes(since, ended_only=True) == tuple(t for _, t in ended)
        for got in self.real.status(since):
            m = self.model[got.name]
            assert (got.state, got.events, got.last_data_ms) == (m.state, m.events, m.last_data)
            # what every answer renders from: the Fault set where the failure was classified
            assert got.fault == (None if m.reason is None else m.reason.fault)
            assert got.note == ("" if m.reason is None else m.reason.detail)
            assert (m.state == "up") == (m.reason is None)
            ended = [(s, w) for (s, w), (_, e) in zip(self._words(got.name, since), self._spans(
                got.name, since), strict=True) if e is not None]  # fmt: skip
            assert got.gaps == tuple(w for _, w in ended)  # the current one is said apart
            assert self.real.reason(got.name) == m.reason


# A few hundred sequences in CI; the nightly profile's max_examples wins when it is larger.
HealthMachine.TestCase.settings = settings(
    max_examples=max(300, settings.default.max_examples),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_source_health_against_the_model = HealthMachine.TestCase
