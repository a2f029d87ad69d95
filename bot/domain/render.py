"""Every piece of user-facing content, as platform-neutral Messages.

Adapters only escape and lay out; wording lives here. Each message stays under Telegram's 4096
characters and Discord's embed limits (title 256, description 4096, footer 2048).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from bot.domain.commands import SPECS, CommandError, CommandSpec
from bot.domain.market import TABLE_WINDOWS, coin_label, window_label
from bot.domain.message import Message, Table, Tone
from bot.domain.models import (
    ALL,
    Alert,
    AlertKind,
    AlertState,
    Side,
    Snapshot,
    SourceStatus,
    Status,
    Subscription,
    VenueSplit,
    WindowTotals,
)
from bot.domain.money import format_threshold, format_usd

MAX_CHARS = 3800  # below Telegram's 4096 with room for the adapter's markup
DOMINANCE = 0.6  # a side with at least 60% of the total "dominates" the wave
FLOOR_NOTE = "Exchange streams are sampled: figures are a floor, not the full total."
TOP_VENUES = 3


# ---- small helpers -------------------------------------------------------------------------


def hhmm(ms: int) -> str:
    """`14:05 UTC` for a time in epoch milliseconds."""
    return time.strftime("%H:%M UTC", time.gmtime(ms / 1000))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _pct(part: float, whole: float) -> str:
    return f"{round(100 * part / whole)}%" if whole > 0 else "0%"


def _side_plural(side: Side) -> str:
    return {Side.LONG: "longs", Side.SHORT: "shorts", Side.TOTAL: "total"}[side]


def dominance(longs: float, shorts: float) -> Tone:
    """SHORT for a short squeeze, LONG for a long flush, NEUTRAL when neither dominates."""
    total = longs + shorts
    if total <= 0:
        return Tone.NEUTRAL
    if shorts / total >= DOMINANCE:
        return Tone.SHORT
    if longs / total >= DOMINANCE:
        return Tone.LONG
    return Tone.NEUTRAL


_WAVE = {Tone.SHORT: "short squeeze", Tone.LONG: "long flush", Tone.NEUTRAL: ""}


def describe_rule(coin: str, window: int, side: Side, threshold: float) -> str:
    """`BTC total over 1h above $100M`."""
    return (
        f"{coin_label(coin)} {_side_plural(side)} over {window_label(window)} "
        f"above {format_threshold(threshold)}"
    )


_VENUE_NAMES = {"okx": "OKX", "coinglass": "CoinGlass", "bitget": "Bitget", "htx": "HTX"}


def _venue_name(venue: str) -> str:
    return _VENUE_NAMES.get(venue, venue[:1].upper() + venue[1:])


def _footer(as_of_ms: int, sources: Sequence[str], sampled: bool) -> str:
    parts = [f"as of {hhmm(as_of_ms)}"]
    if sources:
        parts.append("sources: " + ", ".join(sources))
    text = " · ".join(parts)
    return f"{text}\n{FLOOR_NOTE}" if sampled else text


def _fit(lines: list[str], budget: int) -> tuple[str, ...]:
    """Keep lines while they fit; say how many were left out."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            out.append(f"… and {len(lines) - i} more")
            break
        out.append(line)
        used += len(line) + 1
    return tuple(out)


# ---- alerts --------------------------------------------------------------------------------


def _headline(a: Alert) -> str:
    s = a.sub
    who = "Market-wide" if s.coin == ALL else s.coin
    what = "liquidations" if s.side is Side.TOTAL else f"{_side_plural(s.side)} liquidated"
    line = (
        f"{who} {what} in {window_label(s.window)}: {format_usd(a.value)} "
        f"(threshold {format_threshold(s.threshold)})"
    )
    if a.kind is AlertKind.ESCALATED and a.level > 1:
        line += f", now {2 ** (a.level - 1)}x your threshold"
    return f"#{s.id} {line}"


