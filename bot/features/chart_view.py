"""A chart of the store's minute buckets as a message: /chart's answer and an alert's picture.

Time when every source was out, and time before the store's first minute (the bot was not
running), is drawn hatched as missing, never as a calm market.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.domain.chart import (
    CHART_BUCKETS,
    build_series,
    chart_since_ms,
    chart_window_label,
    for_chat,
    no_data_spans,
    render_chart_caption,
    render_chart_empty,
)
from bot.domain.i18n import EN, Lang
from bot.domain.message import ChartRef, Message
from bot.domain.models import Snapshot, SourceStatus
from bot.domain.render_market import not_up_phrases
from bot.locale import get_lang
from bot.store import Database

AGGREGATES = frozenset({"coinglass"})


class Market(Protocol):
    def snapshot(self, now_ms: int) -> Snapshot: ...
    def status(self, now_ms: int) -> list[SourceStatus]: ...


def chart_window_for(window_min: int) -> int:
    """The shortest chart window that shows a whole alert window (5m..1h -> 1h, 2h -> 2h ...)."""
    return next((w for w in sorted(CHART_BUCKETS) if w >= window_min), max(CHART_BUCKETS))


def outage_spans(
    gaps: Sequence[tuple[str, int, int]],
    statuses: Sequence[SourceStatus],
    since_ms: int,
    now_ms: int,
    first_bucket_ms: int | None,
) -> dict[str, list[tuple[int, int]]]:
    """Per source, the spans it delivered nothing: ended gaps, the current outage, and the time
    before the store's first minute."""
    outages: dict[str, list[tuple[int, int]]] = {}
    for source, start, end in gaps:
        outages.setdefault(source, []).append((start, end))
    for s in statuses:
        if s.state != "up" and s.since_ms is not None:
            outages.setdefault(s.name, []).append((s.since_ms, now_ms))
    if first_bucket_ms is not None and first_bucket_ms > since_ms:
        for s in statuses:
            outages.setdefault(s.name, []).append((since_ms, first_bucket_ms))
    return outages


async def chart_message(
    db: Database,
    market: Market,
    coin: str,
    window: int,
    now: int,
    lang: Lang = EN,
    tz: ZoneInfo | None = None,
) -> tuple[Message, bool]:
    """(the chart message, whether it holds a picture), its times in `tz` (the chat's /tz;
    None: UTC) and its words in `lang`. Without data there is no picture."""
    since = chart_since_ms(window, now)
    rows = await db.chart_buckets(coin, since)
    # the sources that feed minute buckets: CoinGlass serves window totals only, so its being
    # up says nothing about the chart's bars (and must not hide the streams' outages)
    statuses = [s for s in market.status(now) if s.state != "disabled" and s.name not in AGGREGATES]
    if not any(lg or sh for _, lg, sh in rows):
        down = not any(s.state == "up" for s in statuses)
        phrases = "; ".join(not_up_phrases(statuses, now, lang)) if down else ""
        return render_chart_empty(coin, window, phrases, lang), False
    gaps = [(g.source, g.start_ms, g.end_ms) for g in await db.recent_gaps(since)]
    outages = outage_spans(gaps, statuses, since, now, await db.first_bucket_ms())
    snapshot = market.snapshot(now)
    series = build_series(
        rows,
        coin,
        window,
        now,
        snapshot.sources,
        sampled=snapshot.sampled,
        no_data=no_data_spans(outages, [s.name for s in statuses]),
    )
    series = for_chat(series, lang, tz, now)
    # tens of milliseconds of CPU: keep the event loop (and every other chat) moving
    from bot.features import charts  # matplotlib on the first chart, not at start-up (~0.4 s)

    png = await asyncio.to_thread(charts.render_png, series)
    name = f"chart-{coin.lower()}-{chart_window_label(window)}.png"
    caption = render_chart_caption(series, now, lang, snapshot.sources, snapshot.sampled, tz)
    return replace(caption, image=png, image_name=name), True


class AlertCharts:
    """Delivery's prepare step (alerts.attach_chart): draws the chart an alert asks for, of its
    coin over the shortest chart window that holds the alert's, up to the alert's time.

    A broadcast's alert goes to many chats with the same ChartRef: it is drawn once (the first
    chat's task draws, the others await the same task), and the last few are kept. Webhooks get
    JSON, no picture. With no data to draw, the alert goes without one.
    """

    def __init__(
        self,
        db: Database,
        market: Market,
        before: Callable[[], Awaitable[None]] | None = None,
        keep: int = 32,
    ) -> None:
        self.db, self.market, self.before, self.keep = db, market, before, keep
        self.drawn = 0  # charts rendered (not served from the cache)
        # one drawing per (alert and its zone, language): a broadcast's chats mostly share one
        self._tasks: dict[tuple[ChartRef, str], asyncio.Task[Message | None]] = {}

    async def prepare(self, chat_key: str, message: Message) -> Message:
        ref = message.chart
        if ref is None or chat_key.split(":", 1)[0] == "webhook":
            return message
        key = (ref, message.lang)
        task = self._tasks.get(key)
        if task is None or (task.done() and task.exception() is not None):
            task = self._tasks[key] = asyncio.ensure_future(self._draw(ref, get_lang(message.lang)))
            while len(self._tasks) > self.keep:
                self._tasks.pop(next(iter(self._tasks)))
        chart = await asyncio.shield(task)  # one chat's cancelled send must not cancel the rest
        if chart is None:
            return message
        return replace(message, image=chart.image, image_name=chart.image_name)

    async def _draw(self, ref: ChartRef, lang: Lang) -> Message | None:
        try:  # the zone the engine gave the alert (the chat's /tz); one tzdata lost: UTC
            zone = ZoneInfo(ref.zone) if ref.zone != "UTC" else None
        except Exception:
            zone = None
        if self.before is not None:
            await self.before()  # the minutes that crossed the line may be in memory only
        window = chart_window_for(ref.window)
        chart, drawn = await chart_message(
            self.db, self.market, ref.coin, window, ref.as_of_ms, lang, zone
        )
        self.drawn += drawn
        return chart if drawn else None
