"""The I/O half of issue 14's features: backtests and baselines read the store; single-liquidation
matches become outbox items. The maths is pure (bot.domain.backtest, baselines, single_rules)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from bot.domain.backtest import MAX_DAYS, BacktestResult, backtest
from bot.domain.baselines import DAY_MS, Usual, hour_of, side_values, usual_by_hour
from bot.domain.extra_rules import MIN_RELATIVE_USD, ExtraRules, baseline_key
from bot.domain.i18n import EN, Lang, Text
from bot.domain.models import Subscription
from bot.domain.quiet import QuietHours
from bot.domain.render_insight import COINGLASS_UNAVAILABLE, render_singles, sources_note
from bot.domain.rules import Policy
from bot.domain.single_rules import SingleHit
from bot.features.backtest_history import (
    HISTORY_WAIT_S,
    MAX_DAYS_WITH_COINGLASS,
    HistorySource,
    coinglass_span,
    interval_words,
    unusable_reason,
)
from bot.sources.coinglass import CoinGlassAPIError
from bot.store import Database, OutboxItem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class History:
    """What the store says about one rule's series: its backtest and, if relative, its usual.

    `source_note`: where CoinGlass history took part, which part came from where; where it could
    not, why (None when the store answers alone as it always did)."""

    result: BacktestResult | None
    usuals: dict[int, Usual]
    stored_days: float
    source_note: Text | None = None

    def usual_at(self, ms: int) -> Usual | None:
        return self.usuals.get(hour_of(ms))


async def rule_history(
    db: Database,
    policy: Policy,
    sub: Subscription,
    now_ms: int,
    coinglass: HistorySource | None = None,
) -> History:
    """Backtest `sub` over the stored minute sums (up to 7 days), with the engine's lifecycle.

    With `coinglass` (a keyed CoinGlass source) a rule it can serve reaches back 30 days: the
    days before the store's first minute come from CoinGlass buckets (bot.features.backtest_history)."""
    first = await db.first_bucket_ms()
    stored = 0.0 if first is None else max(0.0, (now_ms - first) / DAY_MS)
    if sub.kind == "single":
        return History(None, {}, stored)
    days, span, note = MAX_DAYS, None, None
    if coinglass is not None:
        note = unusable_reason(sub)
        if note is None:
            days = MAX_DAYS_WITH_COINGLASS
            try:
                span = await asyncio.wait_for(
                    coinglass_span(coinglass, sub, first or now_ms, now_ms), HISTORY_WAIT_S
                )
            except (CoinGlassAPIError, ValueError) as e:  # the source's text never holds the key
                log.warning("backtest of %s: no CoinGlass history (%s)", sub.coin, e)
                note = COINGLASS_UNAVAILABLE
            except TimeoutError:  # the confirmation must not wait on a slow CoinGlass
                log.warning(
                    "backtest of %s: CoinGlass history took over %ss", sub.coin, HISTORY_WAIT_S
                )
                note = COINGLASS_UNAVAILABLE
    if first is None and span is None:
        return History(None, {}, stored, note)
    since = now_ms - days * DAY_MS
    rows = await db.minute_sums(sub.coin, since - sub.window * 60_000, sub.venue)
    values = side_values(rows, sub.side)
    usuals: dict[int, Usual] = {}
    threshold_at: Callable[[int], float | None] | None = None
    if sub.factor is not None:
        usuals = await asyncio.to_thread(usual_by_hour, values, sub.window, now_ms, first)
        factor = sub.factor

        def threshold_at(ms: int) -> float | None:
            u = usuals.get(hour_of(ms))
            return None if u is None else max(factor * u.usd, MIN_RELATIVE_USD)

    gaps = [(g.start_ms, g.end_ms) for g in await db.recent_gaps(since)]
    start = first
    if span is not None:
        end = first or now_ms
        # the store's outages say nothing of CoinGlass' days; a stretch between CoinGlass' last
        # whole bucket and the store's first minute is held by neither: an outage
        gaps = [(max(a, end), b) for a, b in gaps if b >= end]
        if span.until_ms < end:
            gaps.append((span.until_ms, end - 1))
        values = span.values | values  # disjoint: CoinGlass' buckets end before the store begins
        start = span.first_ms
        store_ms = 0 if first is None else now_ms - max(first, since)
        note = sources_note(
            store_ms, span.covered_ms, interval_words(span.interval), span.exchanges
        )
    assert start is not None
    # up to ~43,000 minutes through rules.step: off the event loop, like a chart's rendering
    result = await asyncio.to_thread(
        backtest, policy, sub, values, start, now_ms, threshold_at, gaps, days
    )
    return History(result, usuals, stored, note)


