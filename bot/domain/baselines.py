"""What is usual for a coin, window and hour of day: the base of relative thresholds (`3x`).

From the stored minute sums: for each of the last days whose hour `h` the store covers (the
whole window before that hour's first minute included), the mean of the window sum over the
minutes of hour h; "usual" is the median of those daily means (one wild day moves it little).
Fewer than MIN_DAYS such days: not enough history, and the rule waits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from statistics import median

from bot.domain.models import Side

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MIN_DAYS = 3  # days of history at that hour before a relative rule arms
LOOKBACK_DAYS = 7

Rows = Iterable[tuple[int, float, float]]  # (minute_ms, longs, shorts), as the store gives them


@dataclass(frozen=True, slots=True)
class Usual:
    usd: float  # the usual window sum at this hour of day
    days: int  # how many days it is the median of


def side_values(rows: Rows, side: Side) -> dict[int, float]:
    """minute number -> the side's USD, for the minutes that had any."""
    out: dict[int, float] = {}
    for minute_ms, longs, shorts in rows:
        v = longs if side is Side.LONG else shorts if side is Side.SHORT else longs + shorts
        if v:
            out[minute_ms // MINUTE_MS] = out.get(minute_ms // MINUTE_MS, 0.0) + v
    return out


class RollingSums:
    """Window sums at any minute of a span, from one prefix-sum array."""

    def __init__(self, values: dict[int, float], first_min: int, last_min: int) -> None:
        self.first = first_min
        self._prefix = [
            0.0,
            *accumulate(values.get(m, 0.0) for m in range(first_min, last_min + 1)),
        ]

    def sum(self, m0: int, m1: int) -> float:
        """Minutes m0..m1 inclusive (clipped to the span)."""
        a = max(m0 - self.first, 0)
        b = min(m1 - self.first + 1, len(self._prefix) - 1)
        return self._prefix[b] - self._prefix[a] if b > a else 0.0


def usual_by_hour(
    values: dict[int, float],
    window_min: int,
    now_ms: int,
    first_ms: int | None,
    days: int = LOOKBACK_DAYS,
) -> dict[int, Usual]:
    """Hour of day (UTC, 0-23) -> the usual window sum, for hours with MIN_DAYS of history."""
    if first_ms is None:
        return {}
    today = now_ms // DAY_MS * DAY_MS
    lo = (today - days * DAY_MS) // MINUTE_MS - window_min
    sums = RollingSums(values, lo, now_ms // MINUTE_MS)
    out: dict[int, Usual] = {}
    for hour in range(24):
        samples = []
        for d in range(1, days + 1):
            start = today - d * DAY_MS + hour * HOUR_MS
            if start + HOUR_MS > now_ms or start - (window_min - 1) * MINUTE_MS < first_ms:
                continue
            m0 = start // MINUTE_MS
            total = sum(sums.sum(m - window_min + 1, m) for m in range(m0, m0 + 60))
            samples.append(total / 60)
        if len(samples) >= MIN_DAYS:
            out[hour] = Usual(median(samples), len(samples))
    return out


def hour_of(ms: int) -> int:
    return ms % DAY_MS // HOUR_MS
