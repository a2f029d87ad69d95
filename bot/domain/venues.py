"""Pure parsers of venue frames: raw websocket text (or REST JSON) -> normalized Liquidations.

Side conventions differ per venue and are the classic bug here:
- Binance and OKX send the ORDER side: SELL/sell = a LONG was liquidated (forced sell).
- Bybit sends the POSITION side: Buy = a LONG was liquidated.
Control frames (acks, pongs) give []. Anything malformed or unknown raises FrameError, so a
source can count it and move on. No I/O here.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain.frames import FrameError, load_json, non_negative, number
from bot.domain.market import coin_from_base, coin_from_symbol
from bot.domain.models import Liquidation, Side

# symbol -> coin is hot (every event) and the set of symbols is small: cache it.
_COIN_CACHE: dict[str, str] = {}


def _coin(symbol: str) -> str:
    """The coin of a symbol no instrument list named: the pure mapping, cached."""
    coin = _COIN_CACHE.get(symbol)
    if coin is None:
        if not symbol or not isinstance(symbol, str):
            raise FrameError("missing symbol")
        coin = coin_from_symbol(symbol)
        if not coin:
            raise FrameError(f"no coin in symbol {symbol!r}")
        if len(_COIN_CACHE) < 100_000:  # bounded: a hostile stream cannot grow it forever
            _COIN_CACHE[symbol] = coin
    return coin


# ---- Binance (USDⓈ-M and COIN-M) -------------------------------------------------------------
# Which market a frame belongs to follows from the stream it came on (fstream: USDⓈ-M, dstream:
# COIN-M), never from its fields: live USDⓈ-M frames carry `ps` and `st` too, and USDⓈ-M
# quarterlies have a `_` in the symbol (BTCUSDT_210924).

_ORDER_SIDE = {"SELL": Side.LONG, "BUY": Side.SHORT, "sell": Side.LONG, "buy": Side.SHORT}


def _binance_order(
    o: Any,
    event_ms: Any,
    coins: Mapping[str, str],
    contract_usd: Mapping[str, float] | None,
    unknown: Counter[str] | None,
) -> Liquidation | None:
    # the hot path: plain dict lookups and float(); any surprise falls into one except
    try:
        symbol = o["s"]
        side = _ORDER_SIDE[o["S"]]
        qty = number(o["z"])
        ts = int(o.get("T", event_ms))
        coin = coins.get(symbol) or _coin(symbol)
        if contract_usd is None:  # USDⓈ-M: z is in the base asset
            price = number(o["ap"])
        else:  # COIN-M: z counts contracts of a fixed USD value
            price = contract_usd.get(symbol)  # type: ignore[assignment]
            if price is None:
                if unknown is not None:
                    unknown[symbol] += 1
                return None
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        raise FrameError("forceOrder with missing or bad s, S, z, ap or T") from None
    if not (0.0 <= qty < 1e300 and 0.0 <= price < 1e300 and 0 < ts < 10**14):
        raise FrameError("forceOrder with an out-of-range number")  # NaN fails too
    return Liquidation("binance", coin, side, qty * price, ts, symbol, price)


def parse_binance(
    frame: str | bytes,
    coins: Mapping[str, str] | None = None,
    *,
    contract_usd: Mapping[str, float] | None = None,
    unknown: Counter[str] | None = None,
) -> list[Liquidation]:
    """Binance `forceOrder` events: a single event, a combined-stream wrapper, or an array.

    The caller says which market the stream is: USDⓈ-M (the default): USD = z × ap. COIN-M
    (`contract_usd` given, symbol -> USD per contract from exchangeInfo `contractSize`):
    USD = z × contract size; a symbol without a known size is skipped and counted in
    `unknown`, never guessed. `coins` maps symbols to coins from the instrument list.
    """
    table = _COIN_CACHE if coins is None else coins
    msg = load_json(frame)
    if type(msg) is dict and msg.get("e") == "forceOrder":  # the common case, first
        one = _binance_order(msg.get("o"), msg.get("E"), table, contract_usd, unknown)
        return [] if one is None else [one]
    if isinstance(msg, dict) and "stream" in msg and "data" in msg:  # /stream?streams=... form
        msg = msg["data"]
    items = msg if isinstance(msg, list) else [msg]
    out: list[Liquidation] = []
    for m in items:
        if not isinstance(m, dict):
            raise FrameError("Binance frame is not an object")
        e = m.get("e")
        if e == "forceOrder":
            one = _binance_order(m.get("o"), m.get("E"), table, contract_usd, unknown)
            if one is not None:
                out.append(one)
        elif e is None and "id" in m and "result" in m:  # subscription ack
            continue
        else:
            raise FrameError(f"unknown Binance event {e!r}")
    return out


# ---- Bybit v5 ------------------------------------------------------------------------------

_POSITION_SIDE = {"Buy": Side.LONG, "Sell": Side.SHORT}


def parse_bybit(
    frame: str | bytes, coins: Mapping[str, str] | None = None, *, inverse: bool = False
) -> list[Liquidation]:
    """Bybit `allLiquidation.{symbol}` pushes. S is the POSITION side: Buy = a LONG liquidated.

    `inverse` says which stream the frame came on, never guessed from the symbol: on
    `/v5/public/linear` USD = v × p (v in coins); on `/v5/public/inverse` v counts 1-USD
    contracts, so USD = v (docs/sources.md has the evidence). The older `liquidation.{symbol}`
    topic (one object: symbol, side, size or qty, price, updatedTime or time) reads the same way.
    """
    table = _COIN_CACHE if coins is None else coins
    msg = load_json(frame)
    if not isinstance(msg, dict):
        raise FrameError("Bybit frame is not an object")
    topic = msg.get("topic")
    if topic is None:
        if "op" in msg or "success" in msg:  # subscribe ack, pong
            if msg.get("success") is False:
                raise FrameError(f"Bybit refused {msg.get('op')}: {msg.get('ret_msg')}")
            return []
        raise FrameError("Bybit frame without topic")
    if not isinstance(topic, str) or not topic.startswith(("allLiquidation.", "liquidation.")):
        raise FrameError(f"unknown Bybit topic {topic!r}")
    data = msg.get("data")
    if isinstance(data, dict):  # the older `liquidation` topic sends one object
        data = [data]
    if not isinstance(data, list):
        raise FrameError("Bybit push without data")
    out: list[Liquidation] = []
    for d in data:
        try:
            symbol = d.get("s") or d["symbol"]
            side = _POSITION_SIDE[d.get("S") or d["side"]]
            size = number(d["v"] if "v" in d else (d["size"] if "size" in d else d["qty"]))
            ts = int(d.get("T") or d.get("updatedTime") or d.get("time") or msg["ts"])
            coin = table.get(symbol) or _coin(symbol)
            price = number(d["p"] if "p" in d else d["price"])
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            raise FrameError("Bybit entry with missing or bad s, S, v, p or T") from None
        if not (0.0 <= size < 1e300 and 0.0 <= price < 1e300 and 0 < ts < 10**14):
            raise FrameError("Bybit entry with an out-of-range number")
        usd = size if inverse else size * price  # inverse: contracts of 1 USD each
        out.append(Liquidation("bybit", coin, side, usd, ts, symbol, price))
    return out


# ---- OKX v5 ----------------------------------------------------------------------------------


def _okx_inverse(inst_id: str) -> bool:
    return "-USD-" in inst_id  # BTC-USD-SWAP, BTC-USD-250926; linear: BTC-USDT-SWAP


def parse_okx(
    frame: str | bytes,
    ct_val: Mapping[str, float],
    unknown: Counter[str] | None = None,
    coins: Mapping[str, str] | None = None,
) -> list[Liquidation]:
    """OKX `liquidation-orders` pushes: EVERY entry of `details` of every data item.

    side is the ORDER side: sell = a LONG liquidated. sz counts contracts:
    linear USD = sz × ctVal × bkPx, inverse USD = sz × ctVal. An instrument missing from
    `ct_val` is skipped and counted in `unknown` (instId -> details skipped).
    """
    if frame == "pong" or frame == b"pong":
        return []
    msg = load_json(frame)
    if not isinstance(msg, dict):
        raise FrameError("OKX frame is not an object")
    event = msg.get("event")
    if event is not None:
        if event in ("subscribe", "unsubscribe", "channel-conn-count"):
            return []
        raise FrameError(f"OKX event {event!r}: {msg.get('code')} {msg.get('msg')}")
    arg = msg.get("arg")
    if not isinstance(arg, dict) or arg.get("channel") != "liquidation-orders":
        raise FrameError("unknown OKX channel")
    data = msg.get("data")
    if not isinstance(data, list):
        raise FrameError("OKX push without data")
    out: list[Liquidation] = []
    for item in data:
        if not isinstance(item, dict):
            raise FrameError("OKX data item is not an object")
        inst_id = item.get("instId")
        details = item.get("details")
        if not isinstance(inst_id, str) or not isinstance(details, list):
            raise FrameError("OKX item missing instId or details")
        ctv = ct_val.get(inst_id)
        if ctv is None:
            if unknown is not None:
                unknown[inst_id] += len(details)
            continue
        coin = (coins or _COIN_CACHE).get(inst_id) or _coin(inst_id)
        inverse = _okx_inverse(inst_id)
        for d in details:
            try:
                side = _ORDER_SIDE[d["side"]]
                sz = number(d["sz"])
                px = 1.0 if inverse else number(d["bkPx"])
                ts = int(d["ts"])
            except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
                raise FrameError("OKX detail with missing or bad side, sz, bkPx or ts") from None
            if not (0.0 <= sz < 1e300 and 0.0 <= px < 1e300 and 0 < ts < 10**14):
                raise FrameError("OKX detail with an out-of-range number")
            out.append(Liquidation("okx", coin, side, sz * ctv * px, ts, inst_id, px))
    return out


# ---- instrument lists (REST): coins, contract sizes, what is trading -------------------------


@dataclass(frozen=True)
class Instruments:
    """What a venue's instrument list says.

    coins: symbol -> coin, for every instrument listed (parsing prefers it to guessing);
    sizes: symbol -> contract size (OKX ctVal, Binance COIN-M contractSize in USD);
    trading: the symbols trading now (what Bybit subscribes to, what the coin universe holds).
    """

    coins: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, float] = field(default_factory=dict)
    trading: frozenset[str] = frozenset()

    def listed_coins(self) -> frozenset[str]:
        return frozenset(self.coins[s] for s in self.trading if s in self.coins)

    def merged(self, other: Instruments) -> Instruments:
        return Instruments(
            {**self.coins, **other.coins},
            {**self.sizes, **other.sizes},
            self.trading | other.trading,
        )


def _base_coin(value: Any, symbol: str) -> str:
    if isinstance(value, str) and value.strip():
        return coin_from_base(value)
    return coin_from_symbol(symbol)


def binance_instruments(payload: Any) -> Instruments:
    """`GET /fapi/v1/exchangeInfo` (USDⓈ-M) or `/dapi/v1/exchangeInfo` (COIN-M).

    Coins from `baseAsset` (`1000PEPE` → PEPE); COIN-M sizes from `contractSize` (USD per
    contract); trading = `status` (fapi) or `contractStatus` (dapi) TRADING.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("symbols"), list):
        raise FrameError("Binance exchangeInfo: no symbols")
    coins: dict[str, str] = {}
    sizes: dict[str, float] = {}
    trading: set[str] = set()
    for d in payload["symbols"]:
        if not isinstance(d, dict) or not isinstance(d.get("symbol"), str):
            continue  # one odd entry must not hide the others
        symbol = d["symbol"]
        coins[symbol] = _base_coin(d.get("baseAsset"), symbol)
        if "contractSize" in d:
            try:
                size = non_negative(d["contractSize"], "contractSize")
            except FrameError:
                size = 0.0
            if size > 0:
                sizes[symbol] = size
        if (d.get("contractStatus") or d.get("status")) == "TRADING":
            trading.add(symbol)
    return Instruments(coins, sizes, frozenset(trading))


