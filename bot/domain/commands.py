"""The command grammar: chat text in, one platform-neutral Command out (or a CommandError).

The grammar is positional (`/subscribe <coin> <window> <amount> [side]`), because `5m` is both a
window and an amount: position decides. Common mistakes are recognised only to explain them well.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from bot.domain.chart import DEFAULT_CHART_WINDOW, parse_chart_window
from bot.domain.digest import DigestCommand, DigestError, parse_digest_args
from bot.domain.market import (
    KNOWN_COINS,
    MarketError,
    is_side_word,
    looks_like_window,
    parse_duration,
    parse_side,
    parse_window,
    resolve_coin,
)
from bot.domain.models import ALL, Side
from bot.domain.money import MoneyError, format_threshold, parse_money
from bot.domain.typed_input import (
    clean,
    join_digit_groups,
    pair_coin,
    shorten,
    unambiguous_order,
)

MIN_THRESHOLD = 1_000.0  # below $1K every single liquidation would fire: almost surely a typo
MAX_IDS = 50  # ids in one /unsubscribe
MAX_ARG_CHARS = 40  # no valid argument is longer; keeps errors from echoing a wall of text


class CommandError(ValueError):
    """A malformed command, with the correct form and an example, fit for a user."""

    def __init__(self, message: str, usage: str = "", example: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.example = example


class NotACommandError(CommandError):
    """Text that starts with a slash but is no command (`/`, `//`, a path). Like another bot's
    command, it is left unanswered in a group; a private chat gets this hint."""


class UnknownCommandError(CommandError):
    """A command we do not have. In a group it may be another bot's: see `addressed`."""

    def __init__(self, message: str, usage: str, example: str, addressed: bool) -> None:
        super().__init__(message, usage, example)
        self.addressed = addressed  # written as /cmd@ourbot


# ---- the commands --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    pass


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Subscribe:
    coin: str  # "BTC" ... or ALL
    window: int  # minutes
    threshold: float  # USD (for a relative rule: 0, the factor decides)
    side: Side = Side.TOTAL
    venue: str | None = None  # "binance": that venue only
    single: bool = False  # each single liquidation >= threshold (window is 0)
    factor: float | None = None  # relative: `3x` what is usual for the coin, window and hour


@dataclass(frozen=True, slots=True)
class Backtest:
    """How often a rule would have fired over the stored history, without subscribing."""

    rule: Subscribe


@dataclass(frozen=True, slots=True)
class Top:
    window: int = 60  # minutes


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    ids: tuple[int, ...] = ()
    all: bool = False


@dataclass(frozen=True, slots=True)
class ListSubs:
    pass


@dataclass(frozen=True, slots=True)
class Mute:
    coin: str | None  # None: the whole chat
    seconds: int


@dataclass(frozen=True, slots=True)
class Unmute:
    coin: str | None  # None: every mute of the chat


@dataclass(frozen=True, slots=True)
class Liqs:
    coin: str = ALL
    window: int | None = None  # None: the 1h/4h/12h/24h table
    venue: str | None = None  # one venue's figures only
    compare: bool = False  # our streams' totals beside CoinGlass's (`/liqs compare`)


@dataclass(frozen=True, slots=True)
class Chart:
    coin: str  # "BTC" ... or ALL
    window: int = DEFAULT_CHART_WINDOW  # minutes: one of bot.domain.chart.CHART_BUCKETS


@dataclass(frozen=True, slots=True)
class Status:
    pass


@dataclass(frozen=True, slots=True)
class TestMessage:
    """/test: a test message to this chat, through the outbox like an alert."""


