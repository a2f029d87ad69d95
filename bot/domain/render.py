"""Every piece of user-facing content, as platform-neutral Messages.

Adapters only escape and lay out; wording lives here and in the modules beside it:
render_alerts (alert messages), render_market (/liqs and /status) and render_common (the
wording they share). This module holds the command replies: /list, /help, /start,
confirmations and errors; it re-exports the others so `render.render_xxx(...)` covers them all.
Each message stays under Telegram's 4096 characters and Discord's embed limits (title 256,
description 4096, footer 2048).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from bot.domain.command_specs import SPECS, CommandSpec
from bot.domain.command_types import CommandError
from bot.domain.market import coin_label, window_label
from bot.domain.message import Message, Table, Tone
from bot.domain.models import ALL, AlertState, Status, Subscription
from bot.domain.money import format_threshold, format_usd
from bot.domain.render_alerts import TOP_VENUES, AlertContext, render_alerts
from bot.domain.render_common import (
    DOMINANCE,
    FLOOR_NOTE,
    MAX_CHARS,
    active_mute_lines,
    describe_rule,
    dominance,
    hhmm,
    percent,
    side_plural,
    time_left,
    upper_first,
    venue_name,
)
from bot.domain.render_insight import describe_sub
from bot.domain.render_market import render_liqs, render_status
from bot.domain.rules import Policy

__all__ = [
    "DOMINANCE",
    "FLOOR_NOTE",
    "MAX_CHARS",
    "TOP_VENUES",
    "describe_rule",
    "dominance",
    "hhmm",
    "number",
    "render_alerts",
    "render_apology",
    "render_at_cap",
    "render_duplicate",
    "render_error",
    "render_help",
    "render_hint",
    "render_liqs",
    "render_list",
    "render_muted",
    "render_refused",
    "render_start",
    "render_status",
    "render_subscribed",
    "render_unmuted",
    "render_unsubscribed",
    "render_unsubscribed_all",
    "venue_name",
]


# ---- /list ---------------------------------------------------------------------------------


def _state_label(state: AlertState | None, ctx: AlertContext) -> str:
    if state is None or state.status is Status.ARMED:
        return "armed"
    return "fired" if state.level <= 1 else f"fired {ctx.multiple(state.level)}"


def number(sub: Subscription) -> int:
    """The number people see: the chat's own (#1 is a chat's first), else the global id."""
    return sub.number or sub.id


def render_list(
    subs: Sequence[Subscription],
    states: Mapping[int, AlertState],
    mutes: Mapping[str | None, int],
    now_ms: int,
    cap: int | None = None,
    policy: Policy | None = None,
    waiting: frozenset[int] = frozenset(),
    tz: ZoneInfo | None = None,
) -> Message:
    """The chat's subscriptions as a compact table (50 rows fit), and its active mutes.

    `waiting`: relative rules without enough history yet (they cannot fire).
    """
    ctx = AlertContext(policy=policy or Policy())
    mute_lines = active_mute_lines(mutes, now_ms, tz)
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
        state = _state_label(states.get(s.id), ctx)
        if chat_muted or (mutes.get(s.coin, 0) > now_ms):
            state += ", muted"
        coin = "all" if s.coin == ALL else s.coin
        if s.venue:
            coin += f" ({s.venue})"
        if s.kind == "single":
            state = "each one"
        elif s.id in waiting:
            state = "waiting for history"
        rows.append(
            (
                "op*" if s.origin == "config" else f"#{number(s)}",
                coin,
                "single" if s.kind == "single" else window_label(s.window),
                side_plural(s.side),
                f"{s.factor:g}x usual" if s.factor is not None else format_threshold(s.threshold),
                state,
            )
        )
    own = [s for s in subs if s.origin != "config"]
    used = f"{len(own)}/{cap} used" if cap else f"{len(own)} subscriptions"
    notes = list(mute_lines)
    if any(s.origin == "config" for s in subs):
        notes.append("op*: a broadcast the operator set up (not in your numbers or your limit)")
    in_topics = [s for s in subs if s.thread is not None]
    if in_topics:  # made in a forum topic: their alerts go there
        where = ", ".join(
            f"{'op*' if s.origin == 'config' else '#' + str(number(s))} in topic {s.thread}"
            for s in in_topics
        )
        notes.append(f"Alerting into forum topics: {where}")
    notes.append(ctx.rearm_note())
    return Message(
        title="Your subscriptions",
        lines=tuple(notes),
        table=Table(
            ("#", "Coin", "Win", "Side", "Above", "State"),
            tuple(rows),
            align=("l", "l", "l", "l", "r", "l"),
        ),
        footer=f"{used} · /unsubscribe <number> to remove · /mute 2h to pause",
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
            "Windows: 5m 15m 30m 1h 2h 4h 12h 24h (1d = 24h). "
            "Amounts: 250k, 100m, 1.5b, 1bn, $400M, 100 000.",
            "Order: coin, window, amount, side; another order works when it is unambiguous "
            "(/subscribe 1h btc 100m). Coins as tickers or pairs: btc, bitcoin, btc-usdt.",
            "Sides: long (longs liquidated, price fell), short (shorts liquidated, price rose), "
            "total (default).",
            "Charts: /chart btc 24h, over 1h 2h 4h 12h 24h 3d 7d (default 24h).",
            "Single big liquidations: /subscribe btc single 1m (each one of $1M or more; "
            "all for every coin). Venues: add 'on binance' (bybit, okx, bitget, bitmex, deribit, gate, htx) to any rule or /liqs.",
            "Relative: /subscribe btc 1h 3x fires at 3 times the usual for that hour of day "
            "(after 3 days of history). /backtest btc 1h 100m: how often it would have fired.",
            "Examples: /subscribe btc 1h 100m · /subscribe all 1h 400m shorts · /liqs eth 4h",
            "Not sure of the syntax? /subscribe alone (Telegram, Discord) opens a guided form: "
            "coin, window, amount and side as buttons, then the typed line it runs.",
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
    lines = [upper_first(err.message)]
    if err.usage:
        lines.append(f"Usage: {err.usage}")
    if err.example and err.example != err.usage:
        lines.append(f"Example: {err.example}")
    return Message(title="Not quite", lines=tuple(lines), tone=Tone.ERROR, ephemeral=True)


def render_hint() -> Message:
    """Plain text in a private chat: what the bot does understand."""
    return Message(
        title="I answer commands",
        lines=("Try /liqs btc for the market now, or /help for every command.",),
        ephemeral=True,
    )


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
    extra: Sequence[str] = (),
) -> Message:
    """Restates the rule in words, with the series' current value when known.

    `extra`: lines about the rule's kind (what "usual" is, the backtest), after the rule.
    """
    lines = [f"#{number(sub)} {describe_sub(sub)}", *extra]
    if current is not None and sub.kind == "window" and sub.factor is None:
        share = f" ({percent(current, sub.threshold)} of the threshold)"
        lines.append(f"Now: {format_usd(current)}{share}")
        if current >= sub.threshold:
            lines.append(
                "Warning: this fires now: the current total is already above your amount. "
                "Pick a higher amount for alerts on the next wave only."
            )
    if not served and sub.kind == "window":
        lines.append(
            f"Warning: the current sources cannot serve the {window_label(sub.window)} window; "
            "this alert stays silent until one can."
        )
    if note:
        lines.append(note)
    footer = f"{used}/{cap} used · /list · /unsubscribe {number(sub)}" if used and cap else "/list"
    return Message(title="Subscribed", lines=tuple(lines), footer=footer)


def render_duplicate(existing: Subscription) -> Message:
    return Message(
        title="Already subscribed",
        lines=(f"#{number(existing)} is the same rule: {describe_sub(existing)}.",),
        tone=Tone.ERROR,
        ephemeral=True,
    )


def render_at_cap(cap: int) -> Message:
    return Message(
        title="Subscription limit reached",
        lines=(
            f"This chat has {cap} subscriptions, the limit (broadcasts do not count).",
            "Free a slot with /unsubscribe <number> (see /list for the numbers).",
        ),
        tone=Tone.ERROR,
        ephemeral=True,
    )


def render_unsubscribed(
    removed: Sequence[int], unknown: Sequence[int], own: Sequence[int], broadcasts: bool = False
) -> Message:
    """Removed numbers, and numbers this chat does not have (never revealing any other chat's)."""
    lines = []
    if removed:
        lines.append("Removed " + ", ".join(f"#{i}" for i in removed) + ".")
    if unknown:
        yours = ", ".join(f"#{i}" for i in own[:60]) if own else "none"
        lines.append(
            "Not found in this chat: " + ", ".join(f"#{i}" for i in unknown) + f". Yours: {yours}."
        )
        if broadcasts:
            lines.append("The op* broadcasts are the operator's: /mute silences them.")
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


def render_muted(
    coin: str | None, until_ms: int, now_ms: int, tz: ZoneInfo | None = None
) -> Message:
    what = "All alerts of this chat" if coin is None else f"{coin_label(coin)} alerts"
    return Message(
        title="Muted",
        lines=(
            f"{what} are muted until {hhmm(until_ms, now_ms, tz)} ({time_left(until_ms, now_ms)}).",
            "/unmute ends it early.",
        ),
    )


def render_tz(tz: ZoneInfo | None, now_ms: int, *, changed: bool) -> Message:
    """/tz: the chat's zone and the time there now."""
    name = tz.key if tz is not None else "UTC"
    head = f"Times in this chat are now shown in {name}" if changed else f"Time zone: {name}"
    return Message(
        title="Time zone",
        lines=(
            f"{head}; it is {hhmm(now_ms, tz=tz)} there.",
            "Change it with /tz Europe/Berlin (any IANA name), or /tz UTC.",
        ),
    )


def render_unmuted(coin: str | None, cleared: int) -> Message:
    if cleared == 0:
        what = "this chat" if coin is None else coin_label(coin)
        return Message(title="Nothing to unmute", lines=(f"No active mute for {what}.",))
    what = "All alerts" if coin is None else f"{coin_label(coin)} alerts"
    return Message(title="Unmuted", lines=(f"{what} are back on.",))