def okx_instruments(payload: Any) -> Instruments:
    """`GET /api/v5/public/instruments` (SWAP or FUTURES): instId -> ctVal and coin.

    The coin is the underlying's base (`uly`/`instFamily` BTC-USD → BTC), else `ctValCcy` of a
    linear contract, else the instId; trading = state live.
    """
    if not isinstance(payload, dict) or payload.get("code") not in ("0", 0):
        raise FrameError("OKX instruments: error or malformed answer")
    data = payload.get("data")
    if not isinstance(data, list):
        raise FrameError("OKX instruments: no data")
    coins: dict[str, str] = {}
    sizes: dict[str, float] = {}
    trading: set[str] = set()
    for d in data:
        if not isinstance(d, dict) or not isinstance(d.get("instId"), str):
            continue
        inst_id = d["instId"]
        family = d.get("uly") or d.get("instFamily")
        if isinstance(family, str) and "-" in family:
            coins[inst_id] = coin_from_base(family.split("-", 1)[0])
        elif d.get("ctType") == "linear":
            coins[inst_id] = _base_coin(d.get("ctValCcy"), inst_id)
        else:
            coins[inst_id] = coin_from_symbol(inst_id)
        # without ctVal its events are skipped and counted, never guessed
        with contextlib.suppress(KeyError, FrameError):
            sizes[inst_id] = non_negative(d["ctVal"], "ctVal")
        if d.get("state") == "live":
            trading.add(inst_id)
    return Instruments(coins, sizes, frozenset(trading))


