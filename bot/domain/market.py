"""Coins, windows, sides and durations as people type them; venue symbols as venues send them."""

from __future__ import annotations

import difflib
import re
import time

from bot.domain.i18n import EN, N_, Lang, TextError
from bot.domain.models import ALL, Side


class MarketError(TextError):
    """Raised with a message fit for a user."""


# ---- windows -------------------------------------------------------------------------------

WINDOWS: tuple[int, ...] = (5, 15, 30, 60, 120, 240, 720, 1440)  # minutes
TABLE_WINDOWS: tuple[int, ...] = (60, 240, 720, 1440)  # the /liqs table, as the market publishes it
_WINDOW_ALIASES = {"1d": 1440, "24h": 1440, "60m": 60, "1440m": 1440, "day": 1440, "hour": 60}


def window_label(minutes: int) -> str:
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


WINDOW_CHOICES: tuple[str, ...] = tuple(window_label(w) for w in WINDOWS)


def parse_window(text: str) -> int:
    t = text.strip().lower()
    if t in _WINDOW_ALIASES:
        return _WINDOW_ALIASES[t]
    for w in WINDOWS:
        if t == window_label(w):
            return w
    raise MarketError(
        N_("unknown window '%(text)s'; use one of %(choices)s (1d = 24h)"),
        text=text,
        choices=", ".join(WINDOW_CHOICES),
    )


def looks_like_window(text: str) -> bool:
    return re.fullmatch(r"\d+\s*[mhd]|day|hour", text.strip().lower()) is not None


# ---- sides ---------------------------------------------------------------------------------

_SIDE_ALIASES = {
    "long": Side.LONG, "longs": Side.LONG, "l": Side.LONG, "buy": Side.LONG,
    "short": Side.SHORT, "shorts": Side.SHORT, "s": Side.SHORT, "sell": Side.SHORT,
    "total": Side.TOTAL, "totals": Side.TOTAL, "t": Side.TOTAL, "all": Side.TOTAL,
    "both": Side.TOTAL, "any": Side.TOTAL,
}  # fmt: skip


def parse_side(text: str) -> Side:
    side = _SIDE_ALIASES.get(text.strip().lower())
    if side is None:
        raise MarketError(N_("unknown side '%(text)s'; use long, short or total"), text=text)
    return side


def is_side_word(text: str) -> bool:
    # "all" is a coin word first; it only means total in the side position
    return text.strip().lower() in _SIDE_ALIASES and text.strip().lower() != "all"


# ---- coins ---------------------------------------------------------------------------------

# Coins the bot knows before any data arrives; sources add what they see.
KNOWN_COINS: frozenset[str] = frozenset(
    """BTC ETH SOL XRP BNB DOGE ADA TRX AVAX LINK DOT TON SHIB LTC BCH NEAR UNI APT SUI ARB OP
    PEPE WIF BONK FLOKI INJ TIA SEI FIL ETC ATOM HBAR ICP RNDR RENDER STX IMX MKR AAVE LDO CRV
    JUP PYTH ENA ONDO WLD ORDI TAO FET XLM XMR ALGO VET EOS SAND MANA AXS GALA APE DYDX GMX
    FTM S HYPE TRUMP POPCAT NOT BOME MEW ZRO ROSE IOST 1INCH COMP SNX KAS ENS JTO W STRK""".split()
)

COIN_ALIASES: dict[str, str] = {
    "BITCOIN": "BTC", "XBT": "BTC", "ETHER": "ETH", "ETHEREUM": "ETH", "SOLANA": "SOL",
    "RIPPLE": "XRP", "DOGECOIN": "DOGE", "CARDANO": "ADA", "BINANCE": "BNB", "LITECOIN": "LTC",
    "AVALANCHE": "AVAX", "CHAINLINK": "LINK", "POLKADOT": "DOT", "TONCOIN": "TON",
    "MARKET": ALL, "*": ALL, "TOTAL": ALL, "EVERYTHING": ALL,
}  # fmt: skip

# Quotes, longest first where one ends another (USDT before USD). PERP: Bybit's USDC perpetuals
# (BTCPERP); an OKX/Bybit contract with dashes keeps its base in the first part.
_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "PERP")
# Bybit inverse futures: coin + USD + month code + year (ETHUSDH25, BTCUSDZ24)
_INVERSE_FUTURE = re.compile(r"^([A-Z0-9]+?)USD[FGHJKMNQUVXZ]\d{2}$")
# Multipliers before the coin (1000PEPE, 1000000MOG, 10000SATS, 1MBABYDOGE) or after it
# (Bybit's SHIB1000): a 1 followed by at least two zeros, or 1M.
_MULTIPLIER_PREFIX = re.compile(r"^(?:10{2,}|1M)(?=[A-Z])")
_MULTIPLIER_SUFFIX = re.compile(r"(?<=[A-Z])10{3,}$")


