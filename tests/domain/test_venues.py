"""Golden tests of the venue parsers on every wire sample, plus malformed frames and fuzzing."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.coinglass_payloads import (
    CoinGlassError,
    HistoryPoint,
    coinglass_aggregated_history,
    coinglass_coin_list,
    coinglass_data,
    coinglass_exchange_list,
    coinglass_pair_history,
)
from bot.domain.models import ALL, Liquidation, Side, VenueSplit, WindowTotals
from bot.domain.venues import (
    FrameError,
    bybit_symbols,
    okx_ct_values,
    parse_binance,
    parse_bybit,
    parse_okx,
)

# verbatim copies of shared/reference/wire-samples (venue docs), kept with the tests
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "wire-samples"


def raw(name: str) -> str:
    return (SAMPLES / name).read_text()


def sub(name: str, key: str) -> str:
    return json.dumps(json.loads(raw(name))[key])


# ---- golden: every sample file of the venues we parse -------------------------------------


def test_binance_um_sample_sell_is_a_long_and_usd_is_z_times_ap() -> None:
    [e] = parse_binance(raw("binance_um_forceOrder.json"))
    assert e == Liquidation(
        "binance", "BTC", Side.LONG, pytest.approx(0.014 * 9910), 1568014460893, "BTCUSDT", 9910
    )
    assert e.usd == pytest.approx(138.74)


def test_binance_cm_sample_counts_contracts_of_their_exchange_info_size() -> None:
    sizes = {"BTCUSD_200925": 100.0, "ETHUSD_200925": 10.0}
    [e] = parse_binance(raw("binance_cm_forceOrder.json"), contract_usd=sizes)
    assert (e.coin, e.side, e.usd, e.ts_ms) == ("BTC", Side.LONG, 100.0, 1591154240949)
    eth = (
        raw("binance_cm_forceOrder.json").replace("BTCUSD", "ETHUSD").replace('"z":"1"', '"z":"7"')
    )
    assert parse_binance(eth, contract_usd=sizes)[0].usd == 70.0
    # no size known: skipped and counted, never priced by a guess
    unknown: Counter[str] = Counter()
    assert parse_binance(eth, contract_usd={}, unknown=unknown) == []
    assert unknown == Counter({"ETHUSD_200925": 1})


def test_the_stream_not_the_fields_decides_usdm_or_coin_m() -> None:
    """The COIN-M docs sample read as USDⓈ-M is z × ap: `ps` and `_` in the symbol mean nothing."""
    [e] = parse_binance(raw("binance_cm_forceOrder.json"))
    assert e.usd == 1 * 9496.5
    um = json.loads(raw("binance_um_forceOrder.json"))
    um["o"].update(ps="BTCUSDT", st=1, s="BTCUSDT_210924")
    [q] = parse_binance(json.dumps(um))
    assert (q.coin, q.usd) == ("BTC", pytest.approx(0.014 * 9910))


def test_learned_coins_win_over_the_symbol_mapping() -> None:
    um = raw("binance_um_forceOrder.json").replace("BTCUSDT", "XYZ9USDT")
    assert parse_binance(um)[0].coin == "XYZ9"
    assert parse_binance(um, {"XYZ9USDT": "XYZ"})[0].coin == "XYZ"


def test_binance_buy_is_a_short_and_array_and_combined_forms() -> None:
    one = json.loads(raw("binance_um_forceOrder.json"))
    buy = json.loads(json.dumps(one))
    buy["o"].update(S="BUY", s="1000PEPEUSDT", z="2000000", ap="0.00001")
    events = parse_binance(json.dumps([one, buy]))
    assert [(e.coin, e.side) for e in events] == [("BTC", Side.LONG), ("PEPE", Side.SHORT)]
    assert events[1].usd == pytest.approx(20.0)
    wrapped = json.dumps({"stream": "!forceOrder@arr", "data": buy})
    assert parse_binance(wrapped)[0].side is Side.SHORT
    assert parse_binance(b'{"result":null,"id":1}') == []


def test_bybit_sample_sell_is_a_short_position_and_usd_is_v_times_p() -> None:
    [e] = parse_bybit(raw("bybit_allLiquidation.json"))
    assert (e.venue, e.coin, e.side, e.ts_ms, e.symbol) == (
        "bybit", "ROSE", Side.SHORT, 1739502302929, "ROSEUSDT",
    )  # fmt: skip
    assert e.usd == pytest.approx(20000 * 0.04499)


def test_bybit_buy_is_a_long_with_several_entries() -> None:
    frame = {
        "topic": "allLiquidation.BTCUSDT",
        "ts": 1,
        "data": [
            {"T": 1739502302929, "s": "BTCUSDT", "S": "Buy", "v": "0.5", "p": "100000"},
            {"T": 1739502302930, "s": "BTCUSDT", "S": "Sell", "v": "0.25", "p": "100000"},
        ],
    }
    events = parse_bybit(json.dumps(frame))
    assert [(e.side, e.usd) for e in events] == [(Side.LONG, 50000.0), (Side.SHORT, 25000.0)]


def test_bybit_the_stream_decides_inverse_sizing_never_the_symbol() -> None:
    """The inverse stream's v counts 1-USD contracts: USD = v, the price is kept for alerts.
    The same frame on the linear stream is v coins × p, whatever its symbol looks like."""
    frame = json.dumps(
        {
            "topic": "allLiquidation.BTCUSD",
            "ts": 1,
            "data": [{"T": 1739502302931, "s": "BTCUSD", "S": "Buy", "v": "5000", "p": "100000"}],
        }
    )
    [inv] = parse_bybit(frame, inverse=True)
    assert (inv.venue, inv.coin, inv.side, inv.usd, inv.price) == (
        "bybit", "BTC", Side.LONG, 5000.0, 100000.0,
    )  # fmt: skip
    [lin] = parse_bybit(frame)  # a linear stream never carries BTCUSD; if it did: v × p
    assert lin.usd == 5000 * 100000.0


def test_bybit_control_frames_are_empty() -> None:
    samples = json.loads(raw("bybit_subscribe_and_pong.json"))
    assert parse_bybit(json.dumps(samples["pong_linear"])) == []
    ack = {"success": True, "ret_msg": "", "conn_id": "x", "op": "subscribe"}
    assert parse_bybit(json.dumps(ack)) == []
    with pytest.raises(FrameError, match="refused"):
        parse_bybit(json.dumps({**ack, "success": False, "ret_msg": "bad topic"}))


def test_okx_sample_buy_is_a_short_and_usd_uses_ct_val() -> None:
    push = sub("okx_ws_liquidation_orders.json", "push")
    [e] = parse_okx(push, {"IOST-USDT-SWAP": 1000.0})
    assert (e.venue, e.coin, e.side, e.ts_ms) == ("okx", "IOST", Side.SHORT, 1692266434010)
    assert e.usd == pytest.approx(13 * 1000 * 0.007831)
    # without its ctVal the same push is skipped, never priced as if ctVal were 1
    unknown: Counter[str] = Counter()
    assert parse_okx(push, {}, unknown) == []
    assert unknown == Counter({"IOST-USDT-SWAP": 1})


def test_okx_every_detail_inverse_and_unknown_ct_val_counted() -> None:
    msg = {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [
            {
                "instId": "BTC-USDT-SWAP",
                "details": [
                    {"side": "sell", "sz": "100", "bkPx": "50000", "ts": "1700000000000"},
                    {"side": "buy", "sz": "20", "bkPx": "51000", "ts": "1700000000001"},
                ],
            },
            {
                "instId": "BTC-USD-SWAP",
                "details": [{"side": "sell", "sz": "3", "bkPx": "9", "ts": "1"}],
            },
            {
                "instId": "NEW-USDT-SWAP",
                "details": [{"side": "sell", "sz": "1", "bkPx": "1", "ts": "1"}] * 2,
            },
        ],
    }
    unknown: Counter[str] = Counter()
    ct = {"BTC-USDT-SWAP": 0.01, "BTC-USD-SWAP": 100.0}
    events = parse_okx(json.dumps(msg), ct, unknown)
    assert [(e.side, e.usd) for e in events] == [
        (Side.LONG, pytest.approx(100 * 0.01 * 50000)),
        (Side.SHORT, pytest.approx(20 * 0.01 * 51000)),
        (Side.LONG, 300.0),  # inverse: sz × ctVal, no price
    ]
    assert unknown == Counter({"NEW-USDT-SWAP": 2})


def test_okx_control_frames() -> None:
    assert parse_okx("pong", {}) == []
    assert parse_okx(b"pong", {}) == []
    assert parse_okx('{"event":"subscribe","arg":{"channel":"liquidation-orders"}}', {}) == []
    with pytest.raises(FrameError, match="error"):
        parse_okx('{"event":"error","code":"60012","msg":"Invalid request"}', {})


def test_coinglass_coin_list_sample_all_windows() -> None:
    totals = coinglass_coin_list(raw("coinglass_coin_list.json"))
    assert set(totals) == {("BTC", 60), ("BTC", 240), ("BTC", 720), ("BTC", 1440)}
    assert totals[("BTC", 60)] == WindowTotals(3182915.16289, 100720.7902)
    assert totals[("BTC", 1440)] == WindowTotals(68437447.33734027, 13843034.16691298)
    assert totals[("BTC", 240)].total == pytest.approx(11381137.080643)


def test_coinglass_exchange_list_sample_all_row_and_venues() -> None:
    all_row, venues = coinglass_exchange_list(raw("coinglass_exchange_list.json"))
    assert all_row == WindowTotals(451394.17404598, 14222125.64334477)
    assert venues == (VenueSplit("bybit", 104560.13885, 4480729.99519),)
    assert ALL == "ALL"


def test_coinglass_error_envelope_code_is_a_string() -> None:
    with pytest.raises(CoinGlassError) as info:
        coinglass_data('{"code":"401","msg":"API key missing"}')
    assert (info.value.code, info.value.msg) == ("401", "API key missing")
    assert isinstance(info.value, FrameError)
    assert coinglass_data({"code": "0", "msg": "success", "data": []}) == []


def test_rest_instrument_helpers() -> None:
    page = {
        "retCode": 0,
        "result": {
            "list": [
                {"symbol": "BTCUSDT", "status": "Trading"},
                {"symbol": "OLDUSDT", "status": "Closed"},
            ],
            "nextPageCursor": "abc",
        },
    }
    assert bybit_symbols(page) == (["BTCUSDT"], "abc")
    okx = {"code": "0", "data": [{"instId": "BTC-USDT-SWAP", "ctVal": "0.01"}, {"instId": "X"}]}
    assert okx_ct_values(okx) == {"BTC-USDT-SWAP": 0.01}


# ---- malformed frames ---------------------------------------------------------------------

MALFORMED = [
    (parse_binance, "not json"),
    (parse_binance, b"\xff\xfe"),
    (parse_binance, "42"),
    (parse_binance, '{"e":"aggTrade"}'),
    (parse_binance, '{"e":"forceOrder","E":1}'),
    (parse_binance, '{"e":"forceOrder","o":{"s":"BTCUSDT","S":"HOLD","z":"1","ap":"1","T":1}}'),
    (parse_binance, '{"e":"forceOrder","o":{"s":"BTCUSDT","S":"SELL","z":"-1","ap":"1","T":1}}'),
    (parse_binance, '{"e":"forceOrder","o":{"s":"BTCUSDT","S":"SELL","z":"NaN","ap":"1","T":1}}'),
    (parse_binance, '{"e":"forceOrder","o":{"s":"BTCUSDT","S":"SELL","z":"1","ap":"x","T":1}}'),
    (parse_binance, '{"e":"forceOrder","o":{"s":"BTCUSDT","S":"SELL","z":"1","ap":"1","T":"t"}}'),
    (parse_bybit, "[]"),
    (parse_bybit, '{"topic":"orderbook.50.BTCUSDT","data":{}}'),
    (parse_bybit, '{"topic":"allLiquidation.BTCUSDT","data":"x"}'),
    (
        parse_bybit,
        '{"topic":"allLiquidation.BTCUSDT","data":[{"s":"BTCUSDT","S":"Up","v":"1","p":"1","T":1}]}',
    ),
    (
        parse_bybit,
        '{"topic":"allLiquidation.BTCUSDT","data":[{"s":"BTCUSDT","S":"Buy","v":"1","T":1}]}',
    ),
    (parse_bybit, '{"hello":1}'),
    (parse_okx, "ping?"),
    (parse_okx, '{"arg":{"channel":"tickers"},"data":[]}'),
    (parse_okx, '{"arg":{"channel":"liquidation-orders"},"data":[{"instId":"BTC-USDT-SWAP"}]}'),
    (
        parse_okx,
        '{"arg":{"channel":"liquidation-orders"},"data":[{"instId":"BTC-USDT-SWAP","details":[{"side":"up","sz":"1","bkPx":"1","ts":"1"}]}]}',
    ),
    (coinglass_data, '{"msg":"no code"}'),
    (coinglass_data, '{"code":"0","msg":"no data"}'),
    (coinglass_coin_list, '{"code":"0","data":[{"symbol":"BTC"}]}'),
    (coinglass_exchange_list, '{"code":"0","data":{"exchange":"All"}}'),
]


@pytest.mark.parametrize(("parser", "frame"), MALFORMED)
def test_malformed_frames_raise_frame_error(parser, frame) -> None:
    args = (frame, {"BTC-USDT-SWAP": 0.01}) if parser is parse_okx else (frame,)
    with pytest.raises(FrameError):
        parser(*args)


# ---- fuzz: nothing but FrameError escapes --------------------------------------------------

_PARSERS = [
    parse_binance,
    parse_bybit,
    lambda f: parse_okx(f, {"BTC-USDT-SWAP": 0.01}, Counter()),
    coinglass_coin_list,
    coinglass_exchange_list,
]

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.sampled_from(
        ["e", "E", "o", "s", "S", "z", "ap", "T", "topic", "data", "v", "p", "arg", "channel",
         "instId", "details", "side", "sz", "bkPx", "ts", "code", "msg", "symbol", "exchange",
         "op", "success", "event", "stream", "ps"]), kids, max_size=6),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary(), _json.map(json.dumps)), st.integers(0, len(_PARSERS) - 1))
def test_arbitrary_input_raises_only_frame_error(frame, which) -> None:
    try:
        result = _PARSERS[which](frame)
    except FrameError:
        return
    assert isinstance(result, (list, dict, tuple))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["BTCUSDT", "ETHUSDT", "1000PEPEUSDT"]), st.sampled_from(["BUY", "SELL"]),
       st.floats(0, 1e6), st.floats(0, 1e6))  # fmt: skip
def test_binance_usd_is_z_times_ap_for_any_numbers(symbol, side, z, ap) -> None:
    frame = {
        "e": "forceOrder",
        "E": 1,
        "o": {"s": symbol, "S": side, "z": str(z), "ap": str(ap), "T": 5},
    }
    [e] = parse_binance(json.dumps(frame))
    assert e.usd == pytest.approx(z * ap)
    assert e.side is (Side.LONG if side == "SELL" else Side.SHORT)


# ---- CoinGlass history (aggregated and pair) -------------------------------------------------


def test_coinglass_aggregated_history_sample_numbers() -> None:
    points = coinglass_aggregated_history(raw("coinglass_aggregated_history.json"))
    assert points == [
        HistoryPoint(1658966400000, 5916885.14234, 12969583.87632),
        HistoryPoint(1659052800000, 5345708.23191, 6454875.54909),
    ]
    assert points[0].total == pytest.approx(5916885.14234 + 12969583.87632)


def test_coinglass_pair_history_sample_string_values() -> None:
    points = coinglass_pair_history(raw("coinglass_pair_history.json"))
    assert points == [
        HistoryPoint(1658880000000, 2369935.19562, 6947459.43674),
        HistoryPoint(1658966400000, 5118407.85124, 8517330.44192),
    ]
    assert all(isinstance(p.longs, float) and isinstance(p.shorts, float) for p in points)


def test_coinglass_history_is_sorted_by_time_and_accepts_a_parsed_payload() -> None:
    body = json.loads(raw("coinglass_aggregated_history.json"))
    body["data"].reverse()  # newest first on the wire
    points = coinglass_aggregated_history(body)
    assert [p.time_ms for p in points] == [1658966400000, 1659052800000]
    assert coinglass_pair_history({"code": "0", "msg": "success", "data": []}) == []


def test_coinglass_history_error_envelope() -> None:
    with pytest.raises(CoinGlassError) as info:
        coinglass_aggregated_history('{"code":"400","msg":"interval not supported"}')
    assert info.value.code == "400" and "interval" in info.value.msg
    with pytest.raises(CoinGlassError):
        coinglass_pair_history({"code": 429, "msg": "Too Many Requests"})


_AGG = '{"code":"0","data":[{"time":%s,"aggregated_long_liquidation_usd":%s,"aggregated_short_liquidation_usd":%s}]}'
_PAIR = '{"code":"0","data":[{"time":%s,"long_liquidation_usd":%s,"short_liquidation_usd":%s}]}'


@pytest.mark.parametrize(
    ("parser", "frame"),
    [
        (coinglass_aggregated_history, '{"code":"0","data":{"time":1}}'),  # data not a list
        (coinglass_aggregated_history, '{"code":"0","data":[5]}'),  # row not an object
        (coinglass_aggregated_history, '{"code":"0","data":[{"time":1658966400000}]}'),
        (coinglass_aggregated_history, _AGG % ('"x"', 1, 2)),  # bad time
        (coinglass_aggregated_history, _AGG % ("true", 1, 2)),
        (coinglass_aggregated_history, _AGG % ("1658966400000", -1, 2)),  # negative USD
        (coinglass_aggregated_history, _AGG % ("1658966400000", 1, "null")),
        (coinglass_aggregated_history, '{"code":"0","data":[{"t'),  # truncated JSON
        (coinglass_aggregated_history, '{"msg":"no code"}'),
        (coinglass_pair_history, _PAIR % ("1658966400000", '"abc"', '"1"')),
        (coinglass_pair_history, _PAIR % ("1658966400000", '"1"', '"NaN"')),
        (coinglass_pair_history, _PAIR % ("0", '"1"', '"1"')),
        (coinglass_pair_history, '{"code":"0"}'),  # no data
    ],
)
def test_coinglass_history_malformed_raises_frame_error(parser, frame) -> None:
    with pytest.raises(FrameError):
        parser(frame)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.text(), st.binary(), _json.map(json.dumps)),
    st.sampled_from([coinglass_aggregated_history, coinglass_pair_history]),
)
def test_coinglass_history_arbitrary_input_raises_only_frame_error(frame, parser) -> None:
    try:
        result = parser(frame)
    except FrameError:
        return
    assert isinstance(result, list)
