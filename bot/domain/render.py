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
from bot.domain.i18n import EN, N_, NAMES, Lang, TextError
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
    "render_lang",
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
    lang = ctx.lang
    if state is None or state.status is Status.ARMED:
        return lang._("armed")
    if state.level <= 1:
        return lang._("fired")
    return lang._("fired %(multiple)s", multiple=ctx.multiple(state.level))


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
    lang: Lang = EN,
) -> Message:
    """The chat's subscriptions as a compact table (50 rows fit), and its active mutes.

    `waiting`: relative rules without enough history yet (they cannot fire).
    """
    ctx = AlertContext(policy=policy or Policy(), lang=lang)
    mute_lines = active_mute_lines(mutes, now_ms, tz, lang)
    if not subs:
        return Message(
            title=lang._("No subscriptions"),
            lines=(
                lang._("This chat has no alerts yet."),
                lang._("Add one: /subscribe btc 1h 100m (coin, window, amount, optional side)."),
                *mute_lines,
            ),
        )
    chat_muted = None in mutes and mutes[None] > now_ms
    rows = []
    for s in subs:
        state = _state_label(states.get(s.id), ctx)
        if chat_muted or (mutes.get(s.coin, 0) > now_ms):
            state += lang._(", muted")
        coin = lang._("all") if s.coin == ALL else s.coin
        if s.venue:
            coin += f" ({s.venue})"
        if s.kind == "single":
            state = lang._("each one")
        elif s.id in waiting:
            state = lang._("waiting for history")
        rows.append(
            (
                "op*" if s.origin == "config" else f"#{number(s)}",
                coin,
                lang._("single") if s.kind == "single" else window_label(s.window),
                side_plural(s.side, lang),
                lang._("%(factor)sx usual", factor=f"{s.factor:g}")
                if s.factor is not None
                else format_threshold(s.threshold),
                state,
            )
        )
    own = [s for s in subs if s.origin != "config"]
    n = len(own)
    used = (
        lang._("%(n)d/%(cap)d used", n=n, cap=cap)
        if cap
        else lang.n_("%(n)d subscription", "%(n)d subscriptions", n)
    )
    notes = list(mute_lines)
    if any(s.origin == "config" for s in subs):
        notes.append(
            lang._("op*: a broadcast the operator set up (not in your numbers or your limit)")
        )
    in_topics = [s for s in subs if s.thread is not None]
    if in_topics:  # made in a forum topic: their alerts go there
        where = ", ".join(
            f"{'op*' if s.origin == 'config' else '#' + str(number(s))} in topic {s.thread}"
            for s in in_topics
        )
        notes.append(lang._("Alerting into forum topics: %(where)s", where=where))
    notes.append(ctx.rearm_note())
    return Message(
        title=lang._("Your subscriptions"),
        lines=tuple(notes),
        table=Table(
            ("#", lang._("Coin"), lang._("Win"), lang._("Side"), lang._("Above"), lang._("State")),
            tuple(rows),
            align=("l", "l", "l", "l", "r", "l"),
        ),
        footer=lang._("%(used)s · /unsubscribe <number> to remove · /mute 2h to pause", used=used),
    )


# ---- help, start, confirmations, errors ----------------------------------------------------


def _usage_line(spec: CommandSpec, lang: Lang) -> str:
    summary = lang._(spec.summary)
    return f"{spec.usage}: {summary[:1].lower() + summary[1:]}"


_HELP = (
    N_("Windows: 5m 15m 30m 1h 2h 4h 12h 24h (1d = 24h). Amounts: 250k, 100m, 1.5b, 1bn, $400M, 100 000."),
    N_("Order: coin, window, amount, side; another order works when it is unambiguous (/subscribe 1h btc 100m). Coins as tickers or pairs: btc, bitcoin, btc-usdt."),
    N_("Sides: long (longs liquidated, price fell), short (shorts liquidated, price rose), total (default)."),
    N_("Charts: /chart btc 24h, over 1h 2h 4h 12h 24h 3d 7d (default 24h)."),
    N_("Single big liquidations: /subscribe btc single 1m (each one of $1M or more; all for every coin). Venues: add 'on binance' (bybit, okx, bitget, bitmex, deribit, gate, htx) to any rule or /liqs."),
    N_("Relative: /subscribe btc 1h 3x fires at 3 times the usual for that hour of day (after 3 days of history). /backtest btc 1h 100m: how often it would have fired."),
    N_("Examples: /subscribe btc 1h 100m · /subscribe all 1h 400m shorts · /liqs eth 4h"),
    N_("Not sure of the syntax? /subscribe alone (Telegram, Discord) opens a guided form: coin, window, amount and side as buttons, then the typed line it runs."),
    N_("In groups and channels only admins can change alerts; anyone can read."),
    N_("Language: /lang ru (en, ru, es, zh); private chats follow your app's language until you set one, groups stay English until an admin does."),
)  # fmt: skip


