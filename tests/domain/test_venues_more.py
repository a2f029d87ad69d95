"""Gate, Bitget, HTX, Deribit and BitMEX parsers: shapes, control frames and bad input."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest

from bot.domain.frames import FrameError
from bot.domain.models import Side
from bot.domain.venues_bitmex import BitmexContracts, parse_bitmex
from bot.domain.venues_more import (
    htx_ping,
    htx_text,
    parse_bitget,
    parse_deribit,
    parse_gate,
    parse_htx,
)
from tests.fakes.exchanges import sample


def test_gate_wire_sample_contracts_times_multiplier_times_price() -> None:
    frame = json.dumps(sample("gate_ws_public_liquidates.json"))
    got = parse_gate(frame, {"BTC_USDT": 0.0001})
    # negative size: a sell liquidation ORDER, so longs were liquidated (Gate docs 2026-08-20)
    assert [(e.coin, e.side, e.ts_ms) for e in got] == [
        ("BTC", Side.LONG, 1541486601123),
        ("BTC", Side.LONG, 1541486601456),
    ]
    assert [e.usd for e in got] == pytest.approx([124.5 * 0.0001 * 215.1, 10.5 * 0.0001 * 215.2])


def test_gate_unknown_contract_is_counted_and_control_frames_are_empty() -> None:
    unknown: Counter[str] = Counter()
    frame = json.dumps(sample("gate_ws_public_liquidates.json"))
    assert parse_gate(frame, {}, unknown) == [] and unknown == Counter({"BTC_USDT": 2})
    pong = {"time": 1, "channel": "futures.pong", "event": "", "result": None}
    ack = {"time": 1, "channel": "futures.public_liquidates", "event": "subscribe",
           "result": {"status": "success"}}  # fmt: skip
    assert parse_gate(json.dumps(pong), {}) == parse_gate(json.dumps(ack), {}) == []
    with pytest.raises(FrameError):
        parse_gate(json.dumps({"channel": "futures.public_liquidates", "event": "subscribe",
                               "error": {"code": 2, "message": "unknown contract"}}), {})  # fmt: skip


def test_bitget_wire_sample_and_pong() -> None:
    [e] = parse_bitget(json.dumps(sample("bitget_uta_ws_liquidation.json")))
    assert (e.venue, e.coin, e.side, e.usd) == ("bitget", "BTC", Side.LONG, 37.722858)
    assert parse_bitget("pong") == []
    assert parse_bitget('{"event":"subscribe","arg":{"instType":"usdt-futures"}}') == []


def test_htx_gzip_frames_ping_and_ack() -> None:
    ping = gzip.compress(b'{"op":"ping","ts":"1608226502344"}')
    assert htx_ping(json.loads(htx_text(ping))) == "1608226502344"
    assert parse_htx(ping) == []
    ack = {"op": "sub", "cid": "liqbot", "topic": "public.*.liquidation_orders", "err-code": 0}
    assert parse_htx(gzip.compress(json.dumps(ack).encode())) == []
    with pytest.raises(FrameError):
        parse_htx(gzip.compress(json.dumps(ack | {"err-code": 2001}).encode()))
    with pytest.raises(FrameError):
        parse_htx(b"\x1f\x8b not gzip")


def test_deribit_both_sides_liquidated_gives_two_events_and_linear_is_coins_times_price() -> None:
    trade = {"trade_id": "1", "timestamp": 1_700_000_000_000, "price": 100.0, "amount": 3.0,
             "direction": "buy", "instrument_name": "SOL_USDC-PERPETUAL", "liquidation": "MT"}  # fmt: skip
    frame = {"jsonrpc": "2.0", "method": "subscription",
             "params": {"channel": "trades.future.USDC.100ms", "data": [trade, trade | {
                 "liquidation": None, "trade_id": "2"}]}}  # fmt: skip
    del frame["params"]["data"][1]["liquidation"]  # an ordinary trade
    got = parse_deribit(json.dumps(frame))
    assert [(e.coin, e.side, e.usd) for e in got] == [
        ("SOL", Side.SHORT, 300.0),  # the taker bought: a short was liquidated
        ("SOL", Side.LONG, 300.0),  # the maker sold: a long was liquidated
    ]
    assert parse_deribit('{"jsonrpc":"2.0","id":7,"result":{"version":"1.2.26"}}') == []
    with pytest.raises(FrameError):
        parse_deribit('{"jsonrpc":"2.0","id":1,"error":{"code":11050,"message":"bad_request"}}')


def test_bitmex_linear_contract_is_coins_times_price() -> None:
    contracts = BitmexContracts(linear_coins={"XBTUSDT": 1e-6}, coins={"XBTUSDT": "BTC"})
    frame = {"table": "liquidation", "action": "insert", "data": [
        {"orderID": "a", "symbol": "XBTUSDT", "side": "Sell", "price": 60000, "leavesQty": 2_000_000}]}  # fmt: skip
    [e] = parse_bitmex(json.dumps(frame), contracts, 5)
    assert (e.coin, e.side, e.ts_ms) == ("BTC", Side.LONG, 5)
    assert e.usd == pytest.approx(2 * 60000)
    assert parse_bitmex('{"info":"Welcome to the BitMEX Realtime API."}', contracts, 5) == []
    assert parse_bitmex('{"success":true,"subscribe":"liquidation"}', contracts, 5) == []


@pytest.mark.parametrize(
    ("parser", "frame"),
    [
        (lambda f: parse_gate(f, {"BTC_USDT": 1.0}), '{"channel":"futures.public_liquidates",'
         '"event":"update","result":[{"contract":"BTC_USDT","size":"x","price":"1","time_ms":1}]}'),
        (lambda f: parse_gate(f, {}), '{"channel":"futures.tickers","event":"update"}'),
        (parse_bitget, '{"arg":{"topic":"liquidation"},"data":[{"symbol":"BTCUSDT","side":"long",'
         '"amount":"1","ts":"1"}]}'),
        (parse_bitget, '{"arg":{"topic":"liquidation"},"data":[{"symbol":"BTCUSDT","side":"buy",'
         '"amount":"-1","ts":"1"}]}'),
        (parse_bitget, '{"event":"error","code":30001,"msg":"instType doesn\'t exist"}'),
        (parse_htx, '{"op":"notify","topic":"public.BTC-USDT.liquidation_orders","data":[{}]}'),
        (parse_deribit, '{"method":"subscription","params":{"channel":"trades.future.BTC.100ms",'
         '"data":[{"liquidation":"X","direction":"buy","amount":1,"price":1,"timestamp":1,'
         '"instrument_name":"BTC-PERPETUAL"}]}}'),
        (lambda f: parse_bitmex(f, BitmexContracts(), 1), '{"table":"trade","data":[]}'),
        (lambda f: parse_bitmex(f, BitmexContracts(), 1), '{"table":"liquidation",'
         '"action":"insert","data":[{"symbol":"XBTUSD","side":"Buy","price":1}]}'),
        (parse_bitget, "{not json"),
        (parse_deribit, "[1, 2]"),
    ],
)  # fmt: skip
def test_malformed_frames_raise_frame_error(parser, frame: str) -> None:
    with pytest.raises(FrameError):
        parser(frame)
