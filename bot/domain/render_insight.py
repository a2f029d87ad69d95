"""Wording of issue 14's features: single-liquidation alerts, /top, backtests, relative rules,
and the words for a rule of any kind (venue-filtered, single, relative)."""

from __future__ import annotations

import datetime as dtm
import time
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from bot.domain.backtest import BacktestResult
from bot.domain.baselines import MIN_DAYS, Usual
from bot.domain.i18n import EN, N_, Lang
from bot.domain.market import coin_label, utc_hhmm, window_label
from bot.domain.message import Message, Table, Tone
from bot.domain.models import ALL, Side, Snapshot, Subscription
from bot.domain.money import format_threshold, format_usd
from bot.domain.render_common import (
    FLOOR_NOTE,
    MAX_CHARS,
    dated,
    dominance,
    fit_lines,
    hhmm,
    percent,
    side_plural,
    sources_footer,
    sub_label,
    venue_name,
)
from bot.domain.single_rules import SingleHit

TOP_ROWS = 10


def threshold_text(sub: Subscription, lang: Lang = EN) -> str:
    """`$100M`, or `3× the usual` for a relative rule."""
    if sub.factor is not None:
        return lang._("%(factor)s× the usual", factor=f"{sub.factor:g}")
    return format_threshold(sub.threshold)


_SINGLE = {
    Side.TOTAL: N_("each single %(coin)sliquidation of %(threshold)s or more%(on)s"),
    Side.LONG: N_("each single %(coin)slong liquidation of %(threshold)s or more%(on)s"),
    Side.SHORT: N_("each single %(coin)sshort liquidation of %(threshold)s or more%(on)s"),
}


def describe_sub(sub: Subscription, lang: Lang = EN) -> str:
    """`BTC shorts over 1h above $100M on Binance`; `each BTC liquidation of $1M or more`."""
    on = lang._(" on %(venue)s", venue=venue_name(sub.venue)) if sub.venue else ""
    if sub.kind == "single":
        return lang._(
            _SINGLE[sub.side],
            coin="" if sub.coin == ALL else f"{sub.coin} ",
            threshold=format_threshold(sub.threshold),
            on=on,
        )
    values = {
        "coin": coin_label(sub.coin, lang),
        "side": side_plural(sub.side, lang),
        "window": window_label(sub.window),
        "threshold": threshold_text(sub, lang),
    }
    if sub.factor is not None:
        rule = lang._(
            "%(coin)s %(side)s over %(window)s above %(threshold)s for that hour of day", **values
        )
    else:
        rule = lang._("%(coin)s %(side)s over %(window)s above %(threshold)s", **values)
    return rule + on


def format_price(price: float) -> str:
    """`$94,210`, `$3.52`, `$0.00001234`: as a trader reads a price."""
    if price >= 1000:
        return f"${price:,.0f}"
    if price >= 1:
        return f"${price:,.2f}"
    return f"${price:.4g}"


def _hms(ms: int, tz: ZoneInfo | None = None) -> str:
    if tz is not None and tz.key != "UTC":
        t = dtm.datetime.fromtimestamp(ms / 1000, tz)
        return f"{t:%H:%M:%S} {t.tzname()}"
    return time.strftime("%H:%M:%S", time.gmtime(ms / 1000)) + " UTC"


def single_line(hit: SingleHit, tz: ZoneInfo | None = None) -> str:
    """`#4 $2.40M BTC long liquidated on Binance at $94,210 (15:20:03 UTC)`."""
    ev = hit.event
    at = f" at {format_price(ev.price)}" if ev.price > 0 else ""
    return (
        f"{sub_label(hit.sub)} {format_usd(ev.usd)} {ev.coin} {ev.side.value} liquidated on "
        f"{venue_name(ev.venue)}{at} ({_hms(ev.ts_ms, tz)})"
    )


def render_singles(hits: Sequence[SingleHit], as_of_ms: int, tz: ZoneInfo | None = None) -> Message:
    """Every single-liquidation match of one chat in one tick: ONE message, biggest first."""
    if not hits:
        raise ValueError("render_singles needs at least one match")
    ordered = sorted(hits, key=lambda h: (-h.event.usd, h.event.ts_ms, h.sub.id))
    longs = sum(h.event.usd for h in hits if h.event.side is Side.LONG)
    shorts = sum(h.event.usd for h in hits if h.event.side is Side.SHORT)
    if len(hits) == 1:
        ev = hits[0].event
        title = f"Big liquidation: {format_usd(ev.usd)} {ev.coin} {ev.side.value}"
    else:
        title = f"{len(hits)} big liquidations, {format_usd(longs + shorts)} in all"
    return Message(
        title=title,
        lines=fit_lines([single_line(h, tz) for h in ordered], MAX_CHARS - 400),
        footer=f"as of {dated(as_of_ms, tz)}\nSingle liquidations as each venue reports them.",
        tone=dominance(longs, shorts),
    )


