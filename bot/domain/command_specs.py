"""Each command's name, usage line, example and one-line summary: what /help, the errors and the
platforms' command menus show."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.command_types import CommandError
from bot.domain.i18n import N_, TextError


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    usage: str
    example: str
    summary: str  # one line for menus (setMyCommands, slash commands)


SPECS: dict[str, CommandSpec] = {
    s.name: s
    for s in (
        CommandSpec(
            "liqs",
            "/liqs [coin] [window] [on venue] | [coin] compare",
            "/liqs btc 4h",
            N_("Liquidations now: 1h/4h/12h/24h"),
        ),
        CommandSpec("top", "/top [window]", "/top 4h", N_("The coins with the most liquidated")),
        CommandSpec(
            "chart",
            "/chart <coin|all> [window]",
            "/chart btc 24h",
            N_("A picture: longs and shorts over 1h-7d"),
        ),
        CommandSpec(
            "subscribe",
            "/subscribe <coin|all> <window|single> <amount|3x> [long|short|total] [on venue]",
            "/subscribe btc 1h 100m",
            N_("Alert me when liquidations cross an amount"),
        ),
        CommandSpec(
            "backtest",
            "/backtest <coin|all> <window> <amount|3x> [side] [on venue]",
            "/backtest btc 1h 100m",
            N_("How often a rule would have fired (7 days; 30 with CoinGlass)"),
        ),
        CommandSpec("list", "/list", "/list", N_("My subscriptions and mutes")),
        CommandSpec(
            "unsubscribe",
            "/unsubscribe <number ...|all>",
            "/unsubscribe 3",
            N_("Remove subscriptions"),
        ),
        CommandSpec(
            "export", "/export", "/export", N_("This chat's rules as text to paste into /import")
        ),
        CommandSpec(
            "import",
            "/import <the text /export gave>",
            "/import /subscribe btc 1h 100m",
            N_("Add the rules of an /export"),
        ),
        CommandSpec(
            "mute", "/mute [coin] <duration>", "/mute 2h", N_("Silence alerts for a while")
        ),
        CommandSpec("unmute", "/unmute [coin]", "/unmute", N_("End a mute")),
        CommandSpec("status", "/status", "/status", N_("Data sources and this chat's state")),
        CommandSpec(
            "digest",
            "/digest <HH:MM> [time zone] | off",
            "/digest 08:00 Europe/Berlin",
            N_("A daily summary at a local time"),
        ),
        CommandSpec(
            "tz",
            "/tz [time zone]",
            "/tz Europe/Berlin",
            N_("This chat's time zone for the times the bot shows"),
        ),
        CommandSpec(
            "quiet",
            "/quiet [HH:MM-HH:MM [except big] | off]",
            "/quiet 23:00-07:00 except big",
            N_("Alerts without sound at night (this chat's time)"),
        ),
        CommandSpec(
            "lang",
            "/lang [en|ru|es|zh|auto]",
            "/lang ru",
            N_("This chat's language: English, Русский, Español, 简体中文"),
        ),
        CommandSpec("test", "/test", "/test", N_("Send a test alert to this chat")),
        CommandSpec("help", "/help", "/help", N_("How to use the bot")),
        CommandSpec("start", "/start", "/start", N_("Start (or resume) alerts in this chat")),
    )
}

ALIASES: dict[str, str] = {
    "sub": "subscribe",
    "unsub": "unsubscribe",
    "subs": "list",
    "liq": "liqs",
}


def usage_error(name: str, message: str | TextError, **values: object) -> CommandError:
    """A CommandError for command `name`, with its usage line and example. `message`: the
    msgid (English, marked with N_), with %(name)s placeholders filled from `values` in the
    chat's language; or a reader's TextError (its msgid and values)."""
    spec = SPECS[name]
    if isinstance(message, TextError):
        return CommandError(message.msgid, spec.usage, spec.example, {**message.values, **values})
    return CommandError(message, spec.usage, spec.example, values)