def okx_ct_values(payload: Any) -> dict[str, float]:
    """instId -> ctVal from an OKX `GET /api/v5/public/instruments` answer."""
    return okx_instruments(payload).sizes


def bybit_instruments(payload: Any) -> tuple[Instruments, str]:
    """(instruments of one page, next cursor) from a Bybit `instruments-info` page.

    Coins from `baseCoin` (`SHIB1000` → SHIB); trading = status Trading.
    """
    if not isinstance(payload, dict) or payload.get("retCode") != 0:
        raise FrameError("Bybit instruments: error or malformed answer")
    result = payload.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("list"), list):
        raise FrameError("Bybit instruments: no list")
    coins: dict[str, str] = {}
    trading: set[str] = set()
    for d in result["list"]:
        if not isinstance(d, dict) or not isinstance(d.get("symbol"), str):
            continue
        coins[d["symbol"]] = _base_coin(d.get("baseCoin"), d["symbol"])
        if d.get("status") == "Trading":
            trading.add(d["symbol"])
    cursor = result.get("nextPageCursor") or ""
    return Instruments(coins, {}, frozenset(trading)), cursor if isinstance(cursor, str) else ""


def bybit_symbols(payload: Any) -> tuple[list[str], str]:
    """(symbols in status Trading, next cursor) from a Bybit instruments-info page."""
    page, cursor = bybit_instruments(payload)
    return sorted(page.trading), cursor
