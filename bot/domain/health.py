"""Source health: the one record of each data source's state, counters and gaps in time.

A window of data is complete only if no enabled source had a gap overlapping it; only complete
windows may re-arm alerts ("no data is not zero"). Sources report transitions (up, down, data,
skipped frames) and this record keeps everything /status, /liqs and the rules read about them.
Pure: the caller passes every time in; a state change returns whether it was a transition, so
the shell logs it once.

Invariants, per source: gaps are sorted by start and disjoint (a gap that touches or overlaps
another is merged with it), at most one is open (end None) and it is the last.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.domain.i18n import N_, Text
from bot.domain.market import utc_hhmm
from bot.domain.models import SourceStatus
from bot.domain.source_fault import NOT_CONNECTED, DownReason

MAX_GAPS_PER_SOURCE = 500  # a flapping source must not grow memory without bound

Gap = tuple[int, int | None]  # (start, end); end None = still open


@dataclass(frozen=True, slots=True)
class PastGap:
    """An outage known from elsewhere: the store, or the downtime before a restart."""

    source: str
    start_ms: int
    end_ms: int


@dataclass(slots=True)
class _Record:
    """One source. The invariants hold by construction: `closed` is sorted and disjoint (each
    end before the next start), and the one open gap, if any, starts after the last of them."""

    state: str  # "connecting" (never up since start), "up", "down"
    since_ms: int
    reason: DownReason | None = NOT_CONNECTED  # None while up
    last_data_ms: int | None = None
    events: int = 0
    skipped: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # absurd events, per reason
    closed: list[tuple[int, int]] = field(default_factory=list)
    open_since: int | None = None

    def gaps(self) -> list[Gap]:
        tail: list[Gap] = [] if self.open_since is None else [(self.open_since, None)]
        return [*self.closed, *tail]


class SourceHealth:
    """Per-source state and up/down intervals from `up(now)` / `down(now, reason)` calls.

    A source that has never come up is down since `start_ms` (the time the process started
    listening): its data is missing, not zero.
    """

    def __init__(
        self, sources: Iterable[str], start_ms: int, *, max_gaps: int = MAX_GAPS_PER_SOURCE
    ) -> None:
        self._start_ms = start_ms
        self._max_gaps = max_gaps
        self._rec: dict[str, _Record] = {}
        self._ended: list[PastGap] = []
        for s in sources:
            self.enable(s, start_ms)

    @classmethod
    def restored(
        cls,
        sources: Iterable[str],
        now_ms: int,
        past: Iterable[PastGap],
        last_seen_ms: int | None,
        **kw: int,
    ) -> SourceHealth:
        """The record after a restart: persisted outages, plus the time the process was down
        (from the newest stored minute to now), plus each source's open start-up gap."""
        names = tuple(sources)
        health = cls(names, now_ms, **kw)
        if last_seen_ms is not None:  # the downtime is a gap: its data is missing, not zero
            for name in names:
                health.add_gap(name, min(last_seen_ms, now_ms), now_ms)
        for g in past:
            health.add_gap(g.source, g.start_ms, g.end_ms)
        return health

    # ---- state changes (each returns True on a transition) ---------------------------------

    def enable(self, source: str, now_ms: int) -> None:
        if source not in self._rec:
            self._rec[source] = _Record("connecting", now_ms, open_since=now_ms)

    def disable(self, source: str) -> None:
        """A disabled source no longer counts for completeness."""
        self._rec.pop(source, None)

    def up(self, source: str, now_ms: int) -> bool:
        """The source delivers. True on a transition; an outage it ends is kept for `take_ended`."""
        rec = self._rec.get(source)
        if rec is None:  # first word from an unknown source: it is enabled from now, and up
            self._rec[source] = _Record("up", now_ms, reason=None)
            return True
        if rec.state == "up":
            return False
        rec.state, rec.since_ms, rec.reason = "up", now_ms, None
        if rec.open_since is not None:
            start, end = rec.open_since, max(now_ms, rec.open_since)
            rec.closed.append((start, end))  # it starts after every closed one: still sorted
            rec.open_since = None
            self._ended.append(PastGap(source, start, end))
        return True

    def down(self, source: str, now_ms: int, reason: DownReason) -> bool:
        """The source stopped delivering. True on a transition (it was up or connecting)."""
        rec = self._rec.get(source)
        if rec is None:
            rec = self._rec[source] = _Record("up", now_ms, reason=None)
        if rec.state == "down":
            rec.reason = reason  # the newest classification; the outage keeps its start
            return False
        rec.state, rec.since_ms, rec.reason = "down", now_ms, reason
        self._open(rec, now_ms)
        return True

    def take_ended(self) -> list[PastGap]:
        """Outages ended since the last call, to persist (so a restart keeps them)."""
        out, self._ended = self._ended, []
        return out

    def data(self, source: str, now_ms: int, count: int) -> None:
        """`count` events (or one successful poll) arrived."""
        rec = self._rec.get(source)
        if rec is None:
            return  # not an enabled source: nothing to report on
        rec.events += count
        rec.last_data_ms = now_ms

    def skipped(self, source: str, count: int) -> None:
        """Malformed or unknown frames the source could not use."""
        rec = self._rec.get(source)
        if rec is not None:
            rec.skipped += count

    def rejected(self, source: str, reason: str, count: int) -> bool:
        """Events with an absurd amount (bot.domain.event_checks); True the first time this
        source shows this reason (the caller logs that transition once)."""
        rec = self._rec.get(source)
        if rec is None:
            return False
        first = reason not in rec.rejected
        rec.rejected[reason] = rec.rejected.get(reason, 0) + count
        return first

    def rejected_counts(self) -> list[tuple[str, str, int]]:
        """(source, reason, events rejected) for every source that rejected any."""
        return [(n, why, k) for n, r in self._rec.items() for why, k in r.rejected.items()]

    def add_gap(self, source: str, start_ms: int, end_ms: int) -> None:
        """A past outage known from elsewhere, merged with every gap it touches."""
        rec = self._rec.get(source)
        if rec is None:
            rec = self._rec[source] = _Record("up", self._start_ms, reason=None)
        start, end = start_ms, max(end_ms, start_ms)
        keep = []
        for gs, ge in rec.closed:
            if gs <= end and ge >= start:  # touches or overlaps: one gap
                start, end = min(start, gs), max(end, ge)
            else:
                keep.append((gs, ge))
        if rec.open_since is not None and end >= rec.open_since:
            rec.open_since = min(rec.open_since, start)  # the open gap began earlier
        else:
            bisect.insort(keep, (start, end))
        rec.closed = keep
        self._cap(rec)

    def prune(self, before_ms: int) -> None:
        """Forget outages that ended before `before_ms` (an open one is always kept)."""
        for rec in self._rec.values():
            rec.closed = [g for g in rec.closed if g[1] >= before_ms]

    def _open(self, rec: _Record, now_ms: int) -> None:
        if rec.open_since is not None:
            return
        if rec.closed and rec.closed[-1][1] >= now_ms:
            rec.open_since = rec.closed.pop()[0]  # down again before the last gap ended
            return
        rec.open_since = now_ms
        self._cap(rec)

    def _cap(self, rec: _Record) -> None:
        excess = len(rec.closed) + (rec.open_since is not None) - self._max_gaps
        if excess > 0:
            del rec.closed[:excess]

    # ---- questions -----------------------------------------------------------------------

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted(self._rec))

    def is_up(self, source: str) -> bool:
        rec = self._rec.get(source)
        return rec is not None and rec.state == "up"

    def any_up(self) -> bool:
        return any(r.state == "up" for r in self._rec.values())

    def state(self, source: str) -> str:
        rec = self._rec.get(source)
        return rec.state if rec is not None else "disabled"

    def reason(self, source: str) -> DownReason | None:
        """Why the source is not up (None while it is, or when it is not enabled)."""
        rec = self._rec.get(source)
        return rec.reason if rec is not None else None

    def gaps(self, since_ms: int, source: str | None = None) -> list[Gap]:
        """Gaps ending at or after `since_ms` (None = still open), oldest first.

        With `source`, that source's gaps; without, the merged union over every enabled source.
        """
        if source is None:
            recs = list(self._rec.values())
        else:
            recs = [self._rec[source]] if source in self._rec else []
        spans = [g for r in recs for g in r.gaps() if g[1] is None or g[1] >= since_ms]
        if source is not None:
            return spans  # one source's gaps are sorted and disjoint already
        spans.sort(key=_by_start)
        merged: list[Gap] = []
        for start, end in spans:
            if merged:
                ps, pe = merged[-1]
                if pe is None or start <= pe:
                    merged[-1] = (ps, None if pe is None or end is None else max(pe, end))
                    continue
            merged.append((start, end))
        return merged

    def complete_windows(self, now_ms: int, windows: Iterable[int]) -> frozenset[int]:
        """Windows (minutes) ending at now with no gap of any enabled source inside them.

        A window spans whole minute buckets: the current minute and the w - 1 before it.
        """
        windows = tuple(windows)
        first_minute = now_ms // 60_000 * 60_000
        gaps = self.gaps(first_minute - max(windows, default=0) * 60_000)
        out = []
        for w in windows:
            since = first_minute - (w - 1) * 60_000
            if not any(end is None or (end > since and start < now_ms) for start, end in gaps):
                out.append(w)
        return frozenset(out)

    def gap_notes(self, source: str, since_ms: int, *, ended_only: bool = False) -> tuple[str, ...]:
        """One source's outages since `since_ms` in words, oldest first ("down 14:02–14:05 UTC");
        `ended_only` leaves out the current one (said elsewhere, from the state and its Fault)."""
        return tuple(
            self._words(source, s, e)
            for s, e in self.gaps(since_ms, source)
            if not (ended_only and e is None)
        )

    def notes(self, since_ms: int, *, ended_only: bool = False) -> tuple[str, ...]:
        """Human notes like "bybit down 14:02–14:05 UTC", oldest first."""
        out = [
            (
                start,
                Text(N_("%(source)s %(words)s"), source=name, words=self._words(name, start, end)),
            )
            for name in sorted(self._rec)
            for start, end in self.gaps(since_ms, name)
            if not (ended_only and end is None)
        ]
        return tuple(text for _, text in sorted(out))

    def _words(self, name: str, start: int, end: int | None) -> Text:
        """In words as a Text (English as a str; `lang.text` gives it in a chat's language)."""
        if start == self._start_ms:  # the time before the first connection
            if end is None:
                return Text(NOT_CONNECTED.fault.words)
            return Text(N_("no data before %(time)s UTC"), time=utc_hhmm(end))
        if end is None:
            why = self.reason(name)
            since = utc_hhmm(start)
            if why:
                return Text(
                    N_("down since %(time)s UTC (%(why)s)"), time=since, why=Text(why.fault.words)
                )
            return Text(N_("down since %(time)s UTC"), time=since)
        return Text(N_("down %(start)s–%(end)s UTC"), start=utc_hhmm(start), end=utc_hhmm(end))

    def status(self, since_ms: int) -> list[SourceStatus]:
        """Every enabled source as /status shows it, with its outages since `since_ms`."""
        out = []
        for name in sorted(self._rec):
            r = self._rec[name]
            out.append(
                SourceStatus(
                    name=name,
                    state=r.state,
                    since_ms=r.since_ms,
                    last_data_ms=r.last_data_ms,
                    events=r.events,
                    skipped=r.skipped,
                    fault=None if r.reason is None else r.reason.fault,
                    note="" if r.reason is None else r.reason.detail,
                    gaps=self.gap_notes(name, since_ms, ended_only=True),
                    rejected=sum(r.rejected.values()),
                    rejected_by=tuple(sorted(r.rejected.items())),
                )
            )
        return out


def _by_start(g: Gap) -> tuple[int, bool, int]:
    # an open gap sorts after a closed one with the same start (None never meets an int)
    return (g[0], g[1] is None, g[1] or 0)
