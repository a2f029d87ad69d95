"""/subscribe and /backtest: an alert rule from its arguments.

Positional (`<coin> <window> <amount> [side]`), because `5m` is both a window and an amount:
position decides, unless the roles of the tokens leave one order only. Common mistakes are
recognised only to explain them well.
"""

from __future__ import annotations

import re

from bot.domain.command_args import (
    coin_arg,
    is_coin,
    is_money,
    is_window,
    take_venue,
    window_arg,
)
from bot.domain.command_specs import SPECS, usage_error
from bot.domain.command_types import Backtest, CommandError, Subscribe
from bot.domain.i18n import N_
from bot.domain.market import MarketError, is_side_word, looks_like_window, parse_side
from bot.domain.models import Side
from bot.domain.money import MoneyError, format_threshold, parse_money
from bot.domain.typed_input import join_digit_groups, shorten, unambiguous_order

MIN_THRESHOLD = 1_000.0  # below $1K every single liquidation would fire: almost surely a typo
MIN_SINGLE = 10_000.0  # below $10K single liquidations arrive every second: a flood, not news
SINGLE_WORDS = ("single", "each")  # `/subscribe btc single 1m`
MIN_FACTOR, MAX_FACTOR = 1.1, 50.0
_FACTOR = re.compile(r"^([0-9]+(?:\.[0-9]+)?)[x×]$", re.IGNORECASE)
_ROLES = ("coin", "window", "amount", "side")


def parse_subscribe(args: list[str]) -> Subscribe:
    n = "subscribe"
    args, venue = take_venue(n, join_digit_groups(args))
    if any(a.lower() in SINGLE_WORDS for a in args):
        return _parse_single(args, venue)
    if len(args) > 4:
        raise usage_error(
            n, N_("too many arguments (%(count)d); /subscribe takes at most 4"), count=len(args)
        )
    if len(args) < 3:
        if not args:
            raise usage_error(n, N_("say which coin, over which window, above which amount"))
        missing = N_("the window and amount are missing")
        if len(args) == 2:
            if is_window(args[1]):
                missing = N_("the amount is missing")
            elif is_money(args[1]):
                missing = N_("the window is missing")
        raise usage_error(n, missing)
    args = unambiguous_order(args, _roles, _ROLES) or args
    coin_t, window_t, amount_t = args[0], args[1], args[2]
    if is_window(coin_t) or (is_money(coin_t) and not is_coin(coin_t)):
        raise usage_error(n, N_("the coin comes first, not '%(text)s'"), text=shorten(coin_t))
    coin = coin_arg(n, coin_t)
    if not is_window(window_t):
        if is_side_word(window_t):
            raise usage_error(n, N_("the side (long, short, total) comes last, after the amount"))
        if is_money(window_t) and (is_side_word(amount_t) or not looks_like_window(window_t)):
            raise usage_error(
                n,
                N_("'%(text)s' looks like an amount; the window is missing"),
                text=shorten(window_t),
            )
    window = window_arg(n, window_t)
    if not is_money(amount_t) and is_window(amount_t):
        raise usage_error(
            n, N_("'%(text)s' is a window; the amount comes third, like 100m"), text=amount_t
        )
    factor = _factor(amount_t)
    if factor is not None:
        if not MIN_FACTOR <= factor <= MAX_FACTOR:
            raise usage_error(
                n,
                N_("the multiple goes from %(lo)sx to %(hi)sx"),
                lo=f"{MIN_FACTOR:g}",
                hi=f"{MAX_FACTOR:g}",
            )
        return Subscribe(coin, window, 0.0, _side(n, args), venue=venue, factor=factor)
    try:
        threshold = parse_money(amount_t)
    except MoneyError as e:
        raise usage_error(n, N_("bad amount: %(why)s"), why=e) from None
    if threshold < MIN_THRESHOLD:
        bare = re.fullmatch(r"\$?\d+(\.\d+)?", amount_t) is not None
        low, least = format_threshold(threshold), format_threshold(MIN_THRESHOLD)
        if bare:
            raise usage_error(
                n,
                N_(
                    "%(low)s is too small: the smallest amount is %(least)s (did you mean %(typed)sm?)"
                ),
                low=low,
                least=least,
                typed=amount_t.lstrip("$"),
            )
        raise usage_error(
            n, N_("%(low)s is too small: the smallest amount is %(least)s"), low=low, least=least
        )
    return Subscribe(coin, window, threshold, _side(n, args), venue=venue)


def parse_backtest(args: list[str]) -> Backtest:
    """The rule /subscribe would take; its errors name /backtest's usage instead."""
    try:
        return Backtest(parse_subscribe(args))
    except CommandError as e:
        spec = SPECS["backtest"]
        raise CommandError(e.msgid, spec.usage, spec.example, e.values) from None


def _parse_single(args: list[str], venue: str | None) -> Subscribe:
    """`/subscribe btc single 1m [side]`: every liquidation of at least 1m."""
    n = "subscribe"
    rest = [a for a in args if a.lower() not in SINGLE_WORDS]
    if len(rest) < 2:
        raise usage_error(
            n, N_("say which coin and the smallest single liquidation: /subscribe btc single 1m")
        )
    if len(rest) > 3:
        raise usage_error(
            n, N_("too many arguments; a single-liquidation rule takes coin, amount, side")
        )
    coin = coin_arg(n, rest[0])
    try:
        threshold = parse_money(rest[1])
    except MoneyError as e:
        raise usage_error(n, N_("bad amount: %(why)s"), why=e) from None
    if threshold < MIN_SINGLE:
        raise usage_error(
            n,
            N_("%(low)s is too small for single liquidations: the smallest is %(least)s"),
            low=format_threshold(threshold),
            least=format_threshold(MIN_SINGLE),
        )
    side = Side.TOTAL
    if len(rest) == 3:
        try:
            side = parse_side(rest[2])
        except MarketError as e:
            raise usage_error(n, e) from None
    return Subscribe(coin, 0, threshold, side, venue=venue, single=True)


def _side(n: str, args: list[str]) -> Side:
    if len(args) < 4:
        return Side.TOTAL
    try:
        return parse_side(args[3])
    except MarketError as e:
        raise usage_error(n, e) from None


def _factor(token: str) -> float | None:
    m = _FACTOR.match(token.strip())
    return float(m.group(1)) if m else None


def _roles(token: str) -> set[str]:
    roles = set()
    if is_coin(token):
        roles.add("coin")
    if is_window(token):
        roles.add("window")
    if is_money(token):
        roles.add("amount")
    if is_side_word(token) or token.strip().lower() == "all":
        roles.add("side")
    if _factor(token) is not None:
        roles.add("amount")
    return roles