Command = (
    Start
    | Help
    | Subscribe
    | Unsubscribe
    | ListSubs
    | Mute
    | Unmute
    | Liqs
    | Chart
    | Status
    | DigestCommand
    | TestMessage
    | Top
    | Backtest
)


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
            "Liquidations now: 1h/4h/12h/24h",
        ),
        CommandSpec("top", "/top [window]", "/top 4h", "The coins with the most liquidated"),
        CommandSpec(
            "chart",
            "/chart <coin|all> [window]",
            "/chart btc 24h",
            "A picture: longs and shorts over 1h-7d",
        ),
        CommandSpec(
            "subscribe",
            "/subscribe <coin|all> <window|single> <amount|3x> [long|short|total] [on venue]",
            "/subscribe btc 1h 100m",
            "Alert me when liquidations cross an amount",
        ),
        CommandSpec(
            "backtest",
            "/backtest <coin|all> <window> <amount|3x> [side] [on venue]",
            "/backtest btc 1h 100m",
            "How often a rule would have fired (last 7 days)",
        ),
        CommandSpec("list", "/list", "/list", "My subscriptions and mutes"),
        CommandSpec(
            "unsubscribe", "/unsubscribe <number ...|all>", "/unsubscribe 3", "Remove subscriptions"
        ),
        CommandSpec("mute", "/mute [coin] <duration>", "/mute 2h", "Silence alerts for a while"),
        CommandSpec("unmute", "/unmute [coin]", "/unmute", "End a mute"),
        CommandSpec("status", "/status", "/status", "Data sources and this chat's state"),
        CommandSpec(
            "digest",
            "/digest <HH:MM> [time zone] | off",
            "/digest 08:00 Europe/Berlin",
            "A daily summary at a local time",
        ),
        CommandSpec("test", "/test", "/test", "Send a test alert to this chat"),
        CommandSpec("help", "/help", "/help", "How to use the bot"),
        CommandSpec("start", "/start", "/start", "Start (or resume) alerts in this chat"),
    )
}

ALIASES: dict[str, str] = {
    "sub": "subscribe",
    "unsub": "unsubscribe",
    "subs": "list",
    "liq": "liqs",
}

# One token of a command: `/name` or `/name@bot`. Anything else starting with "/" (a path, a
# lone slash) is not a command.
_HEAD = re.compile(r"^/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]{1,64}))?$")
# The coins of the current parse, so every helper sees them without threading an argument.
_KNOWN: ContextVar[frozenset[str]] = ContextVar("known_coins", default=frozenset())
_ID = re.compile(r"^#?([0-9]+)$")


def _err(name: str, message: str) -> CommandError:
    spec = SPECS[name]
    return CommandError(message, spec.usage, spec.example)


def parse_command(
    text: str, bot_username: str | None = None, known_coins: frozenset[str] = frozenset()
) -> Command | None:
    """Parse chat text. None if it is not a command (or is addressed to another bot).

    `known_coins` adds coins the sources have seen to the built-in list. Raises CommandError,
    and nothing else, for a malformed or unknown command.
    """
    tokens = clean(text).split()
    if not tokens or not tokens[0].startswith("/"):
        return None
    head = _HEAD.match(tokens[0])
    if head is None:
        raise _not_a_command(tokens[0])
    name, mention = head.group(1).lower(), head.group(2)
    if mention and bot_username and mention.lower() != bot_username.lstrip("@").lower():
        return None  # /cmd@otherbot in a group: not ours to answer
    name = ALIASES.get(name, name)
    args = tokens[1:]
    parser = _PARSERS.get(name)
    if parser is not None and any(len(a) > MAX_ARG_CHARS for a in args):
        raise _err(name, f"an argument is too long (over {MAX_ARG_CHARS} characters)")
    if parser is None:
        names = ", ".join(f"/{n}" for n in SPECS)
        raise UnknownCommandError(
            f"unknown command /{shorten(head.group(1))}; the commands are {names}",
            "/help",
            "/liqs btc",
            addressed=mention is not None,
        )
    token = _KNOWN.set(known_coins)
    try:
        return parser(args)
    finally:
        _KNOWN.reset(token)


def _not_a_command(token: str) -> NotACommandError:
    what = "A lone slash is" if token == "/" else f"'{shorten(token)}' is"
    return NotACommandError(
        f"{what} not a command; write the command's name right after the slash",
        "/help",
        "/liqs btc",
    )


# ---- per-command parsers -------------------------------------------------------------------


def _no_args(name: str, cmd: Command) -> Callable[[list[str]], Command]:
    def parse(args: list[str]) -> Command:
        if args and name not in ("start", "help"):  # /start <payload> from deep links is fine
            raise _err(name, f"/{name} takes no arguments")
        return cmd

    return parse


