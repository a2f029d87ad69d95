"""One argument of a command, read: a coin, a window, an amount, a duration, a venue filter.

Each reader raises a CommandError naming the command it serves, so the message carries that
command's usage; each `is_` test says whether a token could play that role.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.domain.command_specs import usage_error
from bot.domain.command_types import CommandError
from bot.domain.i18n import N_
from bot.domain.market import (
    KNOWN_COINS,
    MarketError,
    parse_duration,
    parse_window,
    resolve_coin,
)
from bot.domain.money import MoneyError, parse_money
from bot.domain.typed_input import pair_coin, shorten

# the venues the bot streams: what a filter can name (`on gate`); the first three also bare
# (`/liqs btc bybit`): the others' names are, or may become, coins (HTX is one)
VENUES = ("binance", "bybit", "okx", "bitget", "bitmex", "deribit", "gate", "htx")
BARE_VENUES = VENUES[:3]

# The coins of the current parse, so every reader sees them without threading an argument.
_KNOWN: ContextVar[frozenset[str]] = ContextVar("known_coins", default=frozenset())


@contextmanager
def coins_known(known: frozenset[str]) -> Iterator[None]:
    """Within the block, coin arguments also resolve to `known` (the coins sources have seen)."""
    token = _KNOWN.set(known)
    try:
        yield
    finally:
        _KNOWN.reset(token)


def coin_arg(name: str, token: str) -> str:
    known = _KNOWN.get() or KNOWN_COINS
    try:
        return resolve_coin(token, known)
    except MarketError as e:
        pair = pair_coin(token, known)
        if pair is not None:
            return pair
        raise usage_error(name, e) from None


def is_coin(token: str) -> bool:
    try:
        coin_arg("liqs", token)
    except CommandError:
        return False
    return True


def window_arg(name: str, token: str) -> int:
    try:
        return parse_window(token)
    except MarketError as e:
        raise usage_error(name, e) from None


def is_window(token: str) -> bool:
    try:
        parse_window(token)
    except MarketError:
        return False
    return True


def is_money(token: str) -> bool:
    try:
        parse_money(token)
    except MoneyError:
        return False
    return True


def duration_arg(name: str, token: str) -> int:
    try:
        return parse_duration(token)
    except (MarketError, OverflowError) as e:  # OverflowError: a huge number of digits
        if isinstance(e, MarketError):
            raise usage_error(name, e) from None
        raise usage_error(name, N_("'%(text)s' is too long a duration"), text=token) from None


def is_duration(token: str) -> bool:
    try:
        parse_duration(token)
    except (MarketError, OverflowError):
        return False
    return True


def take_venue(name: str, args: list[str]) -> tuple[list[str], str | None]:
    """`... on binance` (or a bare venue name): the venue filter, and the other arguments."""
    venue = None
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i].lower()
        nxt = args[i + 1].lower() if i + 1 < len(args) else None
        if a == "on" and nxt is not None:
            if nxt not in VENUES:
                raise usage_error(
                    name,
                    N_("unknown venue '%(text)s'; venues: %(venues)s"),
                    text=shorten(args[i + 1]),
                    venues=", ".join(VENUES),
                )
            chosen, i = nxt, i + 2
        elif a in BARE_VENUES:
            chosen, i = a, i + 1
        else:
            out.append(args[i])
            i += 1
            continue
        if venue is not None and venue != chosen:
            raise usage_error(name, N_("give one venue at most"))
        venue = chosen
    if args and args[-1].lower() == "on":
        raise usage_error(name, N_("on which venue? %(venues)s"), venues=", ".join(VENUES))
    return out, venue
