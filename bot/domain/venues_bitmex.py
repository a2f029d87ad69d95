"""Pure parsing of BitMEX's `liquidation` table, its instrument list and the bitcoin price.

`side` is the liquidation ORDER's side: Buy = a SHORT was liquidated. A liquidation order lives
in the table from its `insert` to its `delete`; `update`s in between change its `price` and
`leavesQty`, and `leavesQty` can GROW after the insert (the engine adds contracts to the order:
12,900 -> 21,600 in a recorded session). So what an order liquidated is the largest `leavesQty`
it reached: `BitmexOrders` remembers, per `orderID`, the largest quantity counted so far and
emits each increase as a Liquidation. A `partial` (the table at subscribe time) sets baselines
and counts nothing: those orders began before we listened.

Contract value, from `GET /api/v1/instrument/active`:
- inverse (XBTUSD; isInverse, quoted in USD): a contract is |multiplier| / 1e8 USD (XBTUSD: 1);
- linear quoted in USD/USDT/USDC (XBTUSDT): a contract is 1 / underlyingToPositionMultiplier
  coins, USD = that × price;
- quanto settled in bitcoin (ETHUSD, LINKUSDT; isQuanto, settlCurrency XBt): `multiplier` is in
  satoshi per contract per 1 USD of price, so XBT = qty × multiplier / 1e8 × price (BitMEX's
  ETHUSD guide: 0.000001 XBT per 1 USD, "USD Value = XBT Value × .BXBT"), USD = XBT × the
  bitcoin price;
- linear quoted in bitcoin (ETHU21, XRPU21): XBT = qty / underlyingToPositionMultiplier × price,
  USD = XBT × the bitcoin price.
The bitcoin price is XBTUSD's (`indicativeSettlePrice` = the .BXBT index, else `markPrice`, else
`lastPrice`): from the instrument list, then live from the `instrument:XBTUSD` table. Without one
the bitcoin-valued contracts are skipped and counted, never valued at $0.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain.frames import FrameError, load_json, non_negative, number
from bot.domain.market import coin_from_base, coin_from_symbol
from bot.domain.models import Liquidation, Side

_ORDER_SIDE = {"Sell": Side.LONG, "Buy": Side.SHORT}
_USD_QUOTES = ("USD", "USDT", "USDC")
_XBT = {"XBT": "BTC"}
_BITCOIN_SETTLED = ("XBt", "XBT")
XBT_PRICE_SYMBOL = "XBTUSD"
_XBT_PRICE_FIELDS = ("indicativeSettlePrice", "markPrice", "lastPrice")


@dataclass(frozen=True)
class BitmexContracts:
    """symbol -> how one contract is valued (see the module docstring)."""

    inverse_usd: dict[str, float] = field(default_factory=dict)  # USD per contract
    linear_coins: dict[str, float] = field(default_factory=dict)  # coins per contract (× price)
    quanto_xbt: dict[str, float] = field(default_factory=dict)  # XBT per contract per 1 USD
    xbt_linear: dict[str, float] = field(default_factory=dict)  # coins per contract, XBT price
    coins: dict[str, str] = field(default_factory=dict)
    trading: frozenset[str] = frozenset()
    unpriced: frozenset[str] = frozenset()  # listed, no rule values them (EUR-quoted ...)
    xbt_usd: float | None = None  # the bitcoin price the list gave

    def listed_coins(self) -> frozenset[str]:
        return frozenset(self.coins[s] for s in self.trading if s in self.coins)

    def known(self, symbol: str) -> bool:
        return (
            symbol in self.inverse_usd
            or symbol in self.linear_coins
            or symbol in self.quanto_xbt
            or symbol in self.xbt_linear
        )

    def usd(self, symbol: str, qty: float, price: float, xbt_usd: float | None) -> float | None:
        """USD of `qty` contracts at `price`; None when unknown or when a needed bitcoin price
        is missing."""
        if symbol in self.inverse_usd:
            return qty * self.inverse_usd[symbol]
        if symbol in self.linear_coins:
            return qty * self.linear_coins[symbol] * price
        if xbt_usd is None:
            return None
        if symbol in self.quanto_xbt:
            return qty * self.quanto_xbt[symbol] * price * xbt_usd
        if symbol in self.xbt_linear:
            return qty * self.xbt_linear[symbol] * price * xbt_usd
        return None


def _number(d: Mapping[str, Any], key: str) -> float:
    try:
        return non_negative(abs(number(d[key])), key)
    except (KeyError, TypeError, ValueError, OverflowError, FrameError):
        return 0.0


def xbt_price(row: Mapping[str, Any]) -> float | None:
    """The bitcoin price an XBTUSD instrument row carries (index, else mark, else last)."""
    for key in _XBT_PRICE_FIELDS:
        value = row.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if 0 < value < 1e9:
            return float(value)
    return None


def bitmex_instruments(payload: Any) -> BitmexContracts:
    """The instruments of `GET /api/v1/instrument/active`: sizes, coins, what trades (Open)."""
    if not isinstance(payload, list):
        raise FrameError("BitMEX instruments: not a list")
    inverse: dict[str, float] = {}
    linear: dict[str, float] = {}
    quanto: dict[str, float] = {}
    xbt_linear: dict[str, float] = {}
    coins: dict[str, str] = {}
    trading: set[str] = set()
    unpriced: set[str] = set()
    xbt_usd: float | None = None
    list_rate: float | None = None
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
        if symbol == XBT_PRICE_SYMBOL:
            xbt_usd = xbt_price(d)
        quote, m = d.get("quoteCurrency"), _number(d, "multiplier")
        u2p = _number(d, "underlyingToPositionMultiplier")
        if d.get("isQuanto"):
            if d.get("settlCurrency") in _BITCOIN_SETTLED and quote in _USD_QUOTES and m > 0:
                quanto[symbol] = m / 1e8
                # satoshi per USD at list time: 1e8 / it is the list's bitcoin price
                if (q := _number(d, "quoteToSettleMultiplier")) > 0 and quote == "USD":
                    list_rate = list_rate or 1e8 / q
            else:
                unpriced.add(symbol)
        elif d.get("isInverse"):
            if quote in _USD_QUOTES and m > 0:
                inverse[symbol] = m / 1e8
            else:
                unpriced.add(symbol)  # XBTEUR: a price in euros
        elif u2p > 0 and quote in _USD_QUOTES:
            linear[symbol] = 1.0 / u2p
        elif u2p > 0 and quote == "XBT":
            xbt_linear[symbol] = 1.0 / u2p
        else:
            unpriced.add(symbol)
    return BitmexContracts(
        inverse, linear, quanto, xbt_linear, coins, frozenset(trading), frozenset(unpriced),
        xbt_usd or list_rate,
    )  # fmt: skip


@dataclass
class _Order:
    symbol: str
    side: Side
    counted: float  # the largest leavesQty counted so far
    price: float
    seen_ms: int


class BitmexOrders:
    """The live liquidation orders: orderID -> the largest quantity counted so far.

    Memory is bounded: a `delete` ends an order, orders not heard of for `ttl_ms` are forgotten
    (a lost delete), and past `max_orders` the least recently heard of go first.
    """

    def __init__(self, max_orders: int = 10_000, ttl_ms: int = 3_600_000) -> None:
        self.max_orders = max_orders
        self.ttl_ms = ttl_ms
        self._orders: OrderedDict[str, _Order] = OrderedDict()
        self.xbt_usd: float | None = None  # live, from the instrument:XBTUSD table

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def _expire(self, now_ms: int) -> None:
        orders = self._orders
        while orders:
            oldest = next(iter(orders.values()))
            if now_ms - oldest.seen_ms <= self.ttl_ms and len(orders) <= self.max_orders:
                break
            orders.popitem(last=False)

    def apply(
        self, action: str, rows: list[Any], now_ms: int
    ) -> list[tuple[str, Side, float, float]]:
        """One `liquidation` message -> (symbol, side, new contracts, price) per increase."""
        out: list[tuple[str, Side, float, float]] = []
        orders = self._orders
        for d in rows:
            try:
                oid = d["orderID"]
                if not isinstance(oid, str) or not oid:
                    raise TypeError
                if action == "delete":
                    orders.pop(oid, None)
                    continue
                known = orders.get(oid)
                qty = d.get("leavesQty")
                qty = None if qty is None else non_negative(qty, "leavesQty")
                price = d.get("price")
                price = None if price is None else non_negative(price, "price")
                if known is None:
                    if action == "update":
                        continue  # an order we never saw begin: no baseline to grow from
                    side = _ORDER_SIDE[d["side"]]
                    symbol = d["symbol"]
                    if not isinstance(symbol, str) or qty is None or price is None:
                        raise TypeError
                    orders[oid] = _Order(symbol, side, qty, price, now_ms)
                    if action == "insert" and qty > 0:
                        out.append((symbol, side, qty, price))
                    continue
                known.seen_ms = now_ms
                orders.move_to_end(oid)
                if price is not None:
                    known.price = price
                if qty is not None and qty > known.counted:
                    out.append((known.symbol, known.side, qty - known.counted, known.price))
                    known.counted = qty
            except (KeyError, TypeError, AttributeError, FrameError):
                raise FrameError("BitMEX liquidation with missing or bad orderID, symbol, side, "
                                 "qty or price") from None  # fmt: skip
        self._expire(now_ms)
        return out


def parse_bitmex(
    frame: str | bytes,
    contracts: BitmexContracts,
    now_ms: int,
    unknown: Counter[str] | None = None,
    orders: BitmexOrders | None = None,
) -> list[Liquidation]:
    """`liquidation` (and `instrument:XBTUSD`) table messages -> Liquidations.

    Each order counts the largest size it reached (see BitmexOrders; without `orders`, a fresh
    tracker per frame: inserts count). An instrument whose value is not known (not listed yet,
    EUR-quoted, or bitcoin-valued while no bitcoin price is known) is skipped and counted in
    `unknown`. Rows carry no time: they are stamped with `now_ms`, the receive time (as tardis).
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
    table, action, data = msg.get("table"), msg.get("action"), msg.get("data")
    if not isinstance(data, list):
        raise FrameError("BitMEX message without data")
    if orders is None:
        orders = BitmexOrders()
    if table == "instrument":
        for d in data:
            if isinstance(d, dict) and d.get("symbol") == XBT_PRICE_SYMBOL:
                orders.xbt_usd = xbt_price(d) or orders.xbt_usd
        return []
    if table != "liquidation":
        raise FrameError(f"unknown BitMEX table {table!r}")
    if action not in ("partial", "insert", "update", "delete"):
        raise FrameError(f"unknown BitMEX action {action!r}")
    xbt_usd = orders.xbt_usd or contracts.xbt_usd
    out: list[Liquidation] = []
    for symbol, side, qty, price in orders.apply(action, data, now_ms):
        usd = contracts.usd(symbol, qty, price, xbt_usd)
        if usd is None:
            if unknown is not None:
                unknown[symbol] += 1
            continue
        coin = contracts.coins.get(symbol) or coin_from_symbol(symbol)
        out.append(Liquidation("bitmex", coin, side, usd, now_ms, symbol))
    return out
