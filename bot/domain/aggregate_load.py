"""The aggregator's load and persistence: stored minute buckets in (start-up, by rows or by minute
columns), changed buckets out, old minutes pruned. A mixin of Aggregator, which holds the series."""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.domain.minute_series import _FAR, _ZERO_CHUNK, CHUNK, MINUTE_MS, MinuteSeries, _filled


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


class BucketLoading:
    """Aggregator's side that meets the store: what it loads and what it hands back to persist."""

    if TYPE_CHECKING:  # provided by Aggregator
        retention_minutes: int
        _series: dict[tuple[str, str], MinuteSeries]
        _anchor: int | None
        _late: list[tuple[MinuteSeries, int, float, float]]
        _now_ms: int | None

        def _new_series(self, coin: str, venue: str) -> MinuteSeries: ...
        def _compact(self, anchor: int) -> None: ...
        def _recount(self, s: MinuteSeries, anchor: int) -> None: ...

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

    def minute_columns(self, since_ms: int) -> list[MinuteColumns]:
        """What the store would hand `load_minutes` for the minutes from `since_ms` on, from
        memory: every non-empty bucket held, oldest minute first, each minute's buckets in
        (coin, venue) order, at the store's precision (whole dollars, as upsert_buckets writes
        them), consecutive minutes of the same (coin, venue) list sharing one tuple. Start-up's
        snapshot (bot/runtime/hot_snapshot.py) is this, written at stop beside the store."""
        m_lo = since_ms // MINUTE_MS + (since_ms % MINUTE_MS > 0)
        per_minute: dict[int, list[tuple[tuple[str, str], float, float]]] = {}
        for key in sorted(self._series):
            s = self._series[key]
            for ci, c in s.chunks.items():
                base = ci * CHUNK
                for off in range(CHUNK):
                    longs, shorts = c[2 * off], c[2 * off + 1]
                    if (longs or shorts) and base + off >= m_lo:
                        per_minute.setdefault(base + off, []).append((key, longs, shorts))
            for j, m in enumerate(s.cold_min):
                longs, shorts = s.cold_val[2 * j], s.cold_val[2 * j + 1]
                if (longs or shorts) and m >= m_lo:
                    per_minute.setdefault(m, []).append((key, longs, shorts))
        out: list[MinuteColumns] = []
        keys: tuple[tuple[str, str], ...] = ()
        for m in sorted(per_minute):
            buckets = per_minute[m]  # already in (coin, venue) order: the series were sorted
            these = tuple(k for k, _, _ in buckets)
            if these != keys:
                keys = these
            values = array("d")
            for _, longs, shorts in buckets:
                values.append(float(round(longs)))
                values.append(float(round(shorts)))
            out.append((m * MINUTE_MS, keys, values))
        return out

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
        layouts: dict[int, tuple[object, list[MinuteSeries]]] = {}
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
        seen: dict[int, tuple[object, list[MinuteSeries]]],
    ) -> list[MinuteSeries]:
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
    def _fill(series: list[MinuteSeries], m0: int, run: list[array]) -> int:
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
