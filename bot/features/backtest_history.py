"""CoinGlass history for the days a backtest wants and the store does not hold (issue 14).

The store keeps minute sums for `storage.retention_days` (7 by default). With a CoinGlass key a
backtest reaches back MAX_DAYS_WITH_COINGLASS days: the rule's coin is asked once for
aggregated-history, and each whole bucket that ended at or before the store's first minute
becomes ONE value at the bucket's last minute, joined with the stored minutes and replayed
through the same `bot.domain.backtest.backtest`. Bucketed data can only cross a threshold at a
bucket's end, so that part is an estimate, and the reply says which part came from where.

CoinGlass answers with the latest `limit` buckets (at most HISTORY_MAX_LIMIT), so only an interval
whose 1000 buckets reach back the whole span can serve, and only one no longer than the rule's
window: a 1h rule gets hourly buckets, a 5m rule none (hourly buckets are too coarse for it).
Not for all-coin rules (CoinGlass answers per coin), venue-filtered rules (it sums its exchanges),
relative rules ("usual" is the store's) or single-liquidation rules (no events in buckets).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from bot.domain.baselines import DAY_MS, MINUTE_MS, side_values
from bot.domain.coinglass_payloads import HistoryPoint
from bot.domain.i18n import N_, Text
from bot.domain.market import window_label
from bot.domain.models import ALL, Subscription
from bot.domain.render_common import venue_name
from bot.sources.coinglass import HISTORY_INTERVALS, HISTORY_MAX_LIMIT

MAX_DAYS_WITH_COINGLASS = 30

_UNIT_MIN = {"m": 1, "h": 60, "d": 1440, "w": 10080}
INTERVAL_MINUTES: dict[str, int] = {
    label: int(m[1]) * _UNIT_MIN[m[2]]
    for label in HISTORY_INTERVALS
    if (m := re.fullmatch(r"(\d+)([mhdw])", label))
}
_WORDS = {"1h": N_("hourly"), "4h": N_("4-hourly"), "1d": N_("daily"), "1w": N_("weekly")}


class HistorySource(Protocol):
    """What a backtest needs of bot.sources.coinglass.CoinGlassSource."""

    @property
    def exchanges(self) -> tuple[str, ...]: ...

    async def history(
        self,
        coin: str,
        interval: str = "1h",
        limit: int = 168,
        exchanges: Iterable[str] | None = None,
    ) -> list[HistoryPoint]: ...


@dataclass(frozen=True)
class CoinGlassSpan:
    """The CoinGlass part of a backtest: whole buckets before the store's first minute."""

    values: dict[int, float]  # minute number -> the rule's side in USD, at each bucket's end
    first_ms: int  # the first bucket's start
    until_ms: int  # the last bucket's end (at or before the store's first minute)
    interval: str
    exchanges: tuple[str, ...]

    @property
    def covered_ms(self) -> int:
        return self.until_ms - self.first_ms


def interval_words(interval: str) -> str:
    """`hourly`, `4-hourly`, `15m`: how a reply names the buckets."""
    return Text(_WORDS[interval]) if interval in _WORDS else interval


def history_interval(window_min: int, span_ms: int) -> str | None:
    """The finest interval no longer than the window whose HISTORY_MAX_LIMIT buckets reach back
    `span_ms` (plus the current, unfinished bucket); None when none does."""
    for label in HISTORY_INTERVALS:  # finest first
        minutes = INTERVAL_MINUTES[label]
        if minutes > window_min:
            return None
        if (HISTORY_MAX_LIMIT - 1) * minutes * MINUTE_MS >= span_ms:
            return label
    return None