def render_help(lang: Lang = EN) -> Message:
    return Message(
        title=lang._("Liquidation alerts: commands"),
        lines=(
            *(_usage_line(s, lang) for s in SPECS.values()),
            "",
            *(lang._(line) for line in _HELP),
        ),
        footer=lang._(FLOOR_NOTE),
    )


def render_start(resumed: bool = False, lang: Lang = EN) -> Message:
    lines = [
        lang._("I watch crypto futures liquidations and tell you when a wave crosses your line."),
        lang._("Try /liqs for the market now, or /subscribe btc 1h 100m for an alert."),
        lang._("/help lists every command."),
    ]
    if resumed:
        lines.insert(0, lang._("Your alerts are back on: this chat was paused and is now resumed."))
    title = lang._("Welcome back") if resumed else lang._("Liquidation alerts")
    return Message(title=title, lines=tuple(lines))


def render_error(err: CommandError, lang: Lang = EN) -> Message:
    lines = [upper_first(lang.text(TextError(err.msgid, **err.values)))]
    if err.usage:
        lines.append(lang._("Usage: %(usage)s", usage=err.usage))
    if err.example and err.example != err.usage:
        lines.append(lang._("Example: %(example)s", example=err.example))
    return Message(title=lang._("Not quite"), lines=tuple(lines), tone=Tone.ERROR, ephemeral=True)


def render_hint(lang: Lang = EN) -> Message:
    """Plain text in a private chat: what the bot does understand."""
    return Message(
        title=lang._("I answer commands"),
        lines=(lang._("Try /liqs btc for the market now, or /help for every command."),),
        ephemeral=True,
    )


def render_refused(hint: str, lang: Lang = EN) -> Message:
    return Message(
        title=lang._("Not allowed"),
        lines=(lang._("Only admins can change this chat's alerts: %(hint)s.", hint=lang._(hint)),),
        tone=Tone.ERROR,
        ephemeral=True,
    )


def render_apology(lang: Lang = EN) -> Message:
    return Message(
        title=lang._("Sorry, something went wrong"),
        lines=(lang._("That command failed on our side. Please try again in a minute."),),
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
    lang: Lang = EN,
) -> Message:
    """Restates the rule in words, with the series' current value when known.

    `extra`: lines about the rule's kind (what "usual" is, the backtest), after the rule.
    """
    lines = [f"#{number(sub)} {describe_sub(sub, lang)}", *extra]
    if current is not None and sub.kind == "window" and sub.factor is None:
        lines.append(
            lang._(
                "Now: %(usd)s (%(share)s of the threshold)",
                usd=format_usd(current),
                share=percent(current, sub.threshold),
            )
        )
        if current >= sub.threshold:
            lines.append(
                lang._(
                    "Warning: this fires now: the current total is already above your amount. "
                    "Pick a higher amount for alerts on the next wave only."
                )
            )
    if not served and sub.kind == "window":
        lines.append(
            lang._(
                "Warning: the current sources cannot serve the %(window)s window; "
                "this alert stays silent until one can.",
                window=window_label(sub.window),
            )
        )
    if note:
        lines.append(note)
    footer = (
        lang._("%(n)d/%(cap)d used", n=used, cap=cap) + f" · /list · /unsubscribe {number(sub)}"
        if used and cap
        else "/list"
    )
    return Message(title=lang._("Subscribed"), lines=tuple(lines), footer=footer)


def render_duplicate(existing: Subscription, lang: Lang = EN) -> Message:
    return Message(
        title=lang._("Already subscribed"),
        lines=(
            lang._(
                "#%(number)d is the same rule: %(rule)s.",
                number=number(existing),
                rule=describe_sub(existing, lang),
            ),
        ),
        tone=Tone.ERROR,
        ephemeral=True,
    )