def _coin(name: str, token: str) -> str:
    known = _KNOWN.get() or KNOWN_COINS
    try:
        return resolve_coin(token, known)
    except MarketError as e:
        pair = pair_coin(token, known)
        if pair is not None:
            return pair
        raise _err(name, str(e)) from None


def _window(name: str, token: str) -> int:
    try:
        return parse_window(token)
    except MarketError as e:
        raise _err(name, str(e)) from None


def _is_window(token: str) -> bool:
    try:
        parse_window(token)
    except MarketError:
        return False
    return True


def _is_money(token: str) -> bool:
    try:
        parse_money(token)
    except MoneyError:
        return False
    return True


_ROLES = ("coin", "window", "amount", "side")


def _roles(token: str) -> set[str]:
    roles = set()
    if _is_coin(token):
        roles.add("coin")
    if _is_window(token):
        roles.add("window")
    if _is_money(token):
        roles.add("amount")
    if is_side_word(token) or token.strip().lower() == "all":
        roles.add("side")
    if _factor(token) is not None:
        roles.add("amount")
    return roles


# the venues the bot streams: what a filter can name (`on gate`); the first three also bare
# (`/liqs btc bybit`): the others' names are, or may become, coins (HTX is one)
VENUES = ("binance", "bybit", "okx", "bitget", "bitmex", "deribit", "gate", "htx")
BARE_VENUES = VENUES[:3]
SINGLE_WORDS = ("single", "each")  # `/subscribe btc single 1m`
MIN_FACTOR, MAX_FACTOR = 1.1, 50.0
_FACTOR = re.compile(r"^([0-9]+(?:\.[0-9]+)?)[x×]$", re.IGNORECASE)


def _factor(token: str) -> float | None:
    m = _FACTOR.match(token.strip())
    return float(m.group(1)) if m else None


def _take_venue(name: str, args: list[str]) -> tuple[list[str], str | None]:
    """`... on binance` (or a bare venue name): the venue filter, and the other arguments."""
    venue = None
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i].lower()
        nxt = args[i + 1].lower() if i + 1 < len(args) else None
        if a == "on" and nxt is not None:
            if nxt not in VENUES:
                raise _err(
                    name, f"unknown venue '{shorten(args[i + 1])}'; venues: {', '.join(VENUES)}"
                )
            chosen, i = nxt, i + 2
        elif a in BARE_VENUES:
            chosen, i = a, i + 1
        else:
            out.append(args[i])
            i += 1
            continue
        if venue is not None and venue != chosen:
            raise _err(name, "give one venue at most")
        venue = chosen
    if args and args[-1].lower() == "on":
        raise _err(name, f"on which venue? {', '.join(VENUES)}")
    return out, venue


def _parse_single(args: list[str], venue: str | None) -> Subscribe:
    """`/subscribe btc single 1m [side]`: every liquidation of at least 1m."""
    n = "subscribe"
    rest = [a for a in args if a.lower() not in SINGLE_WORDS]
    if len(rest) < 2:
        raise _err(
            n, "say which coin and the smallest single liquidation: /subscribe btc single 1m"
        )
    if len(rest) > 3:
        raise _err(n, "too many arguments; a single-liquidation rule takes coin, amount, side")
    coin = _coin(n, rest[0])
    try:
        threshold = parse_money(rest[1])
    except MoneyError as e:
        raise _err(n, f"bad amount: {e}") from None
    if threshold < MIN_SINGLE:
        raise _err(
            n,
            f"{format_threshold(threshold)} is too small for single liquidations: "
            f"the smallest is {format_threshold(MIN_SINGLE)}",
        )
    side = Side.TOTAL
    if len(rest) == 3:
        try:
            side = parse_side(rest[2])
        except MarketError as e:
            raise _err(n, str(e)) from None
    return Subscribe(coin, 0, threshold, side, venue=venue, single=True)


MIN_SINGLE = 10_000.0  # below $10K single liquidations arrive every second: a flood, not news


