"""Pure parsing of BitMEX's `liquidation` table and its instrument list.

`side` is the liquidation ORDER's side: Buy = a SHORT was liquidated. Each `insert` is a new
liquidation order of `leavesQty` contracts (updates and deletes follow it through the book and
are not new liquidations; `partial` is the book at subscribe time, already counted by nobody).

Contract value, from `GET /api/v1/instrument/active`:
- inverse (XBTUSD, ETHUSD inverse; isInverse): a contract is |multiplier| / 1e8 USD (XBTUSD: 1);
- linear (XBTUSDT, isQuanto and isInverse false, quoted in USDT/USDC/USD): a contract is
  1 / underlyingToPositionMultiplier coins, USD = that × price;
- quanto (ETHUSD, LINKUSDTM21: isQuanto) and XBT-quoted contracts (ADAM21) settle in bitcoin:
  their USD needs a bitcoin price the frame does not carry, so they are skipped and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain.frames import FrameError, load_json, non_negative, number
from bot.domain.market import coin_from_base, coin_from_symbol
from bot.domain.models import Liquidation, Side

_ORDER_SIDE = {"Sell": Side.LONG, "Buy": Side.SHORT}
_USD_QUOTES = ("USD", "USDT", "USDC")
_XBT = {"XBT": "BTC"}


@dataclass(frozen=True)
class BitmexContracts:
    """symbol -> USD per contract (inverse) or coins per contract (linear, × price)."""

    inverse_usd: dict[str, float] = field(default_factory=dict)
    linear_coins: dict[str, float] = field(default_factory=dict)
    coins: dict[str, str] = field(default_factory=dict)
    trading: frozenset[str] = frozenset()
    unpriced: frozenset[str] = frozenset()  # quanto / bitcoin-quoted: listed, not counted

    def listed_coins(self) -> frozenset[str]:
        return frozenset(self.coins[s] for s in self.trading if s in self.coins)

    def known(self, symbol: str) -> bool:
        return symbol in self.inverse_usd or symbol in self.linear_coins


def _number(d: Mapping[str, Any], key: str) -> float:
    try:
        return non_negative(abs(number(d[key])), key)
    except (KeyError, TypeError, ValueError, OverflowError):
        return 0.0


def bitmex_instruments(payload: Any) -> BitmexContracts:
    """The instruments of `GET /api/v1/instrument/active`: sizes, coins, what trades (Open)."""
    if not isinstance(payload, list):
        raise FrameError("BitMEX instruments: not a list")
    inverse: dict[str, float] = {}
    linear: dict[str, float] = {}
    coins: dict[str, str] = {}
    trading: set[str] = set()
    unpriced: set[str] = set()
    for d in payload:
        if not isinstance(d, dict) or not isinstance(d.get("symbol"), str):
            continue
        symbol = d["symbol"]
        root = d.get("underlying") or d.get("rootSymbol") or ""
        if isinstance(root, str) and root:
            coins[symbol] = _XBT.get(root.upper(), coin_from_base(root))
        else:
            coins[symbol] = coin_from_symbol(symbol)
        if d.get("state") == "Open":
            trading.add(symbol)
        quote = d.get("quoteCurrency")
        if d.get("isQuanto") or quote not in _USD_QUOTES:
            unpriced.add(symbol)
        elif d.get("isInverse"):
            if (m := _number(d, "multiplier")) > 0:
                inverse[symbol] = m / 1e8
        elif (u := _number(d, "underlyingToPositionMultiplier")) > 0:
            linear[symbol] = 1.0 / u
        else:
            unpriced.add(symbol)
    return BitmexContracts(inverse, linear, coins, frozenset(trading), frozenset(unpriced))


def parse_bitmex(
    frame: str | bytes,
    contracts: BitmexContracts,
    now_ms: int,
    unknown: Counter[str] | None = None,
) -> list[Liquidation]:
    """`liquidation` table messages -> one Liquidation per inserted order.

    An instrument whose size is not known (not listed yet, quanto, bitcoin-quoted) is skipped
    and counted in `unknown`. BitMEX's liquidation rows carry no time: they are stamped with
    `now_ms`, the time the frame was received (as tardis does).
    """
    if frame == "pong" or frame == b"pong":
        return []
    msg = load_json(frame)
    if not isinstance(msg, dict):
        raise FrameError("BitMEX frame is not an object")
    if "error" in msg:
        raise FrameError(f"BitMEX error: {msg.get('status')} {msg.get('error')}")
    if "table" not in msg:
        if "info" in msg or "success" in msg:  # welcome, subscribe ack
            return []
        raise FrameError("BitMEX frame without table")
    if msg.get("table") != "liquidation":
        raise FrameError(f"unknown BitMEX table {msg.get('table')!r}")
    action, data = msg.get("action"), msg.get("data")
    if not isinstance(data, list):
        raise FrameError("BitMEX message without data")
    if action != "insert":
        return []  # partial (the book at subscribe), update and delete: not new liquidations
    out: list[Liquidation] = []
    for d in data:
        try:
            symbol = d["symbol"]
            side = _ORDER_SIDE[d["side"]]
            qty = non_negative(d["leavesQty"], "leavesQty")
            price = non_negative(d["price"], "price")
        except (KeyError, TypeError, AttributeError, FrameError):
            raise FrameError("BitMEX liquidation with missing or bad symbol, side, qty") from None
        if symbol in contracts.inverse_usd:
            usd = qty * contracts.inverse_usd[symbol]
        elif symbol in contracts.linear_coins:
            usd = qty * contracts.linear_coins[symbol] * price
        else:
            if unknown is not None:
                unknown[symbol] += 1
            continue
        coin = contracts.coins.get(symbol) or coin_from_symbol(symbol)
        out.append(Liquidation("bitmex", coin, side, usd, now_ms, symbol))
    return out
