"""Pure parsers of venue frames: raw websocket text (or REST JSON) -> normalized Liquidations.

Side conventions differ per venue and are the classic bug here:
- Binance and OKX send the ORDER side: SELL/sell = a LONG was liquidated (forced sell).
- Bybit sends the POSITION side: Buy = a LONG was liquidated.
Control frames (acks, pongs) give []. Anything malformed or unknown raises FrameError, so a
source can count it and move on. No I/O here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from bot.domain.frames import FrameError, load_json, non_negative
from bot.domain.market import coin_from_symbol
from bot.domain.models import Liquidation, Side

# symbol -> coin is hot (every event) and the set of symbols is small: cache it.
_COIN_CACHE: dict[str, str] = {}


def _coin(symbol: str) -> str:
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

_ORDER_SIDE = {"SELL": Side.LONG, "BUY": Side.SHORT, "sell": Side.LONG, "buy": Side.SHORT}

# COIN-M contract sizes in USD (exchangeInfo `contractSize`): 100 for BTC, 10 for the others.
COIN_M_CONTRACT_USD: dict[str, float] = {"BTC": 100.0}
COIN_M_DEFAULT_USD = 10.0


def _binance_order(o: Any, event_ms: Any, contract_usd: Mapping[str, float] | None) -> Liquidation:
    # the hot path: plain dict lookups and float(); any surprise falls into one except
    try:
        symbol = o["s"]
        side = _ORDER_SIDE[o["S"]]
        qty = float(o["z"])
        ts = int(o.get("T", event_ms))
        coin = _COIN_CACHE.get(symbol) or _coin(symbol)
        # COIN-M contracts are dated or perpetual on a USD pair: BTCUSD_200925, BTCUSD_PERP
        if "_" in symbol or "ps" in o:
            table = COIN_M_CONTRACT_USD if contract_usd is None else contract_usd
            price = table.get(coin, COIN_M_DEFAULT_USD)
        else:
            price = float(o["ap"])
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        raise FrameError("forceOrder with missing or bad s, S, z, ap or T") from None
    if not (0.0 <= qty < 1e300 and 0.0 <= price < 1e300 and 0 < ts < 10**14):
        raise FrameError("forceOrder with an out-of-range number")  # NaN fails too
    return Liquidation("binance", coin, side, qty * price, ts, symbol)


def parse_binance(
    frame: str | bytes, contract_usd: Mapping[str, float] | None = None
) -> list[Liquidation]:
    """Binance `forceOrder` events: a single event, a combined-stream wrapper, or an array.

    USDⓈ-M: USD = z × ap. COIN-M (symbol with `_`): USD = contracts × contract size.
    """
    msg = load_json(frame)
    if type(msg) is dict and msg.get("e") == "forceOrder":  # the common case, first
        return [_binance_order(msg.get("o"), msg.get("E"), contract_usd)]
    if isinstance(msg, dict) and "stream" in msg and "data" in msg:  # /stream?streams=... form
        msg = msg["data"]
    items = msg if isinstance(msg, list) else [msg]
    out: list[Liquidation] = []
    for m in items:
        if not isinstance(m, dict):
            raise FrameError("Binance frame is not an object")
        e = m.get("e")
        if e == "forceOrder":
            out.append(_binance_order(m.get("o"), m.get("E"), contract_usd))
        elif e is None and "id" in m and "result" in m:  # subscription ack
            continue
        else:
            raise FrameError(f"unknown Binance event {e!r}")
    return out


# ---- Bybit v5 ------------------------------------------------------------------------------

_POSITION_SIDE = {"Buy": Side.LONG, "Sell": Side.SHORT}


def _bybit_inverse(symbol: str) -> bool:
    # inverse contracts quote in USD (BTCUSD, BTCUSDH25); linear ones in USDT or USDC
    return "USD" in symbol and "USDT" not in symbol and "USDC" not in symbol


def parse_bybit(frame: str | bytes) -> list[Liquidation]:
    """Bybit `allLiquidation.{symbol}` pushes. S is the POSITION side: Buy = a LONG liquidated.

    Linear USD = v × p; inverse: v is already USD.
    """
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
            size = float(d["v"] if "v" in d else d["size"])
            ts = int(d.get("T") or d.get("updatedTime") or msg["ts"])
            coin = _COIN_CACHE.get(symbol) or _coin(symbol)
            # inverse contracts quote in USD (BTCUSD, BTCUSDH25): v is already USD
            price = 1.0 if _bybit_inverse(symbol) else float(d["p"] if "p" in d else d["price"])
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            raise FrameError("Bybit entry with missing or bad s, S, v, p or T") from None
        if not (0.0 <= size < 1e300 and 0.0 <= price < 1e300 and 0 < ts < 10**14):
            raise FrameError("Bybit entry with an out-of-range number")
        out.append(Liquidation("bybit", coin, side, size * price, ts, symbol))
    return out


# ---- OKX v5 ----------------------------------------------------------------------------------


def _okx_inverse(inst_id: str) -> bool:
    return "-USD-" in inst_id  # BTC-USD-SWAP, BTC-USD-250926; linear: BTC-USDT-SWAP


def parse_okx(
    frame: str | bytes,
    ct_val: Mapping[str, float],
    unknown: Counter[str] | None = None,
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
        coin = _COIN_CACHE.get(inst_id) or _coin(inst_id)
        inverse = _okx_inverse(inst_id)
        for d in details:
            try:
                side = _ORDER_SIDE[d["side"]]
                sz = float(d["sz"])
                px = 1.0 if inverse else float(d["bkPx"])
                ts = int(d["ts"])
            except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
                raise FrameError("OKX detail with missing or bad side, sz, bkPx or ts") from None
            if not (0.0 <= sz < 1e300 and 0.0 <= px < 1e300 and 0 < ts < 10**14):
                raise FrameError("OKX detail with an out-of-range number")
            out.append(Liquidation("okx", coin, side, sz * ctv * px, ts, inst_id))
    return out


def okx_ct_values(payload: Any) -> dict[str, float]:
    """instId -> ctVal from an OKX `GET /api/v5/public/instruments` answer."""
    if not isinstance(payload, dict) or payload.get("code") not in ("0", 0):
        raise FrameError("OKX instruments: error or malformed answer")
    data = payload.get("data")
    if not isinstance(data, list):
        raise FrameError("OKX instruments: no data")
    out: dict[str, float] = {}
    for d in data:
        try:
            out[d["instId"]] = non_negative(d["ctVal"], "ctVal")
        except (KeyError, TypeError, FrameError):
            continue  # one odd instrument must not hide the others
    return out


def bybit_symbols(payload: Any) -> tuple[list[str], str]:
    """(symbols in status Trading, next cursor) from a Bybit instruments-info page."""
    if not isinstance(payload, dict) or payload.get("retCode") != 0:
        raise FrameError("Bybit instruments: error or malformed answer")
    result = payload.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("list"), list):
        raise FrameError("Bybit instruments: no list")
    symbols = [
        d["symbol"]
        for d in result["list"]
        if isinstance(d, dict) and d.get("status") == "Trading" and isinstance(d.get("symbol"), str)
    ]
    cursor = result.get("nextPageCursor") or ""
    return symbols, cursor if isinstance(cursor, str) else ""