def render_top(snapshot: Snapshot, window: int, rows: int = TOP_ROWS) -> Message:
    """The coins with the most liquidated in the window, with the long/short split."""
    label = window_label(window)
    if window not in snapshot.served_windows:
        return Message(
            title=f"Top liquidations, {label}",
            lines=(f"n/a: no source serves the {label} window right now.",),
            tone=Tone.ERROR,
        )
    ranked = sorted(
        (
            (t.total, coin, t)
            for (coin, w), t in snapshot.totals.items()
            if w == window and coin != ALL and t.total > 0
        ),
        key=lambda r: (-r[0], r[1]),
    )
    market = snapshot.window_totals(ALL, window)
    lines = []
    if market is not None and market.total > 0:
        lines.append(
            f"Market {format_usd(market.total)}: longs {format_usd(market.longs)} "
            f"({percent(market.longs, market.total)}), shorts {format_usd(market.shorts)} "
            f"({percent(market.shorts, market.total)})"
        )
    if not ranked:
        lines.append(f"No liquidations in the last {label}.")
        return Message(
            title=f"Top liquidations, {label}",
            lines=tuple(lines),
            footer=sources_footer(snapshot.as_of_ms, snapshot.sources, snapshot.sampled),
        )
    table = Table(
        ("#", "Coin", "Total", "Longs", "Shorts", "Long%"),
        tuple(
            (
                str(i),
                coin,
                format_usd(total),
                format_usd(t.longs),
                format_usd(t.shorts),
                percent(t.longs, total),
            )
            for i, (total, coin, t) in enumerate(ranked[:rows], 1)
        ),
        align=("r", "l", "r", "r", "r", "r"),
    )
    return Message(
        title=f"Top liquidations, {label}",
        lines=tuple(lines),
        table=table,
        footer=sources_footer(snapshot.as_of_ms, snapshot.sources, snapshot.sampled),
        tone=dominance(market.longs, market.shorts) if market else Tone.NEUTRAL,
    )


def _days(ms: int) -> str:
    days = ms / 86_400_000
    if days >= 6.95:  # 7 days less the window's first minutes is "7 days"; 29.96 is "30 days"
        return f"{round(days)} days"
    if days >= 1:
        return f"{days:.1f}".rstrip("0").rstrip(".") + " days"
    hours = max(1, round(ms / 3_600_000))
    return f"{hours} hour" + ("s" if hours != 1 else "")


def backtest_line(result: BacktestResult | None, sub: Subscription, now_ms: int) -> str:
    """`Backtest: would have fired 3 times in the last 7 days, last on 14 Jan 15:20 UTC.`"""
    if sub.kind == "single":
        return "Backtest: none for single liquidations (the store keeps minute sums, not events)."
    if result is None:
        return (
            f"Backtest: not enough stored history yet (it needs one whole "
            f"{window_label(sub.window)} window)."
        )
    span = _days(result.covered_ms)
    times = "once" if result.fired == 1 else f"{result.fired} times"
    line = f"Backtest: would have fired {times} in the last {span}"
    if result.last_ms is not None:
        line += f", last on {hhmm(result.last_ms, now_ms)}"
    if result.escalations:
        line += (
            f" (plus {result.escalations} escalation"
            + ("s" if result.escalations != 1 else "")
            + ")"
        )
    return line + " (minute by minute, with the real re-arm rules)."


def sources_note(store_ms: int, coinglass_ms: int, buckets: str, exchanges: Sequence[str]) -> str:
    """Which part of a backtest came from where: `buckets` is `hourly`, `4-hourly`, ..."""
    store = f"{_days(store_ms)} from our store" if store_ms > 0 else "nothing from our store yet"
    return (
        f"History: {store}, {_days(coinglass_ms)} before that from CoinGlass {buckets} totals "
        f"({', '.join(exchanges)}); those can only fire at each bucket's end, so that part is "
        "an estimate."
    )


COINGLASS_UNAVAILABLE = (
    "CoinGlass history was not available just now, so this covers our store only."
)


def usual_line(
    sub: Subscription, usual: Usual | None, threshold: float | None, stored_days: float, now_ms: int
) -> str:
    """What `3x` means today in dollars, or that the rule waits for history."""
    hour = utc_hhmm(now_ms // 3_600_000 * 3_600_000)
    if usual is None or threshold is None:
        return (
            f'Waiting for history: "usual" needs {MIN_DAYS} days of stored data at each hour '
            f"of day ({stored_days:.1f} stored so far); this rule stays silent until then."
        )
    return (
        f"Usual for {coin_label(sub.coin)} {side_plural(sub.side)} over {window_label(sub.window)} "
        f"at {hour} UTC: {format_usd(usual.usd)} (median of {usual.days} days), so it fires "
        f"at {format_usd(threshold)} this hour."
    )


def render_backtest(sub: Subscription, lines: Sequence[str]) -> Message:
    return Message(
        title="Backtest",
        lines=(
            f"Rule: {describe_sub(sub)}",
            *lines,
            "Not subscribed: /subscribe with the same words to get it.",
        ),
        footer=FLOOR_NOTE,
    )
