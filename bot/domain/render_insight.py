"""Wording of issue 14's features: single-liquidation alerts, /top, backtests, relative rules,
and the words for a rule of any kind (venue-filtered, single, relative)."""

from __future__ import annotations

import datetime as dtm
import time
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from bot.domain.backtest import BacktestResult
from bot.domain.baselines import MIN_DAYS, Usual
from bot.domain.i18n import EN, N_, Lang, Text
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


def single_line(hit: SingleHit, tz: ZoneInfo | None = None, lang: Lang = EN) -> str:
    """`#4 $2.40M BTC long liquidated on Binance at $94,210 (15:20:03 UTC)`."""
    ev = hit.event
    values = {
        "label": sub_label(hit.sub, lang),
        "usd": format_usd(ev.usd),
        "coin": ev.coin,
        "venue": venue_name(ev.venue),
        "time": _hms(ev.ts_ms, tz),
        "price": format_price(ev.price),
    }
    if ev.price > 0:
        return lang._(_SINGLE_AT[ev.side], **values)
    return lang._(_SINGLE_EVENT[ev.side], **values)


_SINGLE_EVENT = {
    Side.LONG: N_("%(label)s %(usd)s %(coin)s long liquidated on %(venue)s (%(time)s)"),
    Side.SHORT: N_("%(label)s %(usd)s %(coin)s short liquidated on %(venue)s (%(time)s)"),
    Side.TOTAL: N_("%(label)s %(usd)s %(coin)s liquidated on %(venue)s (%(time)s)"),
}
_SINGLE_AT = {
    Side.LONG: N_(
        "%(label)s %(usd)s %(coin)s long liquidated on %(venue)s at %(price)s (%(time)s)"
    ),
    Side.SHORT: N_(
        "%(label)s %(usd)s %(coin)s short liquidated on %(venue)s at %(price)s (%(time)s)"
    ),
    Side.TOTAL: N_("%(label)s %(usd)s %(coin)s liquidated on %(venue)s at %(price)s (%(time)s)"),
}
_BIG_ONE = {
    Side.LONG: N_("Big liquidation: %(usd)s %(coin)s long"),
    Side.SHORT: N_("Big liquidation: %(usd)s %(coin)s short"),
    Side.TOTAL: N_("Big liquidation: %(usd)s %(coin)s"),
}


def render_singles(
    hits: Sequence[SingleHit], as_of_ms: int, tz: ZoneInfo | None = None, lang: Lang = EN
) -> Message:
    """Every single-liquidation match of one chat in one tick: ONE message, biggest first."""
    if not hits:
        raise ValueError("render_singles needs at least one match")
    ordered = sorted(hits, key=lambda h: (-h.event.usd, h.event.ts_ms, h.sub.id))
    longs = sum(h.event.usd for h in hits if h.event.side is Side.LONG)
    shorts = sum(h.event.usd for h in hits if h.event.side is Side.SHORT)
    if len(hits) == 1:
        ev = hits[0].event
        title = lang._(_BIG_ONE[ev.side], usd=format_usd(ev.usd), coin=ev.coin)
    else:
        title = lang.n_(
            "%(n)d big liquidation, %(usd)s in all",
            "%(n)d big liquidations, %(usd)s in all",
            len(hits),
            usd=format_usd(longs + shorts),
        )
    footer = "\n".join(
        (
            lang._("as of %(time)s", time=dated(as_of_ms, tz, lang)),
            lang._("Single liquidations as each venue reports them."),
        )
    )
    return Message(
        title=title,
        lines=fit_lines([single_line(h, tz, lang) for h in ordered], MAX_CHARS - 400, lang),
        footer=footer,
        tone=dominance(longs, shorts),
    )


