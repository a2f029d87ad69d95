"""Minute buckets of liquidations (coin x venue x side), rolling window sums and Snapshots.

Layout, chosen for the ingest hot path and for memory:
- one `_Series` per (coin, venue); its recent minutes live in 15-minute chunks, each one flat
  `array('d')` of [long, short] pairs (16 bytes a minute, no per-minute objects);
- minutes older than any window move to one sorted cold store per series holding only the
  non-empty minutes (20 bytes each), where late events and loads still land;
- running sums per series and window cover the *completed* minutes up to an anchor minute, so a
  snapshot adds the current minute's bucket and nothing else; the anchor moves once a minute
  (add what enters, subtract what leaves) and late events (OKX sends them) are applied from a
  small log. A rotating exact recount keeps float drift from piling up.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.health import SourceHealth
from bot.domain.market import WINDOWS
from bot.domain.models import ALL, Liquidation, Side, Snapshot, VenueSplit, WindowTotals

__all__ = ["Aggregator", "BucketRow", "MinuteColumns", "SourceHealth"]

MINUTE_MS = 60_000
CHUNK = 15  # minutes per dense chunk: small, so a rarely traded coin allocates little
_ZERO_CHUNK = array("d", bytes(16 * CHUNK))
_DUST = 1e-6  # float residue of running sums below this is zero (a millionth of a dollar)
_RECOUNT_PERIOD = 60  # every series is recounted exactly once per this many minutes
_FAR = 1 << 62
_STEP_LIMIT = 30  # minutes; a longer jump of the clock is cheaper to recount than to step
_LONG = Side.LONG
_SHORT = Side.SHORT
_SIDES = {"long": _LONG, "short": _SHORT}


@dataclass(frozen=True, slots=True)
class BucketRow:
    """One persisted minute bucket: USD liquidated in [minute_ms, minute_ms + 60 s)."""

    minute_ms: int
    coin: str
    venue: str
    longs: float
    shorts: float


# One minute of stored buckets as the store hands them to `Aggregator.load_minutes`:
# (minute_ms, ((coin, venue), ...), array('d') of [longs, shorts] pairs in the same order).
MinuteColumns = tuple[int, tuple[tuple[str, str], ...], array]


class _Series:
    """The minute buckets of one (coin, venue).

    Recent minutes live in dense chunks; older ones (no window reads them) in one sorted cold
    store of the non-empty minutes only. A minute is in one of the two, never both.
    """

    __slots__ = ("chunks", "coin", "cold_min", "cold_val", "dirty", "idx", "sums", "venue")

    def __init__(self, coin: str, venue: str, idx: int, n_windows: int) -> None:
        self.coin = coin
        self.venue = venue
        self.idx = idx
        self.chunks: dict[int, array] = {}  # chunk no -> [l0, s0, l1, s1, ...]
        self.cold_min = array("i")  # sorted minute numbers of the non-empty cold buckets
        self.cold_val = array("d")  # their [l, s] pairs
        self.sums = [0.0] * (2 * n_windows)  # per window: longs, shorts of completed minutes
        self.dirty: set[int] = set()

    def get(self, m: int) -> tuple[float, float]:
        ci, off = divmod(m, CHUNK)
        c = self.chunks.get(ci)
        if c is not None:
            return c[2 * off], c[2 * off + 1]
        j = bisect_left(self.cold_min, m)
        if j < len(self.cold_min) and self.cold_min[j] == m:
            return self.cold_val[2 * j], self.cold_val[2 * j + 1]
        return 0.0, 0.0

    def dense(self, ci: int) -> array:
        """The dense chunk `ci`, created (and thawed from the cold store) if needed."""
        c = self.chunks.get(ci)
        if c is None:
            c = array("d", _ZERO_CHUNK)
            a, b = self._cold_span(ci * CHUNK, ci * CHUNK + CHUNK - 1)
            if a < b:  # a late event or a load into frozen minutes: rare
                for j in range(a, b):
                    off = self.cold_min[j] - ci * CHUNK
                    c[2 * off] = self.cold_val[2 * j]
                    c[2 * off + 1] = self.cold_val[2 * j + 1]
                del self.cold_min[a:b]
                del self.cold_val[2 * a : 2 * b]
            self.chunks[ci] = c
        return c

    def freeze(self, ci: int) -> None:
        c = self.chunks.pop(ci)
        offs = [off for off in range(CHUNK) if c[2 * off] or c[2 * off + 1]]
        if offs:
            mins = array("i", [ci * CHUNK + off for off in offs])
            vals = array("d")
            for off in offs:
                vals.append(c[2 * off])
                vals.append(c[2 * off + 1])
            j = bisect_left(self.cold_min, mins[0])  # usually the end: chunks freeze in order
            self.cold_min[j:j] = mins
            self.cold_val[2 * j : 2 * j] = vals

    def _cold_span(self, m0: int, m1: int) -> tuple[int, int]:
        return bisect_left(self.cold_min, m0), bisect_right(self.cold_min, m1)

    def range_sum(self, m0: int, m1: int) -> tuple[float, float]:
        """Longs, shorts over minutes m0..m1 inclusive."""
        if m1 < m0:
            return 0.0, 0.0
        a, b = self._cold_span(m0, m1)
        longs = sum(self.cold_val[2 * a : 2 * b : 2])
        shorts = sum(self.cold_val[2 * a + 1 : 2 * b : 2])
        for ci in range(m0 // CHUNK, m1 // CHUNK + 1):
            c = self.chunks.get(ci)
            if c is not None:
                a = max(m0 - ci * CHUNK, 0)
                b = min(m1 - ci * CHUNK, CHUNK - 1) + 1
                longs += sum(c[2 * a : 2 * b : 2])
                shorts += sum(c[2 * a + 1 : 2 * b : 2])
        return longs, shorts

    def range_sums(self, m0s: Iterable[int], m1: int) -> list[float]:
        """[longs, shorts, longs, shorts, ...]: range_sum(m0, m1) for each m0, the same floats
        (the same additions in the same order), with each whole chunk summed once for all."""
        out: list[float] = []
        whole: dict[int, tuple[float, float]] = {}  # chunk no -> its sums (range_sum's values)
        chunks = self.chunks
        for m0 in m0s:
            if m1 < m0:
                out += (0.0, 0.0)
                continue
            a, b = self._cold_span(m0, m1)
            longs = sum(self.cold_val[2 * a : 2 * b : 2])
            shorts = sum(self.cold_val[2 * a + 1 : 2 * b : 2])
            for ci in range(m0 // CHUNK, m1 // CHUNK + 1):
                c = chunks.get(ci)
                if c is not None:
                    a = max(m0 - ci * CHUNK, 0)
                    b = min(m1 - ci * CHUNK, CHUNK - 1) + 1
                    if a == 0 and b == CHUNK:
                        w = whole.get(ci)
                        if w is None:
                            w = whole[ci] = (sum(c[0 : 2 * CHUNK : 2]), sum(c[1 : 2 * CHUNK : 2]))
                        longs += w[0]
                        shorts += w[1]
                    else:
                        longs += sum(c[2 * a : 2 * b : 2])
                        shorts += sum(c[2 * a + 1 : 2 * b : 2])
            out += (longs, shorts)
        return out

    def drop_cold_before(self, m: int) -> int:
        j = bisect_left(self.cold_min, m)
        del self.cold_min[:j]
        del self.cold_val[: 2 * j]
        return j

    def empty(self) -> bool:
        return not self.chunks and not self.cold_min


class Aggregator:
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
        self._series: dict[tuple[str, str], _Series] = {}
        self._next_idx = 0
        self._anchor: int | None = None  # running sums cover completed minutes up to here
        self._late: list[tuple[_Series, int, float, float]] = []  # events at or before anchor
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

    def _new_series(self, coin: str, venue: str) -> _Series:
        s = _Series(coin, venue, self._next_idx, len(self.windows))
        self._next_idx += 1
        self._series[(coin, venue)] = s
        if venue not in self.venue_names:
            self.venue_names = (*self.venue_names, venue)
        if self._anchor is not None:
            self._recount(s, self._anchor)
        return s

    def take_touched(self) -> set[tuple[str, Side]]:
        """The (coin, side) pairs that received events since the last call (and forget them)."""
        touched, self._touched = self._touched, set()
        return touched

    # ---- persistence ---------------------------------------------------------------------

    def dirty_rows(self) -> list[BucketRow]:
        """The buckets changed since the last call, with their full values (for an upsert)."""
        rows = []
        for s in self._series.values():
            if s.dirty:
                for m in sorted(s.dirty):
                    longs, shorts = s.get(m)
                    rows.append(BucketRow(m * MINUTE_MS, s.coin, s.venue, longs, shorts))
                s.dirty.clear()
        return rows

    def load(self, rows: Iterable[BucketRow]) -> int:
        """Set buckets from the store (replacing what is there); not marked dirty."""
        lo = -_FAR if self._now_ms is None else self._now_ms // MINUTE_MS - self.retention_minutes
        n = 0
        for r in rows:
            m = r.minute_ms // MINUTE_MS
            if m <= lo:
                continue
            s = self._series.get((r.coin, r.venue)) or self._new_series(r.coin, r.venue)
            ci, off = divmod(m, CHUNK)
            c = s.dense(ci)
            c[2 * off] = r.longs
            c[2 * off + 1] = r.shorts
            n += 1
        self._anchor = None  # recount everything at the next snapshot
        self._late.clear()
        return n

    def load_minutes(self, minutes: Iterable[MinuteColumns]) -> int:
        """`load` for the store's minute columns (Database.bucket_minutes): the same buckets set
        the same way, and the same series created in the same order, without a row object or a
        chunk lookup per bucket.

        Each item is (minute_ms, keys, values): the (coin, venue) of each bucket of that minute,
        in the order the store sorts them, and an array('d') of their [longs, shorts] pairs in
        the same order. A run of consecutive
        minutes in one chunk that shares one keys object (the store hands the same tuple on while
        the minutes hold the same series) is written per series with two slice assignments.
        """
        lo = -_FAR if self._now_ms is None else self._now_ms // MINUTE_MS - self.retention_minutes
        n = 0
        run: list[array] = []  # the values of consecutive minutes of one chunk, one keys object
        run_keys: tuple[tuple[str, str], ...] = ()
        run_m0 = run_last = -_FAR
        # id(keys) -> (keys, their series): holding the keys keeps their id from being reused
        layouts: dict[int, tuple[object, list[_Series]]] = {}
        for minute_ms, keys, values in minutes:
            m = minute_ms // MINUTE_MS
            if m <= lo:
                continue
            if run and (keys is not run_keys or m != run_last + 1 or m % CHUNK == 0):
                n += self._fill(self._layout(run_keys, layouts), run_m0, run)
                run = []
            if not run:
                run_keys, run_m0 = keys, m
            run.append(values)
            run_last = m
        if run:
            n += self._fill(self._layout(run_keys, layouts), run_m0, run)
        self._anchor = None  # recount everything at the next snapshot
        self._late.clear()
        return n

    def _layout(
        self,
        keys: tuple[tuple[str, str], ...],
        seen: dict[int, tuple[object, list[_Series]]],
    ) -> list[_Series]:
        """The series of `keys` in their order, missing ones created in that order (the
        store's (coin, venue) order: as `load` creates them from rows the store ordered)."""
        hit = seen.get(id(keys))
        if hit is not None:
            return hit[1]
        known = self._series
        for coin, venue in keys:
            if (coin, venue) not in known:
                self._new_series(coin, venue)
        series = [known[k] for k in keys]
        seen[id(keys)] = (keys, series)
        return series

    @staticmethod
    def _fill(series: list[_Series], m0: int, run: list[array]) -> int:
        """Set minutes m0, m0 + 1, ... (all in one chunk) of each series from `run`, one
        array of [longs, shorts] pairs per minute in the order of `series`."""
        ci, off = divmod(m0, CHUNK)
        width = 2 * len(series)
        if len(run) == 1:
            values = run[0]
            for j, s in enumerate(series):
                c = s.chunks.get(ci)
                if c is None:  # dense(ci), without its look into an empty cold store
                    if s.cold_min:
                        c = s.dense(ci)
                    else:
                        c = s.chunks[ci] = array("d", _ZERO_CHUNK)
                c[2 * off] = values[2 * j]
                c[2 * off + 1] = values[2 * j + 1]
            return len(series)
        flat = array("d")
        for values in run:
            flat += values
        end = 2 * (off + len(run))
        for j, s in enumerate(series):
            c = s.chunks.get(ci)
            if c is None:  # as above
                if s.cold_min:
                    c = s.dense(ci)
                else:
                    c = s.chunks[ci] = array("d", _ZERO_CHUNK)
            c[2 * off : end : 2] = flat[2 * j :: width]
            c[2 * off + 1 : end : 2] = flat[2 * j + 1 :: width]
        return len(series) * len(run)

    def prune(self, now_ms: int) -> int:
        """Drop buckets older than the retention; returns how many non-empty ones went."""
        self._now_ms = now_ms
        cutoff = now_ms // MINUTE_MS - self.retention_minutes + 1  # oldest minute kept
        cut_ci, cut_off = divmod(cutoff, CHUNK)
        dropped = 0
        for key, s in list(self._series.items()):
            dropped += s.drop_cold_before(cutoff)
            for ci in [ci for ci in s.chunks if ci < cut_ci]:
                dropped += _filled(s.chunks.pop(ci), CHUNK)
            c = s.chunks.get(cut_ci)
            if cut_off and c is not None:
                dropped += _filled(c, cut_off)
                c[: 2 * cut_off] = _ZERO_CHUNK[: 2 * cut_off]
                if not _filled(c, CHUNK):
                    del s.chunks[cut_ci]
            s.dirty = {m for m in s.dirty if m >= cutoff}
            if s.empty():
                del self._series[key]
        self._late = [e for e in self._late if e[1] >= cutoff]
        return dropped

    # ---- running sums --------------------------------------------------------------------

    def _recount(self, s: _Series, anchor: int) -> None:
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

    def _of(self, coin: str) -> list[_Series]:
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


def _filled(c: array, minutes: int) -> int:
    """Non-empty minutes among the first `minutes` of a dense chunk."""
    return sum(1 for off in range(minutes) if c[2 * off] or c[2 * off + 1])


def _biggest_first(v: VenueSplit) -> tuple[float, str]:
    return -(v.longs + v.shorts), v.venue


def _splits(per: dict[str, list[float]]) -> tuple[VenueSplit, ...]:
    out = [VenueSplit(v, a[0], a[1]) for v, a in per.items() if a[0] > 0 or a[1] > 0]
    out.sort(key=_biggest_first)
    return tuple(out)