def _parse_subscribe(args: list[str]) -> Subscribe:
    n = "subscribe"
    args, venue = _take_venue(n, join_digit_groups(args))
    if any(a.lower() in SINGLE_WORDS for a in args):
        return _parse_single(args, venue)
    if len(args) > 4:
        raise _err(n, f"too many arguments ({len(args)}); /subscribe takes at most 4")
    if len(args) < 3:
        if not args:
            raise _err(n, "say which coin, over which window, above which amount")
        missing = "window and amount are"
        if len(args) == 2:
            if _is_window(args[1]):
                missing = "amount is"
            elif _is_money(args[1]):
                missing = "window is"
        raise _err(n, f"the {missing} missing")
    args = unambiguous_order(args, _roles, _ROLES) or args
    coin_t, window_t, amount_t = args[0], args[1], args[2]
    if _is_window(coin_t) or (_is_money(coin_t) and not _is_coin(coin_t)):
        raise _err(n, f"the coin comes first, not '{shorten(coin_t)}'")
    coin = _coin(n, coin_t)
    if not _is_window(window_t):
        if is_side_word(window_t):
            raise _err(n, "the side (long, short, total) comes last, after the amount")
        if _is_money(window_t) and (is_side_word(amount_t) or not looks_like_window(window_t)):
            raise _err(n, f"'{shorten(window_t)}' looks like an amount; the window is missing")
    window = _window(n, window_t)
    if not _is_money(amount_t) and _is_window(amount_t):
        raise _err(n, f"'{amount_t}' is a window; the amount comes third, like 100m")
    factor = _factor(amount_t)
    if factor is not None:
        if not MIN_FACTOR <= factor <= MAX_FACTOR:
            raise _err(n, f"the multiple goes from {MIN_FACTOR:g}x to {MAX_FACTOR:g}x")
        return Subscribe(coin, window, 0.0, _side(n, args), venue=venue, factor=factor)
    try:
        threshold = parse_money(amount_t)
    except MoneyError as e:
        raise _err(n, f"bad amount: {e}") from None
    if threshold < MIN_THRESHOLD:
        bare = re.fullmatch(r"\$?\d+(\.\d+)?", amount_t) is not None
        hint = f" (did you mean {amount_t.lstrip('$')}m?)" if bare else ""
        raise _err(
            n,
            f"{format_threshold(threshold)} is too small: the smallest amount is "
            f"{format_threshold(MIN_THRESHOLD)}{hint}",
        )
    return Subscribe(coin, window, threshold, _side(n, args), venue=venue)


def _side(n: str, args: list[str]) -> Side:
    if len(args) < 4:
        return Side.TOTAL
    try:
        return parse_side(args[3])
    except MarketError as e:
        raise _err(n, str(e)) from None


def _parse_backtest(args: list[str]) -> Backtest:
    try:
        return Backtest(_parse_subscribe(args))
    except CommandError as e:
        spec = SPECS["backtest"]
        raise CommandError(e.message, spec.usage, spec.example) from None


def _parse_top(args: list[str]) -> Top:
    n = "top"
    if len(args) > 1:
        raise _err(n, f"too many arguments ({len(args)}); /top takes a window")
    return Top(_window(n, args[0]) if args else 60)


def _is_coin(token: str) -> bool:
    try:
        _coin("liqs", token)
    except CommandError:
        return False
    return True


def _parse_unsubscribe(args: list[str]) -> Unsubscribe:
    n = "unsubscribe"
    parts = [p for a in args for p in a.split(",") if p]
    if not parts:
        raise _err(n, "say which subscription to remove (its id from /list), or all")
    if any(p.lower() == "all" for p in parts):
        if len(parts) > 1:
            raise _err(n, "give either ids or all, not both")
        return Unsubscribe((), all=True)
    if len(parts) > MAX_IDS:
        raise _err(n, f"too many ids ({len(parts)}); at most {MAX_IDS} at once, or all")
    ids: list[int] = []
    for p in parts:
        m = _ID.match(p)
        if m is None:
            raise _err(n, f"'{shorten(p)}' is not a subscription number; see /list for yours")
        i = int(m.group(1))
        if i not in ids:
            ids.append(i)
    return Unsubscribe(tuple(ids), all=False)


def _duration(name: str, token: str) -> int:
    try:
        return parse_duration(token)
    except (MarketError, OverflowError) as e:  # OverflowError: a huge number of digits
        msg = str(e) if isinstance(e, MarketError) else f"'{token}' is too long a duration"
        raise _err(name, msg) from None


def _mute_coin(name: str, token: str) -> str | None:
    coin = _coin(name, token)
    return None if coin == ALL else coin  # "all" means the whole chat