def render_at_cap(cap: int, lang: Lang = EN) -> Message:
    return Message(
        title=lang._("Subscription limit reached"),
        lines=(
            lang._(
                "This chat has %(cap)d subscriptions, the limit (broadcasts do not count).",
                cap=cap,
            ),
            lang._("Free a slot with /unsubscribe <number> (see /list for the numbers)."),
        ),
        tone=Tone.ERROR,
        ephemeral=True,
    )


def render_unsubscribed(
    removed: Sequence[int],
    unknown: Sequence[int],
    own: Sequence[int],
    broadcasts: bool = False,
    lang: Lang = EN,
) -> Message:
    """Removed numbers, and numbers this chat does not have (never revealing any other chat's)."""
    lines = []
    if removed:
        lines.append(lang._("Removed %(numbers)s.", numbers=", ".join(f"#{i}" for i in removed)))
    if unknown:
        yours = ", ".join(f"#{i}" for i in own[:60]) if own else lang._("none")
        lines.append(
            lang._(
                "Not found in this chat: %(numbers)s. Yours: %(yours)s.",
                numbers=", ".join(f"#{i}" for i in unknown),
                yours=yours,
            )
        )
        if broadcasts:
            lines.append(lang._("The op* broadcasts are the operator's: /mute silences them."))
    return Message(
        title=lang._("Unsubscribed") if removed else lang._("Nothing removed"),
        lines=tuple(lines),
        tone=Tone.INFO if removed else Tone.ERROR,
        ephemeral=not removed,
    )


def render_unsubscribed_all(count: int, lang: Lang = EN) -> Message:
    if count == 0:
        return Message(
            title=lang._("Nothing to remove"), lines=(lang._("This chat has no subscriptions."),)
        )
    return Message(
        title=lang._("Unsubscribed"),
        lines=(
            lang.n_("Removed the %(n)d subscription.", "Removed all %(n)d subscriptions.", count),
        ),
    )


def render_muted(
    coin: str | None, until_ms: int, now_ms: int, tz: ZoneInfo | None = None, lang: Lang = EN
) -> Message:
    values = {"until": hhmm(until_ms, now_ms, tz, lang), "left": time_left(until_ms, now_ms)}
    if coin is None:
        line = lang._("All alerts of this chat are muted until %(until)s (%(left)s).", **values)
    else:
        line = lang._(
            "%(coin)s alerts are muted until %(until)s (%(left)s).",
            coin=coin_label(coin, lang),
            **values,
        )
    return Message(title=lang._("Muted"), lines=(line, lang._("/unmute ends it early.")))


def render_tz(tz: ZoneInfo | None, now_ms: int, *, changed: bool, lang: Lang = EN) -> Message:
    """/tz: the chat's zone and the time there now."""
    values = {"zone": tz.key if tz is not None else "UTC", "now": hhmm(now_ms, tz=tz, lang=lang)}
    head = (
        lang._("Times in this chat are now shown in %(zone)s; it is %(now)s there.", **values)
        if changed
        else lang._("Time zone: %(zone)s; it is %(now)s there.", **values)
    )
    return Message(
        title=lang._("Time zone"),
        lines=(head, lang._("Change it with /tz Europe/Berlin (any IANA name), or /tz UTC.")),
    )


def render_lang(lang: Lang, *, chosen: bool, changed: bool) -> Message:
    """/lang: the chat's language (in it), whether it was chosen or is the default, the choices."""
    name = NAMES[lang.code]
    if changed:
        head = lang._("This chat now speaks %(name)s.", name=name)
    elif chosen:
        head = lang._("Language: %(name)s (set with /lang).", name=name)
    else:
        head = lang._("Language: %(name)s (the default).", name=name)
    choices = ", ".join(f"{code} {NAMES[code]}" for code in NAMES)
    return Message(
        title=lang._("Language"),
        lines=(
            head,
            lang._("Choices: %(choices)s. /lang auto goes back to the default.", choices=choices),
            lang._(
                "The default: a private chat follows the language of your Telegram app; "
                "groups and channels stay in English until an admin sets one."
            ),
        ),
    )


def render_unmuted(coin: str | None, cleared: int, lang: Lang = EN) -> Message:
    if cleared == 0:
        what = lang._("this chat") if coin is None else coin_label(coin, lang)
        return Message(
            title=lang._("Nothing to unmute"),
            lines=(lang._("No active mute for %(what)s.", what=what),),
        )
    line = (
        lang._("All alerts are back on.")
        if coin is None
        else lang._("%(coin)s alerts are back on.", coin=coin_label(coin, lang))
    )
    return Message(title=lang._("Unmuted"), lines=(line,))