def coin_from_base(base: str) -> str:
    """The coin of a venue's base asset: `1000PEPE` → PEPE, `SHIB1000` → SHIB, `1INCH` stays."""
    b = base.strip().upper()
    if b in KNOWN_COINS:
        return b
    return _MULTIPLIER_SUFFIX.sub("", _MULTIPLIER_PREFIX.sub("", b))  # lookarounds keep a letter


def coin_from_symbol(symbol: str) -> str:
    """Map a venue contract to its base coin (the fallback when no instrument list names it).

    Binance `BTCUSDT`, `1000PEPEUSDT`, `BTCUSDT_210924`, `BTCUSD_PERP`, `BTCUSDC`; Bybit
    `SHIB1000USDT`, `BTCPERP`, `ETHUSDH25`, `BTC-27DEC24`; OKX `BTC-USDT-SWAP`,
    `BTC-USD-250328`, `BTC-USDC-SWAP`; Gate `BTC_USDT`. All → the coin (BTC, PEPE, SHIB ...).
    """
    s = symbol.strip().upper()
    if "-" in s:  # OKX BTC-USDT-SWAP, BTC-USD-250926; Bybit dated BTC-27DEC24, BTCUSDT-27DEC24
        s = s.split("-", 1)[0]
    elif "_" in s:  # Binance dated/COIN-M BTCUSDT_210924, BTCUSD_PERP; Gate BTC_USDT
        s = s.split("_", 1)[0]
    else:
        m = _INVERSE_FUTURE.match(s)
        if m:
            return coin_from_base(m.group(1))
    base = s
    for q in _QUOTES:
        if s.endswith(q) and len(s) > len(q):
            base = s[: -len(q)]
            break
    return coin_from_base(base)


def resolve_coin(text: str, known: frozenset[str] | set[str] = KNOWN_COINS) -> str:
    """A coin (or ALL) from what a user typed; an unknown one gets the nearest suggestions."""
    t = text.strip().upper().lstrip("$#")
    if t == "ALL":
        return ALL
    if t in COIN_ALIASES:
        return COIN_ALIASES[t]
    if t in known or t in KNOWN_COINS:
        return t
    if re.fullmatch(r"[A-Z0-9]{2,20}", t):
        mapped = coin_from_symbol(t)  # BTCUSDT, 1000PEPEUSDT typed by a user
        if mapped != t and (mapped in known or mapped in KNOWN_COINS):
            return mapped
    pool = sorted(set(known) | KNOWN_COINS | set(COIN_ALIASES))
    near = difflib.get_close_matches(t, pool, n=3, cutoff=0.5)
    names = []
    for n in near:
        c = COIN_ALIASES.get(n, n)
        if c.lower() not in names:  # BITCOIN and BTC are one suggestion
            names.append(c.lower())
    if names:
        raise MarketError(
            N_("unknown coin '%(text)s'; did you mean %(names)s?"),
            text=text.strip(),
            names=", ".join(names),
        )
    raise MarketError(N_("unknown coin '%(text)s'; try btc, eth, sol or all"), text=text.strip())


def coin_label(coin: str, lang: Lang = EN) -> str:
    return lang._("All coins") if coin == ALL else coin


# ---- durations (mutes, quiet time) ---------------------------------------------------------

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w)$")
_UNIT_SECONDS = {"s": 1, "sec": 1, "secs": 1, "m": 60, "min": 60, "mins": 60, "h": 3600,
                 "hr": 3600, "hrs": 3600, "d": 86400, "day": 86400, "days": 86400, "w": 604800}  # fmt: skip
MAX_MUTE_SECONDS = 30 * 86400


def parse_duration(text: str) -> int:
    """Seconds from `30m`, `2h`, `1d`, `90s`, `1w`."""
    m = _DURATION.match(text.strip().lower())
    if not m:
        raise MarketError(
            N_("'%(text)s' is not a duration; write it like 30m, 2h or 1d"), text=text
        )
    try:
        seconds = int(float(m.group(1)) * _UNIT_SECONDS[m.group(2)])
    except OverflowError:  # hundreds of digits
        raise MarketError(N_("the longest mute is 30d")) from None
    if seconds <= 0:
        raise MarketError(N_("the duration must be above zero"))
    if seconds > MAX_MUTE_SECONDS:
        raise MarketError(N_("the longest mute is 30d; use /unsubscribe to stop alerts for good"))
    return seconds


def utc_hhmm(ms: int) -> str:
    """`14:05` (UTC) for a time in epoch milliseconds."""
    return time.strftime("%H:%M", time.gmtime(ms / 1000))


def format_duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
