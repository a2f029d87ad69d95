"""Today's alert renderer (main's `render_alerts`, with its languages, before the render-once
change), kept verbatim as the reference the parts-and-compose path must equal byte for byte
(tests/domain/test_alert_parts.py, tests/store/test_render_once.py). Only the function's name
differs; the helpers it calls on AlertContext (split, venues, coins, footer, re-arm note) are
main's, unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from bot.domain.i18n import EN, N_, Lang
from bot.domain.market import coin_label, window_label
from bot.domain.message import Message
from bot.domain.models import ALL, Alert, AlertKind, Side
from bot.domain.money import format_threshold, format_usd
from bot.domain.render_alerts import AlertContext
from bot.domain.render_common import (
    MAX_CHARS,
    WAVE_NAMES,
    dominance,
    fit_lines,
    side_plural,
    sub_label,
    upper_first,
    venue_name,
)

_HEADLINE = {
    Side.TOTAL: N_("%(who)s liquidations%(on)s in %(window)s: %(usd)s (threshold %(threshold)s%(relative)s)"),
    Side.LONG: N_("%(who)s longs liquidated%(on)s in %(window)s: %(usd)s (threshold %(threshold)s%(relative)s)"),
    Side.SHORT: N_("%(who)s shorts liquidated%(on)s in %(window)s: %(usd)s (threshold %(threshold)s%(relative)s)"),
}  # fmt: skip


def _headline(a: Alert, ctx: AlertContext) -> str:
    s, lang = a.sub, ctx.lang
    line = lang._(
        _HEADLINE[s.side],
        who=lang._("Market-wide") if s.coin == ALL else s.coin,
        on=lang._(" on %(venue)s", venue=venue_name(s.venue)) if s.venue else "",
        window=window_label(s.window),
        usd=ctx.usd(a.value),
        threshold=format_threshold(s.threshold),
        relative=lang._(" = %(factor)s× the usual", factor=f"{s.factor:g}")
        if s.factor is not None
        else "",
    )
    if a.level > 1:  # escalated, or a first alert that crossed several levels at once
        line += lang._(", now %(multiple)s your threshold", multiple=ctx.multiple(a.level))
    label = sub_label(s, lang)
    return f"{label}: {line}" if s.origin == "config" else f"{label} {line}"


def _compact(a: Alert, lang: Lang = EN) -> str:
    """`#3 BTC shorts 1h $419.03M ≥ $400M, total $458.07M`: for messages of many alerts."""
    s = a.sub
    who = lang._("All") if s.coin == ALL else s.coin
    if s.venue:
        who += lang._(" on %(venue)s", venue=venue_name(s.venue))
    side = "" if s.side is Side.TOTAL else f" {side_plural(s.side, lang)}"
    line = (
        f"{sub_label(s, lang)} {who}{side} {window_label(s.window)} {format_usd(a.value)} "
        f"≥ {format_threshold(s.threshold)}"
    )
    if s.side is Side.TOTAL:
        return line
    return lang._("%(line)s, total %(usd)s", line=line, usd=format_usd(a.longs + a.shorts))


def reference_render_alerts(
    alerts: Sequence[Alert], ctx: AlertContext | None = None, tz: ZoneInfo | None = None
) -> Message:
    """All alerts of one chat in one tick, as ONE message; its time in `tz` (the chat's /tz)."""
    if not alerts:
        raise ValueError("render_alerts needs at least one alert")
    ctx = ctx or AlertContext()
    lang = ctx.lang
    longs = sum(a.longs for a in alerts)
    shorts = sum(a.shorts for a in alerts)
    tone = dominance(longs, shorts)
    waves = [ctx.wave(a) for a in alerts]
    dramatic = WAVE_NAMES[tone] if WAVE_NAMES[tone] in waves else ""
    first = alerts[0]
    if len(alerts) == 1:
        s = first.sub
        subject = f"{coin_label(s.coin, lang)} {window_label(s.window)}"
        if dramatic:
            title = f"{upper_first(lang._(dramatic))}: {subject}"
        elif first.kind is AlertKind.ESCALATED:
            title = lang._("Liquidation escalation: %(subject)s", subject=subject)
        else:
            title = lang._("Liquidation alert: %(subject)s", subject=subject)
    else:
        n = len(alerts)
        title = (
            upper_first(lang._(dramatic)) + ": " + lang.n_("%(n)d alert", "%(n)d alerts", n)
            if dramatic
            else lang.n_("%(n)d liquidation alert", "%(n)d liquidation alerts", n)
        )
    blocks: list[list[str]] = []
    for a, wave in zip(alerts, waves, strict=True):
        block = [_headline(a, ctx), ctx.split(a, wave)]
        if venues := ctx.venues(a):
            block.append(venues)
        if a.sub.coin == ALL and (coins := ctx.coins_line(a.sub.window, a.sub.side)):
            block.append(coins)
        blocks.append(block)
    gaps = list(dict.fromkeys(g for a in alerts for g in a.gaps))
    notes = [lang._("Gap: %(gap)s", gap=lang.text(g)) for g in gaps[:5]]
    full = [line for b in blocks for line in ([*b, ""] if len(blocks) > 1 else b)]
    if len(blocks) > 1:
        full.pop()  # no blank line after the last block
    # Many alerts: drop the per-alert detail lines rather than cut alerts off.
    if sum(len(x) + 1 for x in full) <= MAX_CHARS - 800:
        body = full
    else:  # one short line each, still with the total (a side's value is not the whole wave)
        body = [_compact(a, lang) for a in alerts]
    lines = fit_lines([*body, *notes, ctx.rearm_note()], MAX_CHARS - 600, lang)
    sources = tuple(dict.fromkeys(s for a in alerts for s in a.sources))
    as_of = max(a.as_of_ms for a in alerts)
    return Message(
        title=title[:256],
        lines=lines,
        footer=ctx.footer(as_of, sources, any(a.sampled for a in alerts), tz),
        tone=tone,
        lang=lang.code,
    )
