"""Pure parsers of Gate, Bitget, HTX and Deribit liquidation frames (BitMEX: venues_bitmex).

Each venue names the side its own way; what each reading rests on is in docs/sources.md
("More venues"), with the recorded frames that prove it:
- Gate `futures.public_liquidates`: `size` is the liquidation ORDER's signed quantity (Gate's
  docs, revision 2026-08-20); a Gate order's size is negative to sell, so negative = a LONG.
- Bitget `liquidation`: `side` is the POSITION side (buy = a LONG liquidated); `amount` is the
  value in the quote coin (Bitget's docs: USDT, USD for coin-M, USDC; amount / price is a round
  quantity on every recorded frame).
- HTX `liquidation_orders`: `direction` is the liquidation ORDER's side (sell = a LONG);
  `trade_turnover` is the USDT value.
- Deribit trades with `liquidation` set: T = the taker was liquidated, M = the maker, MT = both;
  the taker's side is `direction`, the maker's its opposite. Inverse `amount` is USD.
Control frames give []. Anything malformed raises FrameError. No I/O here.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Mapping
from typing import Any

from bot.domain.frames import FrameError, load_json, non_negative, number, timestamp_ms
from bot.domain.market import coin_from_base, coin_from_symbol
from bot.domain.models import Liquidation, Side
from bot.domain.venues import Instruments

_NUMBER_ERRORS = (KeyError, TypeError, ValueError, AttributeError, OverflowError)


def _coin(symbol: Any, coins: Mapping[str, str] | None) -> str:
    if not isinstance(symbol, str) or not symbol:
        raise FrameError("missing symbol")
    coin = (coins or {}).get(symbol) or coin_from_symbol(symbol)
    if not coin:
        raise FrameError(f"no coin in symbol {symbol!r}")
    return coin


def _ms(value: Any) -> int:
    """Milliseconds from a venue time that may be seconds (Gate's `time`)."""
    t = timestamp_ms(value)
    return t * 1000 if t < 10**11 else t


# ---- Gate USDT-settled futures ---------------------------------------------------------------


def parse_gate(
    frame: str | bytes,
    multipliers: Mapping[str, float],
    unknown: Counter[str] | None = None,
    coins: Mapping[str, str] | None = None,
) -> list[Liquidation]:
    """`futures.public_liquidates` updates: result is a list (every liquidation order of the
    contract in one 1 s window) or, from older servers, one object.

    `size` is the liquidation ORDER's quantity, signed as Gate signs orders: negative = a sell =
    a LONG liquidated. USD = |size| contracts × quanto_multiplier (from
    `GET /futures/usdt/contracts`) × price; a contract without a known multiplier is skipped and
    counted in `unknown`.
    """
    msg = load_json(frame)
    if not isinstance(msg, dict):
        raise FrameError("Gate frame is not an object")
    channel, event = msg.get("channel"), msg.get("event")
    if msg.get("error"):
        raise FrameError(f"Gate error: {msg.get('error')}")
    if channel == "futures.pong" or event == "subscribe" or event == "unsubscribe":
        return []
    if channel != "futures.public_liquidates" or event != "update":
        raise FrameError(f"unknown Gate channel {channel!r} event {event!r}")
    result = msg.get("result")
    items: list[Any] = result if isinstance(result, list) else [result]
    out: list[Liquidation] = []
    for d in items:
        try:
            contract = d["contract"]
            size = number(d["size"])
            price = non_negative(d["price"], "price")
            ts = _ms(d.get("time_ms") or d.get("time") or msg["time_ms"])
        except _NUMBER_ERRORS:
            raise FrameError("Gate liquidation with missing or bad contract, size, price") from None
        if not (-1e300 < size < 1e300) or size == 0:
            raise FrameError("Gate liquidation with a bad size")
        mult = multipliers.get(contract)
        if mult is None:
            if unknown is not None:
                unknown[contract] += 1
            continue
        side = Side.LONG if size < 0 else Side.SHORT  # the ORDER's sign: a sell closes a long
        usd = abs(size) * mult * price
        out.append(Liquidation("gate", _coin(contract, coins), side, usd, ts, contract))
    return out


def gate_instruments(payload: Any) -> Instruments:
    """`GET /api/v4/futures/usdt/contracts`: name -> quanto_multiplier and coin (BTC_USDT → BTC);
    trading = not in_delisting (and status trading where it is given)."""
    if not isinstance(payload, list):
        raise FrameError("Gate contracts: not a list")
    coins: dict[str, str] = {}
    sizes: dict[str, float] = {}
    trading: set[str] = set()
    for d in payload:
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            continue
        name = d["name"]
        coins[name] = coin_from_base(name.split("_", 1)[0])
        try:
            mult = non_negative(d.get("quanto_multiplier"), "quanto_multiplier")
        except FrameError:
            mult = 0.0
        if mult > 0:
            sizes[name] = mult
        if not d.get("in_delisting") and d.get("status", "trading") == "trading":
            trading.add(name)
    return Instruments(coins, sizes, frozenset(trading))


# ---- Bitget (UTA v3 public stream) -------------------------------------------------------------

_BITGET_POSITION = {"buy": Side.LONG, "sell": Side.SHORT}
# the futures books with a public `liquidation` topic; `amount` is in each one's quote coin:
# USDT, USD (coin-M: BTCUSD), USDC, all counted as USD
BITGET_INST_TYPES = ("usdt-futures", "coin-futures", "usdc-futures")


def parse_bitget(frame: str | bytes) -> list[Liquidation]:
    """`liquidation` pushes of the three futures books: side = POSITION side, amount = the
    quote-coin value (USDT, USD, USDC). Another instType is refused: its unit is not known.

    Bitget pushes at most the largest long and the largest short per pair per second: a floor.
    """
    if frame == "pong" or frame == b"pong":
        return []
    msg = load_json(frame)
    if not isinstance(msg, dict):
        raise FrameError("Bitget frame is not an object")
    event = msg.get("event")
    if event is not None:
        if event == "subscribe":
            return []
        raise FrameError(f"Bitget event {event!r}: {msg.get('code')} {msg.get('msg')}")
    arg = msg.get("arg")
    if not isinstance(arg, dict) or arg.get("topic") != "liquidation":
        raise FrameError("unknown Bitget topic")
    if str(arg.get("instType", "")).lower() not in BITGET_INST_TYPES:
        raise FrameError(f"Bitget liquidation of an unknown book {arg.get('instType')!r}")
    data = msg.get("data")
    if not isinstance(data, list):
        raise FrameError("Bitget push without data")
    out: list[Liquidation] = []
    for d in data:
        try:
            symbol = d["symbol"]
            side = _BITGET_POSITION[d["side"]]
            usd = non_negative(d["amount"], "amount")
            ts = timestamp_ms(d.get("ts") or msg["ts"])
        except _NUMBER_ERRORS:
            raise FrameError("Bitget entry with missing or bad symbol, side, amount, ts") from None
        out.append(Liquidation("bitget", _coin(symbol, None), side, usd, ts, symbol))
    return out


# ---- HTX (Huobi) USDT-margined swaps -----------------------------------------------------------

_ORDER_DIRECTION = {"sell": Side.LONG, "buy": Side.SHORT}


def htx_text(frame: str | bytes) -> str:
    """HTX sends gzip-compressed binary frames; tests and proxies may send text."""
    if isinstance(frame, bytes):
        try:
            return gzip.decompress(frame).decode()
        except (OSError, EOFError, UnicodeDecodeError, ValueError):
            raise FrameError("HTX frame is not gzip JSON") from None
    return frame


def htx_ping(msg: Any) -> Any:
    """The `ts` of a server ping (`{"op":"ping","ts":...}`, answered with op pong), else None."""
    if isinstance(msg, dict) and msg.get("op") == "ping":
        return msg.get("ts")
    return None


def parse_htx_message(msg: Any) -> list[Liquidation]:
    """A decoded `public.*.liquidation_orders` notification (or ack, ping) -> liquidations.

    `direction` is the liquidation ORDER side (sell = a LONG). USD = `trade_turnover` (USDT);
    if absent, `amount` (coins) × `price`.
    """
    if not isinstance(msg, dict):
        raise FrameError("HTX frame is not an object")
    op = msg.get("op")
    if op in ("ping", "sub", "unsub"):
        code = msg.get("err-code", 0)
        if code not in (0, "0", None):
            raise FrameError(f"HTX refused {op}: {code} {msg.get('err-msg')}")
        return []
    topic = msg.get("topic")
    if op != "notify" or not isinstance(topic, str) or not topic.endswith(".liquidation_orders"):
        raise FrameError(f"unknown HTX message {op!r} {topic!r}")
    data = msg.get("data")
    if not isinstance(data, list):
        raise FrameError("HTX notification without data")
    out: list[Liquidation] = []
    for d in data:
        try:
            code = d["contract_code"]
            side = _ORDER_DIRECTION[d["direction"]]
            if d.get("trade_turnover") is not None:
                usd = non_negative(d["trade_turnover"], "trade_turnover")
            else:
                usd = non_negative(d["amount"], "amount") * non_negative(d["price"], "price")
            ts = timestamp_ms(d.get("created_at") or msg["ts"])
        except _NUMBER_ERRORS:
            raise FrameError(
                "HTX entry with missing or bad contract_code, direction, size"
            ) from None
        coin = (
            coin_from_base(d["symbol"]) if isinstance(d.get("symbol"), str) else _coin(code, None)
        )
        out.append(Liquidation("htx", coin, side, usd, ts, code))
    return out


def parse_htx(frame: str | bytes) -> list[Liquidation]:
    return parse_htx_message(load_json(htx_text(frame)))


# ---- Deribit ------------------------------------------------------------------------------------

_TAKER = {"sell": Side.LONG, "buy": Side.SHORT}  # a liquidated taker's order side


def _deribit_linear(name: str) -> bool:
    return "_USDC" in name or "_USDT" in name  # SOL_USDC-PERPETUAL; inverse: BTC-PERPETUAL


def parse_deribit(frame: str | bytes) -> list[Liquidation]:
    """`trades.{kind}.{currency}.{interval}` notifications: only trades with `liquidation` count.

    T: the taker was liquidated (its side is `direction`); M: the maker (the opposite side); MT:
    both, one event each. Inverse contracts: `amount` is USD; linear (`_USDC`): coins × price.
    """
    msg = load_json(frame)
    if not isinstance(msg, dict):
        raise FrameError("Deribit frame is not an object")
    if "error" in msg:
        err = msg["error"]
        raise FrameError(f"Deribit error: {err.get('message') if isinstance(err, dict) else err}")
    if msg.get("method") != "subscription":
        if "result" in msg or msg.get("method") == "heartbeat":  # acks, public/test answers
            return []
        raise FrameError(f"unknown Deribit message {msg.get('method')!r}")
    params = msg.get("params")
    if not isinstance(params, dict) or not str(params.get("channel", "")).startswith("trades."):
        raise FrameError("unknown Deribit channel")
    data = params.get("data")
    if not isinstance(data, list):
        raise FrameError("Deribit trades without data")
    out: list[Liquidation] = []
    for d in data:
        if not isinstance(d, dict):
            raise FrameError("Deribit trade is not an object")
        who = d.get("liquidation")
        if who is None:
            continue  # an ordinary trade
        try:
            name = d["instrument_name"]
            taker = _TAKER[d["direction"]]
            amount = non_negative(d["amount"], "amount")
            price = non_negative(d["price"], "price")
            ts = timestamp_ms(d["timestamp"])
        except _NUMBER_ERRORS:
            raise FrameError("Deribit trade with missing or bad instrument, direction") from None
        if who not in ("T", "M", "MT", "TM"):
            raise FrameError(f"unknown Deribit liquidation flag {who!r}")
        usd = amount * price if _deribit_linear(name) else amount
        coin = _coin(name.split("_", 1)[0] if _deribit_linear(name) else name, None)
        sides = []
        if "T" in who:
            sides.append(taker)
        if "M" in who:
            sides.append(Side.SHORT if taker is Side.LONG else Side.LONG)
        out.extend(Liquidation("deribit", coin, s, usd, ts, name) for s in sides)
    return out