def _split(a: Alert) -> str:
    total = a.longs + a.shorts
    wave = _WAVE[dominance(a.longs, a.shorts)]
    text = (
        f"Longs {format_usd(a.longs)} ({_pct(a.longs, total)}) · "
        f"Shorts {format_usd(a.shorts)} ({_pct(a.shorts, total)})"
    )
    return f"{text}: a {wave}" if wave else text


def _venue_value(v: VenueSplit, side: Side) -> float:
    return v.longs if side is Side.LONG else v.shorts if side is Side.SHORT else v.total


def _venues(a: Alert) -> str:
    ranked = sorted(a.venues, key=lambda v: _venue_value(v, a.sub.side), reverse=True)
    top = [
        f"{_venue_name(v.venue)} {format_usd(_venue_value(v, a.sub.side))}"
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
    wave = _WAVE[tone]
    first = alerts[0]
    if len(alerts) == 1:
        s = first.sub
        subject = f"{coin_label(s.coin)} {window_label(s.window)}"
        kind = "escalation" if first.kind is AlertKind.ESCALATED else "alert"
        title = f"{_cap(wave)}: {subject}" if wave else f"Liquidation {kind}: {subject}"
    else:
        title = (
            f"{_cap(wave)}: {len(alerts)} alerts" if wave else f"{len(alerts)} liquidation alerts"
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
    lines = _fit([*body, *notes], MAX_CHARS - 600)
    sources = tuple(dict.fromkeys(s for a in alerts for s in a.sources))
    as_of = max(a.as_of_ms for a in alerts)
    return Message(
        title=title[:256],
        lines=lines,
        footer=_footer(as_of, sources, any(a.sampled for a in alerts)),
        tone=tone,
    )


# ---- /liqs ---------------------------------------------------------------------------------


def _source_notes(statuses: Sequence[SourceStatus]) -> list[str]:
    notes = []
    for s in statuses:
        since = f" since {hhmm(s.since_ms)}" if s.since_ms is not None else ""
        if s.state == "down":
            reason = f" ({s.note})" if s.note else ""
            notes.append(f"{s.name} down{since}{reason}: figures are partial")
        elif s.state == "connecting":
            notes.append(f"{s.name} connecting{since}: figures may be partial")
    return notes


def _money_row(label: str, t: WindowTotals | None) -> tuple[str, ...]:
    if t is None:
        return (label, "n/a", "n/a", "n/a")
    return (label, format_usd(t.longs), format_usd(t.shorts), format_usd(t.total))


def _not_served_note(windows: Sequence[int]) -> str:
    labels = ", ".join(window_label(w) for w in windows)
    return f"n/a: the current sources cannot serve {labels}"


def render_liqs(
    snapshot: Snapshot, coin: str, window: int | None, statuses: Sequence[SourceStatus]
) -> Message:
    """The /liqs answer: the 1h/4h/12h/24h table, or one window split by venue."""
    label = coin_label(coin)
    notes: list[str] = []
    if window is None:
        rows = [_money_row(window_label(w), snapshot.window_totals(coin, w)) for w in TABLE_WINDOWS]
        missing = [w for w in TABLE_WINDOWS if w not in snapshot.served_windows]
        if missing:
            notes.append(_not_served_note(missing))
        headline = snapshot.window_totals(coin, TABLE_WINDOWS[-1])
        table = Table(("Window", "Longs", "Shorts", "Total"), tuple(rows))
        title = f"Liquidations: {label}"
    else:
        totals = snapshot.window_totals(coin, window)
        headline = totals
        title = f"Liquidations: {label}, {window_label(window)}"
        table = None
        if totals is None:
            notes.append(_not_served_note([window]))
        else:
            notes.append(
                f"Total {format_usd(totals.total)}: longs {format_usd(totals.longs)} "
                f"({_pct(totals.longs, totals.total)}), shorts {format_usd(totals.shorts)} "
                f"({_pct(totals.shorts, totals.total)})"
            )
            venues = snapshot.venues.get((coin, window), ())
            if venues:
                ranked = sorted(venues, key=lambda v: v.total, reverse=True)[:20]
                table = Table(
                    ("Venue", "Longs", "Shorts", "Total"),
                    tuple(
                        (
                            _venue_name(v.venue),
                            format_usd(v.longs),
                            format_usd(v.shorts),
                            format_usd(v.total),
                        )
                        for v in ranked
                    ),
                )
    if not snapshot.served_windows:
        notes.append("No data yet: no source has delivered figures.")
    notes.extend(_source_notes(statuses))
    notes.extend(f"Gap: {g}" for g in snapshot.gaps[:5])
    tone = dominance(headline.longs, headline.shorts) if headline else Tone.NEUTRAL
    return Message(
        title=title,
        lines=_fit(notes, 1500),
        table=table,
        footer=_footer(snapshot.as_of_ms, snapshot.sources, snapshot.sampled),
        tone=tone if tone is not Tone.NEUTRAL else Tone.INFO,
    )


# ---- /list ---------------------------------------------------------------------------------


def _state_label(state: AlertState | None) -> str:
    if state is None or state.status is Status.ARMED:
        return "armed"
    return "fired" if state.level <= 1 else f"fired x{2 ** (state.level - 1)}"


def _left(until_ms: int, now_ms: int) -> str:
    """Time left, rounded up to the minute: `45m`, `1h 20m`, `2d`."""
    minutes = max(1, -(-int(until_ms - now_ms) // 60_000))
    hours, mins = divmod(minutes, 60)
    if hours == 0:
        return f"{mins}m"
    if mins == 0:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"
    return f"{hours}h {mins}m"


def _mute_lines(mutes: Mapping[str | None, int], now_ms: int) -> list[str]:
    lines = []
    for coin, until in sorted(mutes.items(), key=lambda kv: (kv[0] is not None, kv[0] or "")):
        if until <= now_ms:
            continue
        what = "All alerts" if coin is None else f"{coin_label(coin)} alerts"
        lines.append(f"{what} muted until {hhmm(until)} ({_left(until, now_ms)} left)")
    return lines


def render_list(
    subs: Sequence[Subscription],
    states: Mapping[int, AlertState],
    mutes: Mapping[str | None, int],
    now_ms: int,
    cap: int | None = None,
) -> Message:
    """The chat's subscriptions as a compact table (50 rows fit), and its active mutes."""
    mute_lines = _mute_lines(mutes, now_ms)
    if not subs:
        return Message(
            title="No subscriptions",
            lines=(
                "This chat has no alerts yet.",
                "Add one: /subscribe btc 1h 100m (coin, window, amount, optional side).",
                *mute_lines,
            ),
        )
    chat_muted = None in mutes and mutes[None] > now_ms
    rows = []
    for s in subs:
        state = _state_label(states.get(s.id))
        if chat_muted or (mutes.get(s.coin, 0) > now_ms):
            state += ", muted"
        coin = "all" if s.coin == ALL else s.coin
        origin = "*" if s.origin == "config" else ""
        rows.append(
            (
                f"#{s.id}{origin}",
                coin,
                window_label(s.window),
                _side_plural(s.side),
                format_threshold(s.threshold),
                state,
            )
        )
    used = f"{len(subs)}/{cap} used" if cap else f"{len(subs)} subscriptions"
    notes = list(mute_lines)
    if any(s.origin == "config" for s in subs):
        notes.append("* declared by the operator in the config")
    return Message(
        title="Your subscriptions",
        lines=tuple(notes),
        table=Table(
            ("#", "Coin", "Win", "Side", "Above", "State"),
            tuple(rows),
            align=("l", "l", "l", "l", "r", "l"),
        ),
        footer=f"{used} · /unsubscribe <id> to remove · /mute 2h to pause",
    )


# ---- /status -------------------------------------------------------------------------------


def render_status(
    statuses: Sequence[SourceStatus],
    now_ms: int,
    *,
    chat_subscriptions: int,
    total_subscriptions: int | None = None,
    cap: int | None = None,
    paused_reason: str | None = None,
    mutes: Mapping[str | None, int] | None = None,
    served: frozenset[int] = frozenset(),
) -> Message:
    """Sources (state, since, last data) and this chat's state."""
    rows = []
    for s in statuses:
        since = hhmm(s.since_ms) if s.since_ms is not None else "-"
        last = "-"
        if s.last_data_ms is not None:
            age_s = max(0, (now_ms - s.last_data_ms) // 1000)
            last = f"{age_s}s ago" if age_s < 120 else f"{age_s // 60}m ago"
        rows.append((s.name, s.state, since, last, str(s.events)))
    lines: list[str] = []
    for s in statuses:
        if s.state == "down" and s.note:
            lines.append(f"{s.name}: {s.note}")
        for g in s.gaps[:3]:
            lines.append(f"{s.name} gap {g}")
    if not statuses:
        lines.append("No data source is configured.")
    if served:
        lines.append("Windows served: " + ", ".join(window_label(w) for w in sorted(served)))
    mine = f"This chat: {chat_subscriptions}" + (f"/{cap}" if cap else "") + " subscriptions"
    if paused_reason:
        mine += f"; alerts PAUSED ({paused_reason}), send /start to resume"
    lines.append(mine)
    lines.extend(_mute_lines(mutes or {}, now_ms))
    if total_subscriptions is not None:
        lines.append(f"Active subscriptions, all chats: {total_subscriptions}")
    down = any(s.state == "down" for s in statuses)
    return Message(
        title="Status" + (": a source is down" if down else ""),
        lines=_fit(lines, 2000),
        table=Table(
            ("Source", "State", "Since", "Last data", "Events"),
            tuple(rows),
            align=("l", "l", "l", "r", "r"),
        )
        if rows
        else None,
        footer=f"as of {hhmm(now_ms)}",
        tone=Tone.ERROR if down else Tone.INFO,
    )


# ---- help, start, confirmations, errors ----------------------------------------------------


def _usage_line(spec: CommandSpec) -> str:
    return f"{spec.usage}: {spec.summary.lower()}"


def render_help() -> Message:
    return Message(
        title="Liquidation alerts: commands",
        lines=(
            *(_usage_line(s) for s in SPECS.values()),
            "",
            "Windows: 5m 15m 30m 1h 2h 4h 12h 24h (1d = 24h). Amounts: 250k, 100m, 1.5b, $400M.",
            "Sides: long (longs liquidated, price fell), short (shorts liquidated, price rose), "
            "total (default).",
            "Examples: /subscribe btc 1h 100m · /subscribe all 1h 400m shorts · /liqs eth 4h",
            "In groups and channels only admins can change alerts; anyone can read.",
        ),
        footer=FLOOR_NOTE,
    )


def render_start(resumed: bool = False) -> Message:
    lines = [
        "I watch crypto futures liquidations and tell you when a wave crosses your line.",
        "Try /liqs for the market now, or /subscribe btc 1h 100m for an alert.",
        "/help lists every command.",
    ]
    if resumed:
        lines.insert(0, "Your alerts are back on: this chat was paused and is now resumed.")
    return Message(title="Welcome back" if resumed else "Liquidation alerts", lines=tuple(lines))


def render_error(err: CommandError) -> Message:
    lines = [_cap(err.message)]
    if err.usage:
        lines.append(f"Usage: {err.usage}")
    if err.example and err.example != err.usage:
        lines.append(f"Example: {err.example}")
    return Message(title="Not quite", lines=tuple(lines), tone=Tone.ERROR, ephemeral=True)


def render_refused(hint: str) -> Message:
    return Message(
        title="Not allowed",
        lines=(f"Only admins can change this chat's alerts: {hint}.",),
        tone=Tone.ERROR,
        ephemeral=True,
    )


def render_apology() -> Message:
    return Message(
        title="Sorry, something went wrong",
        lines=("That command failed on our side. Please try again in a minute.",),
        tone=Tone.ERROR,
        ephemeral=True,
    )


def render_subscribed(
    sub: Subscription,
    current: float | None,
    served: bool,
    used: int | None = None,
    cap: int | None = None,
    note: str = "",
) -> Message:
    """Restates the rule in words, with the series' current value when known."""
    lines = [f"#{sub.id} {describe_rule(sub.coin, sub.window, sub.side, sub.threshold)}"]
    if current is not None:
        share = f" ({_pct(current, sub.threshold)} of the threshold)"
        lines.append(f"Now: {format_usd(current)}{share}")
    if not served:
        lines.append(
            f"Warning: the current sources cannot serve the {window_label(sub.window)} window; "
            "this alert stays silent until one can."
        )
    if note:
        lines.append(note)
    footer = f"{used}/{cap} used · /list · /unsubscribe {sub.id}" if used and cap else "/list"
    return Message(title="Subscribed", lines=tuple(lines), footer=footer)


def render_duplicate(existing: Subscription) -> Message:
    return Message(
        title="Already subscribed",
        lines=(
            f"#{existing.id} is the same rule: "
            f"{describe_rule(existing.coin, existing.window, existing.side, existing.threshold)}.",
        ),
        tone=Tone.ERROR,
        ephemeral=True,
    )


def render_at_cap(cap: int) -> Message:
    return Message(
        title="Subscription limit reached",
        lines=(
            f"This chat has {cap} subscriptions, the limit.",
            "Free a slot with /unsubscribe <id> (see /list for ids).",
        ),
        tone=Tone.ERROR,
        ephemeral=True,
    )


def render_unsubscribed(
    removed: Sequence[int], unknown: Sequence[int], own: Sequence[int]
) -> Message:
    """Removed ids, and ids that are not this chat's (never revealing whose they are)."""
    lines = []
    if removed:
        lines.append("Removed " + ", ".join(f"#{i}" for i in removed) + ".")
    if unknown:
        yours = ", ".join(f"#{i}" for i in own[:60]) if own else "none"
        lines.append(
            "Not found in this chat: " + ", ".join(f"#{i}" for i in unknown) + f". Yours: {yours}."
        )
    return Message(
        title="Unsubscribed" if removed else "Nothing removed",
        lines=tuple(lines),
        tone=Tone.INFO if removed else Tone.ERROR,
        ephemeral=not removed,
    )


def render_unsubscribed_all(count: int) -> Message:
    if count == 0:
        return Message(title="Nothing to remove", lines=("This chat has no subscriptions.",))
    return Message(title="Unsubscribed", lines=(f"Removed all {count} subscriptions.",))


def render_config_owned(ids: Sequence[int]) -> Message:
    return Message(
        title="Not removable here",
        lines=(
            ", ".join(f"#{i}" for i in ids) + " are declared by the operator in the config; "
            "ask the operator, or /mute them.",
        ),
        tone=Tone.ERROR,
        ephemeral=True,
    )


def render_muted(coin: str | None, until_ms: int, now_ms: int) -> Message:
    what = "All alerts of this chat" if coin is None else f"{coin_label(coin)} alerts"
    return Message(
        title="Muted",
        lines=(
            f"{what} are muted until {hhmm(until_ms)} ({_left(until_ms, now_ms)}).",
            "/unmute ends it early.",
        ),
    )


def render_unmuted(coin: str | None, cleared: int) -> Message:
    if cleared == 0:
        what = "this chat" if coin is None else coin_label(coin)
        return Message(title="Nothing to unmute", lines=(f"No active mute for {what}.",))
    what = "All alerts" if coin is None else f"{coin_label(coin)} alerts"
    return Message(title="Unmuted", lines=(f"{what} are back on.",))