def unusable_reason(sub: Subscription, days: int = MAX_DAYS_WITH_COINGLASS) -> Text | None:
    """Why CoinGlass history cannot stand in for this rule's series (None: it can)."""
    if sub.kind == "single":
        return Text(N_("CoinGlass history not used: single liquidations are not in its buckets."))
    if sub.coin == ALL:
        return Text(
            N_("CoinGlass history not used: it answers per coin, not for all coins together.")
        )
    if sub.venue is not None:
        return Text(
            N_("CoinGlass history not used: it sums several exchanges, not %(venue)s alone."),
            venue=venue_name(sub.venue),
        )
    if sub.factor is not None:
        return Text(
            N_('CoinGlass history not used for relative rules: "usual" comes from our store.')
        )
    if history_interval(sub.window, days * DAY_MS) is None:
        finest = history_interval(10**9, days * DAY_MS) or HISTORY_INTERVALS[-1]
        return Text(
            N_(
                "CoinGlass history not used: %(days)d days of it come in %(buckets)s buckets at "
                "the finest, too coarse for a %(window)s window."
            ),
            days=days,
            buckets=interval_words(finest),
            window=window_label(sub.window),
        )
    return None


async def coinglass_span(
    source: HistorySource,
    sub: Subscription,
    end_ms: int,
    now_ms: int,
    max_days: int = MAX_DAYS_WITH_COINGLASS,
) -> CoinGlassSpan | None:
    """CoinGlass buckets of `sub`'s coin for up to `max_days` before `end_ms` (the store's oldest
    minute). None when the rule cannot use them, the store already reaches back that far, or no
    whole bucket fits. CoinGlassAPIError (bot.sources.coinglass) when CoinGlass fails."""
    if unusable_reason(sub, max_days) is not None:
        return None
    horizon = now_ms - max_days * DAY_MS
    if end_ms <= horizon:
        return None  # the store holds every day asked for
    interval = history_interval(sub.window, now_ms - horizon)
    if interval is None:
        return None
    step = INTERVAL_MINUTES[interval] * MINUTE_MS
    # the latest `limit` buckets, the current unfinished one among them, reach back to horizon
    limit = min(HISTORY_MAX_LIMIT, -(-(now_ms - horizon) // step) + 1)
    points = await source.history(sub.coin, interval, limit)
    whole = [p for p in points if p.time_ms >= horizon and p.time_ms + step <= end_ms]
    if not whole:
        return None
    rows = [(p.time_ms + step - MINUTE_MS, p.longs, p.shorts) for p in whole]
    return CoinGlassSpan(
        values=side_values(rows, sub.side),
        first_ms=whole[0].time_ms,
        until_ms=max(p.time_ms for p in whole) + step,
        interval=interval,
        exchanges=tuple(source.exchanges),
    )


HISTORY_WAIT_S = 4.0  # a confirmation waits this long for CoinGlass, then answers from the store
CACHE_MAX_S = 15 * 60  # an answer is reused until its interval's next bucket, 15 min at most


class CachedHistory:
    """A HistorySource that asks CoinGlass once per coin and bucket: every `/subscribe` and
    `/backtest` of BTC in one hour shares one request of the plan's budget (which the window
    totals' poll also spends), and a burst of them waits on that one request."""

    def __init__(self, source: HistorySource, clock: Callable[[], int]) -> None:
        self.source = source
        self.clock = clock
        self.requests = 0
        self._cache: dict[tuple, tuple[int, list[HistoryPoint]]] = {}  # key -> (expires, points)
        self._locks: dict[tuple, asyncio.Lock] = {}

    @property
    def exchanges(self) -> tuple[str, ...]:
        return tuple(self.source.exchanges)

    async def history(
        self,
        coin: str,
        interval: str = "1h",
        limit: int = 168,
        exchanges: Iterable[str] | None = None,
    ) -> list[HistoryPoint]:
        key = (coin, interval, limit, tuple(exchanges) if exchanges is not None else None)
        async with self._locks.setdefault(key, asyncio.Lock()):
            now = self.clock()
            hit = self._cache.get(key)
            if hit is not None and now < hit[0]:
                return hit[1]
            points = await self.source.history(coin, interval, limit, exchanges)
            self.requests += 1
            step = INTERVAL_MINUTES.get(interval, 60) * MINUTE_MS
            expires = min((now // step + 1) * step, now + CACHE_MAX_S * 1000)
            # one entry per key, so the cache holds at most the coins people backtest
            self._cache[key] = (expires, points)
            return points
