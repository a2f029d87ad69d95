"""The minute buckets of one (coin, venue): recent minutes in dense 15-minute chunks, older ones in a
sorted cold store (see aggregate.py for the layout and why)."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable

MINUTE_MS = 60_000
CHUNK = 15  # minutes per dense chunk: small, so a rarely traded coin allocates little
_ZERO_CHUNK = array("d", bytes(16 * CHUNK))
_FAR = 1 << 62  # beyond any minute: an open bound


class MinuteSeries:
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


def _filled(c: array, minutes: int) -> int:
    """Non-empty minutes among the first `minutes` of a dense chunk."""
    return sum(1 for off in range(minutes) if c[2 * off] or c[2 * off + 1])