async def refresh_baselines(db: Database, extras: ExtraRules, now_ms: int) -> int:
    """Recompute "usual" for every relative rule's series (a job: every few minutes)."""
    first = await db.first_bucket_ms()
    keys = extras.baseline_keys()
    for key in keys:
        coin, window, side, venue = key
        rows = await db.minute_sums(coin, now_ms - MAX_DAYS * DAY_MS - window * 60_000, venue)
        extras.set_baselines(key, usual_by_hour(side_values(rows, side), window, now_ms, first))
    return len(keys)


def remember_usuals(extras: ExtraRules, sub: Subscription, history: History) -> None:
    """A new relative rule arms at once with the baseline its confirmation computed."""
    if sub.factor is not None:
        extras.set_baselines(baseline_key(sub), history.usuals)


SINGLE_NEWS_MS = 30 * 60_000
SINGLE_MIN_GAP_MS = 10_000  # a flood of big liquidations: at most one message per chat per 10 s


class SingleOutbox:
    """Single-liquidation matches -> outbox items: a burst for one chat in one tick is ONE
    message, and a chat gets at most one such message per `min_gap_ms` (matches in between wait
    for the next one), so a cascade never outruns the platforms' per-chat send limits."""

    def __init__(self, min_gap_ms: int = SINGLE_MIN_GAP_MS) -> None:
        self.min_gap_ms = min_gap_ms
        self._last: dict[str, int] = {}
        self._held: dict[str, list[SingleHit]] = defaultdict(list)

    def holding(self) -> bool:
        """Matches wait for their chat's gap to pass."""
        return bool(self._held)

    def items(
        self,
        hits: list[SingleHit],
        now_ms: int,
        muted: Callable[[Subscription], bool],
        live: Callable[[int], bool] = lambda _id: True,
        zones: Mapping[str, ZoneInfo] | None = None,
        quiet: Mapping[str, QuietHours] | None = None,
        langs: Mapping[str, Lang] | None = None,
    ) -> list[OutboxItem]:
        """`live(sub_id)`: the rule still exists (a held match of a removed rule is dropped).
        `zones`: the chats' time zones (/tz); a chat not in it reads UTC. `quiet`: the chats'
        quiet hours (/quiet): a single liquidation past the chat's bar is big, so it rings
        when the chat said `except big` (decided here, when enqueued, as the engine's alerts).
        Rules made in different forum topics of a chat get a message each, in its topic."""
        for h in hits:
            self._held[h.sub.chat_key].append(h)
        items = []
        for chat_key in list(self._held):
            last = self._last.get(chat_key)
            if last is not None and now_ms - last < self.min_gap_ms:
                continue
            chat_hits = [h for h in self._held.pop(chat_key) if live(h.sub.id) and not muted(h.sub)]
            if chat_hits:
                tz = zones.get(chat_key) if zones else None
                hours = quiet.get(chat_key) if quiet else None
                silent = None if hours is None else hours.silences(now_ms, tz, big=True)
                topics: dict[int | None, list[SingleHit]] = {}
                for h in chat_hits:
                    topics.setdefault(h.sub.thread, []).append(h)
                for thread, part in topics.items():
                    lang = langs.get(chat_key, EN) if langs else EN
                    items.append(_single_item(chat_key, part, now_ms, tz, thread, silent, lang))
                self._last[chat_key] = now_ms
        return items


def _single_item(
    chat_key: str,
    hits: list[SingleHit],
    now_ms: int,
    tz: ZoneInfo | None = None,
    thread: int | None = None,
    silent: bool | None = None,
    lang: Lang = EN,
) -> OutboxItem:
    ids = sorted(f"{h.sub.id}.{h.event.venue}.{h.event.ts_ms}.{h.event.usd!r}" for h in hits)
    digest = hashlib.sha256(",".join(ids).encode()).hexdigest()[:32]
    expires = now_ms + SINGLE_NEWS_MS  # an hour-old single liquidation is no longer news
    message = render_singles(hits, now_ms, tz, lang)
    if thread is not None or silent is not None:
        message = replace(message, thread=thread, silent=silent)
    return OutboxItem(chat_key, message, f"single:{digest}", now_ms, expires)
