"""Alert messages: every alert of one chat in one tick, as one message."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.market import coin_label, window_label
from bot.domain.message import Message
from bot.domain.models import ALL, Alert, AlertKind, Side, VenueSplit
from bot.domain.money import format_threshold, format_usd
from bot.domain.render_common import (
    MAX_CHARS,
    WAVE_NAMES,
    dominance,
    fit_lines,
    percent,
    side_plural,
    sources_footer,
    upper_first,
    venue_name,
)

TOP_VENUES = 3


def _headline(a: Alert) -> str:
    s = a.sub
    who = "Market-wide" if s.coin == ALL else s.coin
    what = "liquidations" if s.side is Side.TOTAL else f"{side_plural(s.side)} liquidated"
    line = (
        f"{who} {what} in {window_label(s.window)}: {format_usd(a.value)} "
        f"(threshold {format_threshold(s.threshold)})"
    )
    if a.kind is AlertKind.ESCALATED and a.level > 1:
        line += f", now {2 ** (a.level - 1)}x your threshold"
    return f"#{s.id} {line}"


def _split(a: Alert) -> str:
    total = a.longs + a.shorts
    wave = WAVE_NAMES[dominance(a.longs, a.shorts)]
    text = (
        f"Longs {format_usd(a.longs)} ({percent(a.longs, total)}) · "
        f"Shorts {format_usd(a.shorts)} ({percent(a.shorts, total)})"
    )
    return f"{text}: a {wave}" if wave else text


def _venue_value(v: VenueSplit, side: Side) -> float:
    return v.longs if side is Side.LONG else v.shorts if side is Side.SHORT else v.total


def _venues(a: Alert) -> str:
    ranked = sorted(a.venues, key=lambda v: _venue_value(v, a.sub.side), reverse=True)
    top = [
        f"{venue_name(v.venue)} {format_usd(_venue_value(v, a.sub.side))}"
        for v in ranked[:TOP_VENUES]
    ]
    return "Top venues: " + ", ".join(top) if top else ""


def render_alerts(alerts: Sequence[Alert]) -> Message:
    """All alerts of one chat in one tick, as ONE message."""
    if not alerts:
        raise ValueError("render_alerts needs at least one alert")
    longs = sum(a.longs for a in alerts)
    shorts = sum(a.shorts for a in alerts)
    tone = dominance(longs, shorts)
    wave = WAVE_NAMES[tone]
    first = alerts[0]
    if len(alerts) == 1:
        s = first.sub
        subject = f"{coin_label(s.coin)} {window_label(s.window)}"
        kind = "escalation" if first.kind is AlertKind.ESCALATED else "alert"
        title = f"{upper_first(wave)}: {subject}" if wave else f"Liquidation {kind}: {subject}"
    else:
        title = (
            f"{upper_first(wave)}: {len(alerts)} alerts"
            if wave
            else f"{len(alerts)} liquidation alerts"
        )
    blocks: list[list[str]] = []
    for a in alerts:
        block = [_headline(a), _split(a)]
        if venues := _venues(a):
            block.append(venues)
        blocks.append(block)
    gaps = list(dict.fromkeys(g for a in alerts for g in a.gaps))
    notes = [f"Gap: {g}" for g in gaps[:5]]
    full = [line for b in blocks for line in ([*b, ""] if len(blocks) > 1 else b)]
    if len(blocks) > 1:
        full.pop()  # no blank line after the last block
    # Many alerts: drop the per-alert detail lines rather than cut alerts off.
    body = full if sum(len(x) + 1 for x in full) <= MAX_CHARS - 600 else [b[0] for b in blocks]
    lines = fit_lines([*body, *notes], MAX_CHARS - 600)
    sources = tuple(dict.fromkeys(s for a in alerts for s in a.sources))
    as_of = max(a.as_of_ms for a in alerts)
    return Message(
        title=title[:256],
        lines=lines,
        footer=sources_footer(as_of, sources, any(a.sampled for a in alerts)),
        tone=tone,
    )