def render_top(snapshot: Snapshot, window: int, rows: int = TOP_ROWS, lang: Lang = EN) -> Message:
    """The coins with the most liquidated in the window, with the long/short split."""
    label = window_label(window)
    title = lang._("Top liquidations, %(window)s", window=label)
    if window not in snapshot.served_windows:
        return Message(
            title=title,
            lines=(lang._("n/a: no source serves the %(window)s window right now.", window=label),),
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
    footer = sources_footer(snapshot.as_of_ms, snapshot.sources, snapshot.sampled, lang=lang)
    if market is not None and market.total > 0:
        lines.append(
            lang._(
                "Market %(total)s: longs %(longs)s (%(lp)s), shorts %(shorts)s (%(sp)s)",
                total=format_usd(market.total),
                longs=format_usd(market.longs),
                lp=percent(market.longs, market.total),
                shorts=format_usd(market.shorts),
                sp=percent(market.shorts, market.total),
            )
        )
    if not ranked:
        lines.append(lang._("No liquidations in the last %(window)s.", window=label))
        return Message(title=title, lines=tuple(lines), footer=footer)
    table = Table(
        ("#", lang._("Coin"), lang._("Total"), lang._("Longs"), lang._("Shorts"), lang._("Long%")),
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
        title=title,
        lines=tuple(lines),
        table=table,
        footer=footer,
        tone=dominance(market.longs, market.shorts) if market else Tone.NEUTRAL,
    )


def _days(ms: int, lang: Lang = EN) -> str:
    return lang.text(days_text(ms))


def backtest_line(
    result: BacktestResult | None, sub: Subscription, now_ms: int, lang: Lang = EN
) -> str:
    """`Backtest: would have fired 3 times in the last 7 days, last on 14 Jan 15:20 UTC.`"""
    if sub.kind == "single":
        return lang._(
            "Backtest: none for single liquidations (the store keeps minute sums, not events)."
        )
    if result is None:
        return lang._(
            "Backtest: not enough stored history yet (it needs one whole %(window)s window).",
            window=window_label(sub.window),
        )
    span = _days(result.covered_ms, lang)
    if result.fired == 1:
        line = lang._("Backtest: would have fired once in the last %(span)s", span=span)
    else:
        line = lang.n_(
            "Backtest: would have fired %(n)d time in the last %(span)s",
            "Backtest: would have fired %(n)d times in the last %(span)s",
            result.fired,
            span=span,
        )
    if result.last_ms is not None:
        line += lang._(", last on %(time)s", time=hhmm(result.last_ms, now_ms, lang=lang))
    if result.escalations:
        line += lang.n_(" (plus %(n)d escalation)", " (plus %(n)d escalations)", result.escalations)
    return line + lang._(" (minute by minute, with the real re-arm rules).")


def sources_note(store_ms: int, coinglass_ms: int, buckets: str, exchanges: Sequence[str]) -> Text:
    """Which part of a backtest came from where: `buckets` is `hourly`, `4-hourly`, ..."""
    values = {"cg": days_text(coinglass_ms), "buckets": buckets, "exchanges": ", ".join(exchanges)}
    if store_ms > 0:
        return Text(
            N_(
                "History: %(store)s from our store, %(cg)s before that from CoinGlass %(buckets)s "
                "totals (%(exchanges)s); those can only fire at each bucket's end, so that part "
                "is an estimate."
            ),
            store=days_text(store_ms),
            **values,
        )
    return Text(
        N_(
            "History: nothing from our store yet, %(cg)s before that from CoinGlass %(buckets)s "
            "totals (%(exchanges)s); those can only fire at each bucket's end, so that part is "
            "an estimate."
        ),
        **values,
    )


def days_text(ms: int) -> Text:
    """A span of days or hours, in the language the note is shown in."""
    days = ms / 86_400_000
    if days >= 6.95:
        return Text(N_("%(days)s days"), days=str(round(days)))
    if days >= 1:
        return Text(N_("%(days)s days"), days=f"{days:.1f}".rstrip("0").rstrip("."))
    hours = max(1, round(ms / 3_600_000))
    if hours == 1:
        return Text(N_("1 hour"))
    return Text(N_("%(hours)s hours"), hours=str(hours))


COINGLASS_UNAVAILABLE = Text(
    N_("CoinGlass history was not available just now, so this covers our store only.")
)


def usual_line(
    sub: Subscription,
    usual: Usual | None,
    threshold: float | None,
    stored_days: float,
    now_ms: int,
    lang: Lang = EN,
) -> str:
    """What `3x` means today in dollars, or that the rule waits for history."""
    hour = utc_hhmm(now_ms // 3_600_000 * 3_600_000)
    if usual is None or threshold is None:
        return lang._(
            'Waiting for history: "usual" needs %(min)d days of stored data at each hour of day '
            "(%(stored)s stored so far); this rule stays silent until then.",
            min=MIN_DAYS,
            stored=f"{stored_days:.1f}",
        )
    return lang._(
        "Usual for %(coin)s %(side)s over %(window)s at %(hour)s UTC: %(usual)s (median of "
        "%(days)d days), so it fires at %(threshold)s this hour.",
        coin=coin_label(sub.coin, lang),
        side=side_plural(sub.side, lang),
        window=window_label(sub.window),
        hour=hour,
        usual=format_usd(usual.usd),
        days=usual.days,
        threshold=format_usd(threshold),
    )


def render_backtest(sub: Subscription, lines: Sequence[str], lang: Lang = EN) -> Message:
    return Message(
        title=lang._("Backtest"),
        lines=(
            lang._("Rule: %(rule)s", rule=describe_sub(sub, lang)),
            *lines,
            lang._("Not subscribed: /subscribe with the same words to get it."),
        ),
        footer=lang._(FLOOR_NOTE),
    )
