"""Pure parsers of venue frames: raw websocket text (or REST JSON) -> normalized Liquidations.

Side conventions differ per venue and are the classic bug here:
- Binance and OKX send the ORDER side: SELL/sell = a LONG was liquidated (forced sell).
- Bybit sends the POSITION side: Buy = a LONG was liquidated.
Control frames (acks, pongs) give []. Anything malformed or unknown raises FrameError, so a
source can count it and move on. No I/O here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.market import coin_from_symbol
from bot.domain.models import ALL, Liquidation, Side, VenueSplit, WindowTotals


class FrameError(ValueError):
    """A frame that is malformed or of an unknown kind: count it and skip it."""


class CoinGlassError(FrameError):
    """A CoinGlass error envelope (`code` other than "0")."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"CoinGlass error {code}: {msg}")
        self.code = code
        self.msg = msg


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


_scan = json.JSONDecoder().scan_once  # the C scanner: skips json.loads' Python layers


def _load(frame: str | bytes) -> Any:
    try:
        text = frame.decode() if type(frame) is bytes else frame
        obj, end = _scan(text, 0)
    except StopIteration:  # leading whitespace, or nothing that starts a JSON value
        try:
            return json.loads(frame)
        except (ValueError, TypeError, RecursionError) as e:
            raise FrameError(f"not JSON: {e}") from None
    except (ValueError, TypeError, AttributeError, RecursionError) as e:
        raise FrameError(f"not JSON: {e}") from None  # UnicodeDecodeError is a ValueError
    if end != len(text) and text[end:].strip():
        raise FrameError("trailing data after JSON")
    return obj


def _num(value: Any, what: str) -> float:
    """A finite, non-negative number from a JSON number or numeric string."""
    if isinstance(value, bool):
        raise FrameError(f"bad {what}: {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise FrameError(f"bad {what}: {value!r}") from None
    if not (0.0 <= x < 1e300):  # rejects NaN, inf and negatives
        raise FrameError(f"bad {what}: {value!r}")
    return x


def _ts(value: Any) -> int:
    if isinstance(value, bool):
        raise FrameError(f"bad timestamp: {value!r}")
    try:
        t = int(value)
    except (TypeError, ValueError, OverflowError):
        raise FrameError(f"bad timestamp: {value!r}") from None
    if not (0 < t < 10**14):
        raise FrameError(f"bad timestamp: {value!r}")
    return t


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
    msg = _load(frame)
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
    msg = _load(frame)
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
    msg = _load(frame)
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
            out[d["instId"]] = _num(d["ctVal"], "ctVal")
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


# ---- CoinGlass v4 ----------------------------------------------------------------------------

COINGLASS_WINDOWS: dict[str, int] = {"1h": 60, "4h": 240, "12h": 720, "24h": 1440}


def coinglass_data(payload: str | bytes | Any) -> Any:
    """The `data` of a CoinGlass envelope; CoinGlassError for an error envelope."""
    msg = _load(payload) if isinstance(payload, (str, bytes)) else payload
    if not isinstance(msg, dict) or "code" not in msg:
        raise FrameError("not a CoinGlass envelope")
    code = str(msg["code"])
    if code != "0":
        raise CoinGlassError(code, str(msg.get("msg", "")))
    if "data" not in msg:
        raise FrameError("CoinGlass envelope without data")
    return msg["data"]


def coinglass_coin_list(payload: str | bytes | Any) -> dict[tuple[str, int], WindowTotals]:
    """coin-list (one exchange): (coin, window minutes) -> totals, for 1h/4h/12h/24h."""
    data = coinglass_data(payload)
    if not isinstance(data, list):
        raise FrameError("CoinGlass coin-list: data is not a list")
    out: dict[tuple[str, int], WindowTotals] = {}
    for row in data:
        if not isinstance(row, dict) or not isinstance(row.get("symbol"), str):
            raise FrameError("CoinGlass coin-list: bad row")
        coin = row["symbol"].upper()
        for label, minutes in COINGLASS_WINDOWS.items():
            longs = _num(row.get(f"long_liquidation_usd_{label}"), "long USD")
            shorts = _num(row.get(f"short_liquidation_usd_{label}"), "short USD")
            out[(coin, minutes)] = WindowTotals(longs, shorts)
    return out


def coinglass_exchange_list(
    payload: str | bytes | Any,
) -> tuple[WindowTotals, tuple[VenueSplit, ...]]:
    """exchange-list (one coin, one range): the All row and per-venue splits, biggest first."""
    data = coinglass_data(payload)
    if not isinstance(data, list):
        raise FrameError("CoinGlass exchange-list: data is not a list")
    all_row: WindowTotals | None = None
    venues: list[VenueSplit] = []
    for row in data:
        if not isinstance(row, dict) or not isinstance(row.get("exchange"), str):
            raise FrameError("CoinGlass exchange-list: bad row")
        longs = _num(row.get("long_liquidation_usd"), "long USD")
        shorts = _num(row.get("short_liquidation_usd"), "short USD")
        name = row["exchange"]
        if name.upper() == ALL:
            all_row = WindowTotals(longs, shorts)
        else:
            venues.append(VenueSplit(name.lower(), longs, shorts))
    venues.sort(key=lambda v: v.total, reverse=True)
    if all_row is None:  # no All row: the venues are the whole answer
        all_row = WindowTotals(sum(v.longs for v in venues), sum(v.shorts for v in venues))
    return all_row, tuple(venues)


# ---- CoinGlass v4 history (charts and backtests) --------------------------------------------


@dataclass(frozen=True)
class HistoryPoint:
    """One CoinGlass history bucket: its start (ms, UTC) and the long/short USD liquidated."""

    time_ms: int
    longs: float
    shorts: float

    @property
    def total(self) -> float:
        return self.longs + self.shorts


def _coinglass_history(
    payload: str | bytes | Any, long_key: str, short_key: str, what: str
) -> list[HistoryPoint]:
    data = coinglass_data(payload)
    if not isinstance(data, list):
        raise FrameError(f"CoinGlass {what}: data is not a list")
    out: list[HistoryPoint] = []
    for row in data:
        if not isinstance(row, dict):
            raise FrameError(f"CoinGlass {what}: bad row")
        out.append(
            HistoryPoint(
                _ts(row.get("time")),
                _num(row.get(long_key), "long USD"),
                _num(row.get(short_key), "short USD"),
            )
        )
    out.sort(key=lambda p: p.time_ms)
    return out


def coinglass_aggregated_history(payload: str | bytes | Any) -> list[HistoryPoint]:
    """aggregated-history (one coin over an exchange list): buckets sorted by time.

    `time` in ms; `aggregated_long_liquidation_usd` / `aggregated_short_liquidation_usd` numbers.
    """
    return _coinglass_history(
        payload,
        "aggregated_long_liquidation_usd",
        "aggregated_short_liquidation_usd",
        "aggregated-history",
    )


def coinglass_pair_history(payload: str | bytes | Any) -> list[HistoryPoint]:
    """history (one pair on one exchange): buckets sorted by time; the USD values are strings."""
    return _coinglass_history(
        payload, "long_liquidation_usd", "short_liquidation_usd", "pair history"
    )
