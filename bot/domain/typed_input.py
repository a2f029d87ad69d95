"""What people really type, tidied before the grammar reads it: invisible characters from pastes,
thousands written with spaces, pairs and contracts instead of coins, arguments out of order.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable

from bot.domain.market import COIN_ALIASES, KNOWN_COINS, coin_from_symbol

# What a paste can carry invisibly: zero-width spaces, joiners, BOMs (Unicode category Cf).
_INVISIBLE = dict.fromkeys(
    i for i in range(0x2000, 0x2070) if unicodedata.category(chr(i)) == "Cf"
) | {0xFEFF: None, 0x00AD: None}
SHOWN = 20  # characters of a bad input echoed back


def shorten(text: str, limit: int = SHOWN) -> str:
    """Bad input echoed back: never a wall of text."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean(text: str) -> str:
    """Drop invisible characters that pastes carry (a zero-width space inside `btc`)."""
    return text.translate(_INVISIBLE)


def pair_coin(token: str, known: frozenset[str]) -> str | None:
    """A contract or pair as traders write it: `btc-usdt`, `ETH/USDT`, `XBTUSD` (BitMEX)."""
    t = re.sub(r"[-_/:]", "", token.strip().upper())
    if not re.fullmatch(r"[A-Z0-9]{4,24}", t):
        return None
    base = coin_from_symbol(t)
    base = COIN_ALIASES.get(base, base)
    return base if base != t and (base in known or base in KNOWN_COINS) else None


def join_digit_groups(args: list[str]) -> list[str]:
    """`100 000 000` typed with spaces between the thousands is one amount: `100000000`."""
    out: list[str] = []
    for a in args:
        if out and re.fullmatch(r"\d{3}", a) and re.fullmatch(r"\$?\d{1,3}(\d{3})*", out[-1]):
            out[-1] += a
        else:
            out.append(a)
    return out


def unambiguous_order(
    args: list[str], roles_of: Callable[[str], set[str]], grammar: tuple[str, ...]
) -> list[str] | None:
    """The arguments in grammar order when only one reading of them exists: `1h btc 100m`.

    `roles_of(token)` names what a token can be ("coin", "window" ...); `grammar` is the order.
    None when the tokens cannot be read, or can be read more than one way (and not in order).
    """
    if len(args) not in (3, 4):
        return None
    roles = [roles_of(a) for a in args]
    wanted = grammar[: len(args)]
    readings = [
        perm
        for perm in itertools.permutations(wanted)
        if all(role in r for role, r in zip(perm, roles, strict=True))
    ]
    if tuple(wanted) in readings:
        return args  # the positional reading wins: `/subscribe sol 5m 5m`
    if len(readings) != 1:
        return None
    order = dict(zip(readings[0], args, strict=True))
    return [order[r] for r in wanted]
