"""Minute buckets of liquidations (coin x venue x side), rolling window sums and Snapshots.

Layout, chosen for the ingest hot path and for memory:
- one `MinuteSeries` per (coin, venue); its recent minutes live in 15-minute chunks, each one flat
  `array('d')` of [long, short] pairs (16 bytes a minute, no per-minute objects);
- minutes older than any window move to one sorted cold store per series holding only the
  non-empty minutes (20 bytes each), where late events and loads still land;
- running sums per series and window cover the *completed* minutes up to an anchor minute, so a
  snapshot adds the current minute's bucket and nothing else; the anchor moves once a minute
  (add what enters, subtract what leaves) and late events (OKX sends them) are applied from a
  small log. A rotating exact recount keeps float drift from piling up.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.aggregate_load import BucketLoading, BucketRow, MinuteColumns
from bot.domain.health import SourceHealth
from bot.domain.market import WINDOWS
from bot.domain.minute_series import _FAR, CHUNK, MINUTE_MS, MinuteSeries
from bot.domain.models import ALL, Liquidation, Side, Snapshot, VenueSplit, WindowTotals

__all__ = ["Aggregator", "BucketRow", "MinuteColumns", "SourceHealth"]

_DUST = 1e-6  # float residue of running sums below this is zero (a millionth of a dollar)
_RECOUNT_PERIOD = 60  # every series is recounted exactly once per this many minutes
_STEP_LIMIT = 30  # minutes; a longer jump of the clock is cheaper to recount than to step
_LONG = Side.LONG
_SHORT = Side.SHORT
_SIDES = {"long": _LONG, "short": _SHORT}


class Aggregator(BucketLoading):
    """Folds liquidations into minute buckets and answers rolling window sums."""

    def __init__(
        self,
        venues: Iterable[str] = ("binance", "bybit", "okx"),
        retention_minutes: int = 7 * 1440,
        windows: Iterable[int] = WINDOWS,
        future_tolerance_ms: int = 5 * MINUTE_MS,
    ) -> None:
        self.windows: tuple[int, ...] = tuple(sorted(windows))
        if retention_minutes <= self.windows[-1] + 2 * CHUNK:
            raise ValueError("retention must exceed the longest window by more than two chunks")
        self.venue_names: tuple[str, ...] = tuple(venues)
        self.retention_minutes = retention_minutes
        self.future_tolerance_ms = future_tolerance_ms
        self._widx = {w: k for k, w in enumerate(self.windows)}
        self._series: dict[tuple[str, str], MinuteSeries] = {}
        self._next_idx = 0
        self._anchor: int | None = None  # running sums cover completed minutes up to here
        self._late: list[tuple[MinuteSeries, int, float, float]] = []  # events at or before anchor
        self._now_ms: int | None = None  # the latest clock reading seen (for add's bounds)
        self._touched: set[tuple[str, Side]] = set()  # (coin, side) with events since the take
        self.added = 0
        self.ignored_old = 0
        self.ignored_future = 0
        self.ignored_bad = 0

    # ---- ingest (hot path) ---------------------------------------------------------------

    def add(self, events: Iterable[Liquidation], now_ms: int | None = None) -> int:
        """Fold events into their minute buckets; returns how many were taken.

        Events older than the retention or more than `future_tolerance_ms` ahead of the clock
        (now_ms, else the latest `now_ms` any call gave) are ignored and counted.
        """
        if now_ms is not None:
            self._now_ms = now_ms
        ref = self._now_ms
        if ref is None:
            lo, hi = -_FAR, _FAR
        else:
            lo = ref // MINUTE_MS - self.retention_minutes + 1
            hi = (ref + self.future_tolerance_ms) // MINUTE_MS
        anchor = self._anchor if self._anchor is not None else -_FAR
        series = self._series
        late = self._late
        touched = self._touched
        taken = 0
        for ev in events:
            m = ev.ts_ms // MINUTE_MS
            if m < lo or m > hi:
                if m < lo:
                    self.ignored_old += 1
                else:
                    self.ignored_future += 1
                continue
            usd = ev.usd
            if not 0.0 < usd < 1e12:  # also rejects NaN
                self.ignored_bad += 1
                continue
            side = ev.side
            if side is not _LONG and side is not _SHORT:
                found = _SIDES.get(side)  # a plain "long"/"short" string; TOTAL is no event side
                if found is None:
                    self.ignored_bad += 1
                    continue
                side = found
            s = series.get((ev.coin, ev.venue))
            if s is None:
                s = self._new_series(ev.coin, ev.venue)
            ci = m // CHUNK
            c = s.chunks.get(ci)
            if c is None:
                c = s.dense(ci)
            i = 2 * (m - ci * CHUNK)
            if side is _LONG:
                c[i] += usd
                if m <= anchor:
                    late.append((s, m, usd, 0.0))
            else:
                c[i + 1] += usd
                if m <= anchor:
                    late.append((s, m, 0.0, usd))
            s.dirty.add(m)
            touched.add((ev.coin, side))
            taken += 1
        self.added += taken
        return taken

    def _new_series(self, coin: str, venue: str) -> MinuteSeries:
        s = MinuteSeries(coin, venue, self._next_idx, len(self.windows))
        self._next_idx += 1
        self._series[(coin, venue)] = s
        if venue not in self.venue_names:
            self.venue_names = (*self.venue_names, venue)
        if self._anchor is not None:
            self._recount(s, self._anchor)
        return s

    def forget(self, coin: str) -> int:
        """Drop every series of `coin` (an unknown coin gone quiet: bot.domain.unknown_coins);
        returns how many were dropped. Its stored buckets age out of the store as usual."""
        gone = [key for key in self._series if key[0] == coin]
        dropped = {id(self._series.pop(key)) for key in gone}
        if dropped:
            self._late = [e for e in self._late if id(e[0]) not in dropped]
        return len(gone)

    def take_touched(self) -> set[tuple[str, Side]]:
        """The (coin, side) pairs that received events since the last call (and forget them)."""
        touched, self._touched = self._touched, set()
        return touched

    # ---- running sums --------------------------------------------------------------------

    def _recount(self, s: MinuteSeries, anchor: int) -> None:
        # in place: range_sum(anchor - w + 2, anchor) for each window w, bit for bit
        s.sums[:] = s.range_sums([anchor - w + 2 for w in self.windows], anchor)

    def _advance(self, cur: int) -> None:
        """Move the running sums so that they cover the completed minutes before `cur`."""
        target = cur - 1
        anchor = self._anchor
        if anchor is None or target < anchor or target - anchor > _STEP_LIMIT:
            for s in self._series.values():
                self._recount(s, target)
            self._late.clear()
            self._anchor = target
            self._compact(target)
            return
        windows = self.windows
        if self._late:  # late events landed in minutes the sums already cover
            for s, m, dl, ds in self._late:
                sums = s.sums
                for k, w in enumerate(windows):
                    if m >= anchor - w + 2:
                        sums[2 * k] += dl
                        sums[2 * k + 1] += ds
            self._late.clear()
        if target == anchor:
            return
        for s in self._series.values():
            sums = s.sums
            get = s.get
            for m in range(anchor + 1, target + 1):
                bl, bs = get(m)
                for k, w in enumerate(windows):
                    ol, os_ = get(m - w + 1)
                    sums[2 * k] += bl - ol
                    sums[2 * k + 1] += bs - os_
            if s.idx % _RECOUNT_PERIOD == target % _RECOUNT_PERIOD:
                self._recount(s, target)  # exact again: drift never outlives an hour
        self._anchor = target
        if anchor // CHUNK != target // CHUNK:
            self._compact(target)

    def _compact(self, anchor: int) -> None:
        """Freeze chunks that no window can read any more."""
        oldest_ci = (anchor - self.windows[-1] - CHUNK) // CHUNK
        for s in self._series.values():
            old = [ci for ci in s.chunks if ci < oldest_ci]
            for ci in old:
                s.freeze(ci)
            if old:
                s.chunks = dict(s.chunks)  # a dict never shrinks by itself

    # ---- questions -----------------------------------------------------------------------

    def _of(self, coin: str) -> list[MinuteSeries]:
        if coin == ALL:
            return list(self._series.values())
        return [s for v in self.venue_names if (s := self._series.get((coin, v))) is not None]

    def window(self, coin: str, window_min: int, now_ms: int) -> WindowTotals:
        """Sums over the `window_min` minutes ending at now (the current minute included)."""
        cur = now_ms // MINUTE_MS
        longs = shorts = 0.0
        for s in self._of(coin):
            sl, ss = s.range_sum(cur - window_min + 1, cur)
            longs += sl
            shorts += ss
        return WindowTotals(longs, shorts)

    def venues(self, coin: str, window_min: int, now_ms: int) -> tuple[VenueSplit, ...]:
        """Per-venue sums over the window, biggest first."""
        cur = now_ms // MINUTE_MS
        per: dict[str, list[float]] = {}
        for s in self._of(coin):
            sl, ss = s.range_sum(cur - window_min + 1, cur)
            acc = per.setdefault(s.venue, [0.0, 0.0])
            acc[0] += sl
            acc[1] += ss
        return _splits(per)

    def coins(self) -> frozenset[str]:
        return frozenset(s.coin for s in self._series.values())

    def snapshot(
        self, now_ms: int, windows: Iterable[int] = WINDOWS, health: SourceHealth | None = None
    ) -> Snapshot:
        """Totals and venue splits for every coin with liquidations in each window, plus ALL."""
        self._now_ms = now_ms
        cur = now_ms // MINUTE_MS
        self._advance(cur)
        wanted = tuple(windows)
        plan = [(w, self._widx.get(w)) for w in wanted]
        # per series: its sums in each wanted window (running sums + the current minute)
        by_coin: dict[str, list[tuple[str, list[float], list[float]]]] = {}
        for s in self._series.values():
            bl, bs = s.get(cur)
            sums = s.sums
            ls: list[float] = []
            ss: list[float] = []
            for w, k in plan:
                if k is None:  # a window without running sums: count it directly
                    longs, shorts = s.range_sum(cur - w + 1, cur)
                else:
                    longs, shorts = sums[2 * k] + bl, sums[2 * k + 1] + bs
                ls.append(longs if longs >= _DUST else 0.0)
                ss.append(shorts if shorts >= _DUST else 0.0)
            by_coin.setdefault(s.coin, []).append((s.venue, ls, ss))
        totals: dict[tuple[str, int], WindowTotals] = {}
        splits: dict[tuple[str, int], tuple[VenueSplit, ...]] = {}
        market: dict[str, tuple[list[float], list[float]]] = {}  # venue -> ALL sums per window
        for coin, rows in by_coin.items():
            for j, w in enumerate(wanted):
                longs = shorts = 0.0
                split = []
                for venue, ls, ss in rows:
                    if ls[j] or ss[j]:
                        longs += ls[j]
                        shorts += ss[j]
                        split.append(VenueSplit(venue, ls[j], ss[j]))
                if split:
                    totals[(coin, w)] = WindowTotals(longs, shorts)
                    if len(split) > 1:
                        split.sort(key=_biggest_first)
                    splits[(coin, w)] = tuple(split)
            for venue, ls, ss in rows:
                acc = market.get(venue)
                if acc is None:
                    acc = market[venue] = ([0.0] * len(wanted), [0.0] * len(wanted))
                for j in range(len(wanted)):
                    acc[0][j] += ls[j]
                    acc[1][j] += ss[j]
        for j, w in enumerate(wanted):
            per = {venue: [acc[0][j], acc[1][j]] for venue, acc in market.items()}
            totals[(ALL, w)] = WindowTotals(
                sum(a[0][j] for a in market.values()), sum(a[1][j] for a in market.values())
            )
            splits[(ALL, w)] = _splits(per)
        if health is None:
            served = frozenset(wanted)
            complete = served
            sources: tuple[str, ...] = self.venue_names
            gaps: tuple[str, ...] = ()
            past_gaps: tuple[str, ...] = ()
        else:
            served = frozenset(wanted) if health.any_up() else frozenset()
            complete = health.complete_windows(now_ms, wanted) & served
            sources = health.sources
            since = now_ms - max(wanted, default=0) * MINUTE_MS
            gaps = health.notes(since)
            past_gaps = health.notes(since, ended_only=True)
        return Snapshot(
            as_of_ms=now_ms,
            totals=totals,
            venues=splits,
            served_windows=served,
            complete_windows=complete,
            sources=sources,
            sampled=True,
            gaps=gaps,
            past_gaps=past_gaps,
        )


def _biggest_first(v: VenueSplit) -> tuple[float, str]:
    return -(v.longs + v.shorts), v.venue


def _splits(per: dict[str, list[float]]) -> tuple[VenueSplit, ...]:
    out = [VenueSplit(v, a[0], a[1]) for v, a in per.items() if a[0] > 0 or a[1] > 0]
    out.sort(key=_biggest_first)
    return tuple(out)