def _is_duration(token: str) -> bool:
    try:
        parse_duration(token)
    except (MarketError, OverflowError):
        return False
    return True


def _parse_mute(args: list[str]) -> Mute:
    n = "mute"
    if not args:
        raise _err(n, "say for how long, like 2h")
    if len(args) > 2:
        raise _err(n, f"too many arguments ({len(args)}); /mute takes a coin and a duration")
    if len(args) == 1:
        if not _is_duration(args[0]) and _is_coin(args[0]):
            raise _err(n, f"for how long? add a duration: /mute {args[0]} 2h")
        seconds = _duration(n, args[0])
        return Mute(None, seconds)
    a, b = args
    if _is_duration(a) and not _is_duration(b):
        a, b = b, a  # /mute 2h btc: unambiguous, accept it
    coin = _mute_coin(n, a)
    return Mute(coin, _duration(n, b))


def _parse_unmute(args: list[str]) -> Unmute:
    n = "unmute"
    if len(args) > 1:
        raise _err(n, f"too many arguments ({len(args)}); /unmute takes at most a coin")
    return Unmute(_mute_coin(n, args[0]) if args else None)


def _parse_liqs(args: list[str]) -> Liqs:
    n = "liqs"
    compare = any(a.lower() == "compare" for a in args)
    args = [a for a in args if a.lower() != "compare"]
    args, venue = _take_venue(n, args)
    if compare:
        if venue is not None:
            raise _err(n, "compare sets all our streams beside CoinGlass; leave the venue out")
        if len(args) > 1:
            raise _err(n, "compare takes a coin at most: /liqs compare or /liqs btc compare")
        if args and (_is_window(args[0]) or (looks_like_window(args[0]) and not _is_coin(args[0]))):
            raise _err(n, "compare shows 1h, 4h, 12h and 24h together; leave the window out")
        return Liqs(_coin(n, args[0]) if args else ALL, None, None, compare=True)
    if len(args) > 2:
        raise _err(n, f"too many arguments ({len(args)}); /liqs takes a coin and a window")
    coin: str | None = None
    window: int | None = None
    for a in args:
        if _is_window(a) or (looks_like_window(a) and not _is_coin(a)):
            if window is not None:
                raise _err(n, "give one window at most")
            window = _window(n, a)
        else:
            if coin is not None:
                raise _err(n, "give one coin at most")
            coin = _coin(n, a)
    return Liqs(coin if coin is not None else ALL, window, venue)


def _is_chart_window(token: str) -> bool:
    try:
        parse_chart_window(token)
    except MarketError:
        return False
    return True


def _parse_chart(args: list[str]) -> Chart:
    n = "chart"
    if not args:
        raise _err(n, "say which coin, or all for the whole market")
    if len(args) > 2:
        raise _err(n, f"too many arguments ({len(args)}); /chart takes a coin and a window")
    coin: str | None = None
    window: int | None = None
    for a in args:
        if _is_chart_window(a) or (looks_like_window(a) and not _is_coin(a)):
            if window is not None:
                raise _err(n, "give one window at most")
            try:
                window = parse_chart_window(a)
            except MarketError as e:
                raise _err(n, str(e)) from None
        else:
            if coin is not None:
                raise _err(n, "give one coin at most")
            coin = _coin(n, a)
    if coin is None:
        raise _err(n, "say which coin, or all for the whole market")
    return Chart(coin, window if window is not None else DEFAULT_CHART_WINDOW)


def _parse_digest(args: list[str]) -> DigestCommand:
    try:
        return parse_digest_args(args)
    except DigestError as e:
        raise _err("digest", str(e)) from None


_PARSERS = {
    "digest": _parse_digest,
    "test": _no_args("test", TestMessage()),
    "start": _no_args("start", Start()),
    "help": _no_args("help", Help()),
    "list": _no_args("list", ListSubs()),
    "status": _no_args("status", Status()),
    "subscribe": _parse_subscribe,
    "unsubscribe": _parse_unsubscribe,
    "mute": _parse_mute,
    "unmute": _parse_unmute,
    "liqs": _parse_liqs,
    "chart": _parse_chart,
    "top": _parse_top,
    "backtest": _parse_backtest,
}
