"""The command grammar: chat text in, one platform-neutral Command out (or a CommandError).

`parse_command` is the entry point: it finds the command's name, then hands the arguments to that
command's parser. What a command is lives in command_types, its usage in command_specs, the
argument readers in command_args, and the /subscribe and /backtest grammar in subscribe_parser.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.domain.chart import DEFAULT_CHART_WINDOW, parse_chart_window
from bot.domain.command_args import (
    coin_arg,
    coins_known,
    duration_arg,
    is_coin,
    is_duration,
    is_window,
    take_venue,
    window_arg,
)
from bot.domain.command_specs import ALIASES, SPECS, usage_error
from bot.domain.command_types import (
    Chart,
    Command,
    ExportRules,
    Help,
    Liqs,
    ListSubs,
    Mute,
    NotACommandError,
    SetLang,
    SetQuiet,
    SetTz,
    Start,
    Status,
    SubscribeGuide,
    TestMessage,
    Top,
    UnknownCommandError,
    Unmute,
    Unsubscribe,
)
from bot.domain.digest import DigestCommand, DigestError, parse_digest_args, parse_zone
from bot.domain.i18n import N_, match_language
from bot.domain.market import MarketError, looks_like_window
from bot.domain.models import ALL
from bot.domain.quiet import QuietError, parse_quiet
from bot.domain.rule_export import parse_import
from bot.domain.subscribe_parser import parse_backtest, parse_subscribe
from bot.domain.typed_input import clean, shorten

MAX_IDS = 50  # ids in one /unsubscribe
MAX_IMPORT = 200  # rules in one /import (the chat's own cap applies when they are added)
MAX_ARG_CHARS = 40  # no valid argument is longer; keeps errors from echoing a wall of text

# One token of a command: `/name` or `/name@bot`. Anything else starting with "/" (a path, a
# lone slash) is not a command.
_HEAD = re.compile(r"^/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]{1,64}))?$")
_ID = re.compile(r"^#?([0-9]+)$")


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
    if name == "import":  # pasted lines: each rule ends with its line
        with coins_known(known_coins):
            return parse_import(clean(text).strip()[len(tokens[0]) :], MAX_IMPORT)
    args = tokens[1:]
    parser = _PARSERS.get(name)
    if parser is not None and any(len(a) > MAX_ARG_CHARS for a in args):
        raise usage_error(
            name, N_("an argument is too long (over %(max)d characters)"), max=MAX_ARG_CHARS
        )
    if parser is None:
        names = ", ".join(f"/{n}" for n in SPECS)
        raise UnknownCommandError(
            N_("unknown command /%(name)s; the commands are %(names)s"),
            "/help",
            "/liqs btc",
            {"name": shorten(head.group(1)), "names": names},
            addressed=mention is not None,
        )
    with coins_known(known_coins):
        return parser(args)


def _not_a_command(token: str) -> NotACommandError:
    if token == "/":
        return NotACommandError(
            N_("A lone slash is not a command; write the command's name right after the slash"),
            "/help",
            "/liqs btc",
        )
    return NotACommandError(
        N_("'%(text)s' is not a command; write the command's name right after the slash"),
        "/help",
        "/liqs btc",
        {"text": shorten(token)},
    )


def _no_args(name: str, cmd: Command) -> Callable[[list[str]], Command]:
    def parse(args: list[str]) -> Command:
        if args and name not in ("start", "help"):  # /start <payload> from deep links is fine
            raise usage_error(name, N_("/%(command)s takes no arguments"), command=name)
        return cmd

    return parse


def _parse_top(args: list[str]) -> Top:
    n = "top"
    if len(args) > 1:
        raise usage_error(
            n, N_("too many arguments (%(count)d); /top takes a window"), count=len(args)
        )
    return Top(window_arg(n, args[0]) if args else 60)


def _parse_unsubscribe(args: list[str]) -> Unsubscribe:
    n = "unsubscribe"
    parts = [p for a in args for p in a.split(",") if p]
    if not parts:
        raise usage_error(n, N_("say which subscription to remove (its id from /list), or all"))
    if any(p.lower() == "all" for p in parts):
        if len(parts) > 1:
            raise usage_error(n, N_("give either ids or all, not both"))
        return Unsubscribe((), all=True)
    if len(parts) > MAX_IDS:
        raise usage_error(
            n,
            N_("too many ids (%(count)d); at most %(max)d at once, or all"),
            count=len(parts),
            max=MAX_IDS,
        )
    ids: list[int] = []
    for p in parts:
        m = _ID.match(p)
        if m is None:
            raise usage_error(
                n,
                N_("'%(text)s' is not a subscription number; see /list for yours"),
                text=shorten(p),
            )
        i = int(m.group(1))
        if i not in ids:
            ids.append(i)
    return Unsubscribe(tuple(ids), all=False)


def _mute_coin(name: str, token: str) -> str | None:
    coin = coin_arg(name, token)
    return None if coin == ALL else coin  # "all" means the whole chat


def _parse_mute(args: list[str]) -> Mute:
    n = "mute"
    if not args:
        raise usage_error(n, N_("say for how long, like 2h"))
    if len(args) > 2:
        raise usage_error(
            n,
            N_("too many arguments (%(count)d); /mute takes a coin and a duration"),
            count=len(args),
        )
    if len(args) == 1:
        if not is_duration(args[0]) and is_coin(args[0]):
            raise usage_error(
                n, N_("for how long? add a duration: /mute %(coin)s 2h"), coin=args[0]
            )
        seconds = duration_arg(n, args[0])
        return Mute(None, seconds)
    a, b = args
    if is_duration(a) and not is_duration(b):
        a, b = b, a  # /mute 2h btc: unambiguous, accept it
    coin = _mute_coin(n, a)
    return Mute(coin, duration_arg(n, b))


def _parse_unmute(args: list[str]) -> Unmute:
    n = "unmute"
    if len(args) > 1:
        raise usage_error(
            n, N_("too many arguments (%(count)d); /unmute takes at most a coin"), count=len(args)
        )
    return Unmute(_mute_coin(n, args[0]) if args else None)


def _parse_liqs(args: list[str]) -> Liqs:
    n = "liqs"
    compare = any(a.lower() == "compare" for a in args)
    args = [a for a in args if a.lower() != "compare"]
    args, venue = take_venue(n, args)
    if compare:
        if venue is not None:
            raise usage_error(
                n, N_("compare sets all our streams beside CoinGlass; leave the venue out")
            )
        if any(is_window(a) or (looks_like_window(a) and not is_coin(a)) for a in args):
            raise usage_error(
                n, N_("compare shows 1h, 4h, 12h and 24h together; leave the window out")
            )
        if len(args) > 1:
            raise usage_error(
                n, N_("compare takes a coin at most: /liqs compare or /liqs btc compare")
            )
        return Liqs(coin_arg(n, args[0]) if args else ALL, None, None, compare=True)
    if len(args) > 2:
        raise usage_error(
            n,
            N_("too many arguments (%(count)d); /liqs takes a coin and a window"),
            count=len(args),
        )
    coin: str | None = None
    window: int | None = None
    for a in args:
        if is_window(a) or (looks_like_window(a) and not is_coin(a)):
            if window is not None:
                raise usage_error(n, N_("give one window at most"))
            window = window_arg(n, a)
        else:
            if coin is not None:
                raise usage_error(n, N_("give one coin at most"))
            coin = coin_arg(n, a)
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
        raise usage_error(n, N_("say which coin, or all for the whole market"))
    if len(args) > 2:
        raise usage_error(
            n,
            N_("too many arguments (%(count)d); /chart takes a coin and a window"),
            count=len(args),
        )
    coin: str | None = None
    window: int | None = None
    for a in args:
        if _is_chart_window(a) or (looks_like_window(a) and not is_coin(a)):
            if window is not None:
                raise usage_error(n, N_("give one window at most"))
            try:
                window = parse_chart_window(a)
            except MarketError as e:
                raise usage_error(n, e) from None
        else:
            if coin is not None:
                raise usage_error(n, N_("give one coin at most"))
            coin = coin_arg(n, a)
    if coin is None:
        raise usage_error(n, N_("say which coin, or all for the whole market"))
    return Chart(coin, window if window is not None else DEFAULT_CHART_WINDOW)


def _parse_digest(args: list[str]) -> DigestCommand:
    try:
        return parse_digest_args(args)
    except DigestError as e:
        raise usage_error("digest", e) from None


def _parse_tz(args: list[str]) -> SetTz:
    n = "tz"
    if not args:
        return SetTz(None)
    if len(args) > 1:
        raise usage_error(n, N_("give one time zone name, like Europe/Berlin or UTC"))
    try:
        return SetTz(parse_zone(args[0]))
    except DigestError as e:
        raise usage_error(n, e) from None


def _parse_quiet(args: list[str]) -> SetQuiet:
    if not args:
        return SetQuiet(show=True)
    try:
        return SetQuiet(parse_quiet(" ".join(args)))
    except QuietError as e:
        raise usage_error("quiet", e) from None


_LANG_NAMES = {"english": "en", "russian": "ru", "русский": "ru", "spanish": "es",
               "español": "es", "espanol": "es", "chinese": "zh", "中文": "zh", "简体中文": "zh"}  # fmt: skip


def _parse_lang(args: list[str]) -> SetLang:
    n = "lang"
    if not args:
        return SetLang(None)
    if len(args) > 1:
        raise usage_error(n, N_("give one language: en, ru, es, zh or auto"))
    word = args[0].strip().lower()
    if word in ("auto", "default"):
        return SetLang("auto")
    code = _LANG_NAMES.get(word) or match_language(word)
    if code is None:
        raise usage_error(
            n, N_("%(lang)s is not a language I speak: en, ru, es, zh or auto"), lang=args[0]
        )
    return SetLang(code)


_PARSERS: dict[str, Callable[[list[str]], Command]] = {
    "lang": _parse_lang,
    "tz": _parse_tz,
    "quiet": _parse_quiet,
    "digest": _parse_digest,
    "test": _no_args("test", TestMessage()),
    "start": _no_args("start", Start()),
    "help": _no_args("help", Help()),
    "list": _no_args("list", ListSubs()),
    "status": _no_args("status", Status()),
    "subscribe": lambda args: parse_subscribe(args) if args else SubscribeGuide(),
    "unsubscribe": _parse_unsubscribe,
    "mute": _parse_mute,
    "unmute": _parse_unmute,
    "liqs": _parse_liqs,
    "chart": _parse_chart,
    "export": _no_args("export", ExportRules()),
    "top": _parse_top,
    "backtest": parse_backtest,
}
