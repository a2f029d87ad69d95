"""Golden tests of BitMEX, Deribit, HTX and Bitget on frames the venues really sent.

The frames were recorded by tardis-node (tests/fixtures/recorded/tardis_node_more_venues.json);
the instrument lists BitMEX and Gate really answered were recorded by cryptofeed. Every frame
must parse to the side, coin and USD written beside it, and that side and USD must follow from
what tardis itself asserts about the frame (docs/sources.md, "More venues").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.domain.frames import FrameError
from bot.domain.models import Liquidation, Side
from bot.domain.venues_bitmex import bitmex_instruments, parse_bitmex
from bot.domain.venues_more import (
    gate_instruments,
    parse_bitget,
    parse_deribit,
    parse_gate,
    parse_htx,
)

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"
NOW = 1_559_347_228_619  # the receive time tardis stamped on its BitMEX rows (2019-06-01)


def load(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / name).read_text())


TARDIS = load("tardis_node_more_venues.json")
BITMEX = bitmex_instruments(load("cryptofeed_bitmex_instrument_active.json")["response"])
GATE = gate_instruments(load("cryptofeed_gate_usdt_contracts.json")["response"])


def parse(stream: str, frame: Any) -> list[Liquidation]:
    raw = json.dumps(frame)
    if stream == "bitmex":
        return parse_bitmex(raw, BITMEX, NOW)
    if stream == "deribit":
        return parse_deribit(raw)
    if stream == "htx":
        return parse_htx(raw)
    if stream == "bitget":
        return parse_bitget(raw)
    raise AssertionError(stream)


CASES = [pytest.param(f, id=f["id"]) for f in TARDIS["frames"]]


@pytest.mark.parametrize("case", CASES)
def test_every_frame_parses_to_its_side_coin_and_usd(case: dict[str, Any]) -> None:
    got = parse(case["stream"], case["frame"])
    want = case["expected"]
    assert [(e.side.value, e.coin, e.venue) for e in got] == [
        (w["side"], w["coin"], case["stream"]) for w in want
    ]
    for e, w in zip(got, want, strict=True):
        assert e.usd == pytest.approx(w["usd"], rel=1e-9)
        assert e.ts_ms == w.get("ts_ms", NOW)


_TARDIS_SIDE = {"buy": Side.SHORT, "sell": Side.LONG}  # tardis: the liquidation ORDER's side


@pytest.mark.parametrize("case", CASES)
def test_our_side_and_usd_follow_from_what_tardis_asserts(case: dict[str, Any]) -> None:
    got = parse(case["stream"], case["frame"])
    assert len(got) == len(case["asserted"])
    for e, a in zip(got, case["asserted"], strict=True):
        assert e.side is _TARDIS_SIDE[a["side"]]
        rule = case["usd_rule"]
        if rule == "amount*inverse_usd":  # BitMEX XBTUSD: contracts of |multiplier|/1e8 USD
            want = a["amount"] * BITMEX.inverse_usd[e.symbol]
        elif rule == "amount":  # Deribit inverse: USD; Bitget: the USDT value
            want = a["amount"]
        elif rule == "trade_turnover":  # HTX: tardis' amount is contracts (volume)
            want = case["frame"]["data"][0]["trade_turnover"]
            # contracts × 0.001 BTC (the BTC-USDT contract size) × price is the same figure
            assert a["amount"] * 0.001 * a["price"] == pytest.approx(want, rel=1e-9)
        else:
            raise AssertionError(rule)
        assert e.usd == pytest.approx(want, rel=1e-9)


def test_bitget_amount_is_the_usdt_value_not_a_quantity() -> None:
    """amount / price is a round lot on both recorded rows (83.1 APE, 286.5 IP): amount is
    the USDT value. Read as coins it would make these $2.26 and $71.70."""
    case = next(f for f in TARDIS["frames"] if f["stream"] == "bitget")
    for row in case["frame"]["data"]:
        qty = float(row["amount"]) / float(row["price"])
        assert qty == pytest.approx(round(qty, 1), abs=1e-9)


def test_bitmex_partial_update_and_delete_are_not_new_liquidations() -> None:
    row = {"orderID": "x", "symbol": "XBTUSD", "side": "Sell", "price": 1, "leavesQty": 5}
    for action in ("partial", "update", "delete"):
        frame = json.dumps({"table": "liquidation", "action": action, "data": [row]})
        assert parse_bitmex(frame, BITMEX, NOW) == []


def test_bitmex_instrument_list_sizes_inverse_quanto_and_bitcoin_quoted() -> None:
    assert BITMEX.inverse_usd["XBTUSD"] == 1.0  # multiplier -100000000 XBt: 1 USD a contract
    assert BITMEX.coins["XBTUSD"] == "BTC" and BITMEX.coins["ETHUSD"] == "ETH"
    # quanto: multiplier 100 satoshi per 1 USD = BitMEX's "0.000001 XBT per 1 USD" (ETHUSD guide)
    assert BITMEX.quanto_xbt["ETHUSD"] == pytest.approx(0.000001)
    assert BITMEX.quanto_xbt["LINKUSDT"] == pytest.approx(0.0001)
    assert BITMEX.xbt_linear["XRPU21"] == 1.0  # 1 XRP a contract, priced in XBT
    assert BITMEX.xbt_usd == 32182.72  # XBTUSD's indicativeSettlePrice (.BXBT) in the list
    assert BITMEX.unpriced == {"XBTEUR", "XBTEURU21"}  # priced in euros: skipped and counted


def test_gate_contract_list_gives_quanto_multipliers_and_coins() -> None:
    assert GATE.sizes["BTC_USDT"] == 0.0001 and GATE.sizes["ETH_USDT"] == 0.01
    assert GATE.sizes["PEPE_USDT"] == 10_000_000
    assert GATE.coins["BTC_USDT"] == "BTC" and {"BTC", "ETH", "PEPE"} <= GATE.listed_coins()


# ---- Gate: the docs' own push examples (revision of 2026-08-20) --------------------------------

GATE_DOCS = load("gate_docs_public_liquidates.json")


@pytest.mark.parametrize("case", [pytest.param(f, id=f["id"]) for f in GATE_DOCS["frames"]])
def test_gate_docs_frames_negative_size_is_a_long_liquidated(case: dict[str, Any]) -> None:
    """`size` is the liquidation ORDER's quantity; Gate signs an order's size (negative = ask):
    a negative liquidation order sells a long. Every row of the 1 s window is counted."""
    got = parse_gate(json.dumps(case["frame"]), GATE.sizes, coins=GATE.coins)
    want = case["expected"]
    assert [(e.side.value, e.coin, e.venue, e.ts_ms) for e in got] == [
        (w["side"], w["coin"], "gate", w["ts_ms"]) for w in want
    ]
    for e, w in zip(got, want, strict=True):
        assert e.usd == pytest.approx(w["usd"], rel=1e-9)


def test_gate_positive_order_size_is_a_short_liquidated() -> None:
    frame = GATE_DOCS["frames"][0]["frame"] | {
        "result": [{"price": "215.1", "size": "3", "time": 1541486601123, "contract": "BTC_USDT"}]
    }
    (e,) = parse_gate(json.dumps(frame), GATE.sizes, coins=GATE.coins)
    assert e.side is Side.SHORT and e.usd == pytest.approx(3 * 0.0001 * 215.1)


# ---- Bitget: the three futures books -----------------------------------------------------------


def _bitget_as(inst_type: str, symbol: str) -> str:
    """tardis' recorded usdt-futures push, recast to another book (its symbol and instType)."""
    case = next(f for f in TARDIS["frames"] if f["stream"] == "bitget")
    frame = json.loads(json.dumps(case["frame"]))
    frame["arg"]["instType"] = inst_type
    for row in frame["data"]:
        row["symbol"] = symbol
    return json.dumps(frame)


@pytest.mark.parametrize(
    ("inst_type", "symbol", "coin"),
    [("coin-futures", "BTCUSD", "BTC"), ("usdc-futures", "ETHPERP", "ETH")],
)
def test_bitget_coin_m_and_usdc_m_amount_is_the_quote_value(
    inst_type: str, symbol: str, coin: str
) -> None:
    """Bitget's docs give `amount` in the quote coin for every book (coin-M BTCUSD: USD)."""
    got = parse_bitget(_bitget_as(inst_type, symbol))
    assert [(e.coin, e.side, e.symbol) for e in got] == [(coin, Side.LONG, symbol)] * 2
    assert [e.usd for e in got] == pytest.approx([13.70319, 143.330431857868])


def test_bitget_liquidation_of_an_unknown_book_is_refused() -> None:
    with pytest.raises(FrameError, match="unknown book"):
        parse_bitget(_bitget_as("spot", "BTCUSDT"))
