"""BitMEX liquidation orders counted at the largest size they reached, and bitcoin-valued
contracts (quanto, XBT-quoted) valued at the bitcoin price, on recorded data.

The session (tests/fixtures/recorded/bitmex_liquidation_session.json, recorded 2024-11-13) has
orders whose leavesQty grows after the insert; the instrument list is cryptofeed's recording of
`instrument/active` (2021-07-22). Evidence: docs/sources.md ("More venues").
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.frames import FrameError
from bot.domain.models import Side
from bot.domain.venues_bitmex import BitmexOrders, bitmex_instruments, parse_bitmex

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"
SESSION = json.loads((RECORDED / "bitmex_liquidation_session.json").read_text())
LISTED = bitmex_instruments(
    json.loads((RECORDED / "cryptofeed_bitmex_instrument_active.json").read_text())["response"]
)
NO_XBT = dataclasses.replace(LISTED, xbt_usd=None)  # the 2021 list's price is not 2024's
NOW = 1_731_494_066_741  # 2024-11-13T10:34:26.741Z, the session's welcome frame


def frame(action: str, *rows: dict[str, Any], table: str = "liquidation") -> str:
    return json.dumps({"table": table, "action": action, "data": list(rows)})


def test_recorded_session_counts_the_largest_size_each_order_reached() -> None:
    orders = BitmexOrders()
    skipped: Counter[str] = Counter()
    got = []
    for i, f in enumerate(SESSION["frames"]):
        got += parse_bitmex(json.dumps(f), NO_XBT, NOW + i, skipped, orders)
    want = SESSION["expected_contracts"]
    usd = Counter()
    for e in got:
        assert e.venue == "bitmex" and e.coin == "BTC" and e.symbol == "XBTUSD"
        usd[e.side] += e.usd
    assert usd == {Side.SHORT: want["XBTUSD"]["short"], Side.LONG: want["XBTUSD"]["long"]}
    # the two orders that grew: 12,900 then 8,700 more; 900 then 500 more
    assert [e.usd for e in got if e.usd in (12_900, 8_700, 900, 500)] == [12_900, 8_700, 900, 500]
    # XBTUSDT is not in the 2021 list; ETHUSD has no bitcoin price here: skipped, counted
    assert skipped == {"XBTUSDT": want["XBTUSDT_orders"], "ETHUSD": want["ETHUSD_orders"]}
    assert len(orders) == 0  # every order was deleted: nothing kept


def test_inserts_alone_undercount_the_recorded_session() -> None:
    """What one message per order (a tracker per frame) made of the same session."""
    total = sum(e.usd for f in SESSION["frames"] for e in parse_bitmex(json.dumps(f), NO_XBT, NOW))
    assert total == 161_100 + 974_500


def test_quanto_is_valued_in_bitcoin_at_the_bitcoin_price() -> None:
    """ETHUSD: 100 satoshi per contract per 1 USD of price, × the XBTUSD price."""
    row = {"orderID": "q", "symbol": "ETHUSD", "side": "Sell", "price": 2003.75, "leavesQty": 10}
    (e,) = parse_bitmex(frame("insert", row), LISTED, NOW)
    assert (e.coin, e.side) == ("ETH", Side.LONG)
    assert e.usd == pytest.approx(10 * 100 / 1e8 * 2003.75 * 32182.72)  # XBTUSD's index in the list


def test_bitcoin_quoted_linear_agrees_with_the_quanto_price_of_the_same_list() -> None:
    """XRPU21 (1 XRP a contract, priced in XBT) × XBTUSD: 1,000 XRP come to what XRPUSD's own
    price (0.5898 USD) says, within 1 %: the XBT-quoted rule is consistent with the list."""
    row = {"orderID": "x", "symbol": "XRPU21", "side": "Buy", "price": 1.819e-05, "leavesQty": 1000}
    (e,) = parse_bitmex(frame("insert", row), LISTED, NOW)
    assert e.usd == pytest.approx(1000 * 0.5898, rel=0.01)


def test_live_bitcoin_price_from_the_instrument_table_wins() -> None:
    orders = BitmexOrders()
    tick = {"symbol": "XBTUSD", "markPrice": 90_000.5, "lastPrice": 90_001}
    assert parse_bitmex(frame("update", tick, table="instrument"), NO_XBT, NOW, None, orders) == []
    assert orders.xbt_usd == 90_000.5
    row = {"orderID": "q", "symbol": "ETHUSD", "side": "Buy", "price": 3208.61, "leavesQty": 40}
    (e,) = parse_bitmex(frame("insert", row), LISTED, NOW, None, orders)  # the list says 32182.72
    assert e.side is Side.SHORT and e.usd == pytest.approx(40 * 1e-6 * 3208.61 * 90_000.5)


def test_no_bitcoin_price_yet_skips_and_counts_never_zero() -> None:
    skipped: Counter[str] = Counter()
    row = {"orderID": "q", "symbol": "ETHUSD", "side": "Buy", "price": 3000, "leavesQty": 40}
    assert parse_bitmex(frame("insert", row), NO_XBT, NOW, skipped) == []
    assert skipped == {"ETHUSD": 1}


def test_partial_sets_a_baseline_and_counts_only_growth() -> None:
    orders = BitmexOrders()
    row = {"orderID": "p", "symbol": "XBTUSD", "side": "Sell", "price": 1, "leavesQty": 500}
    assert parse_bitmex(frame("partial", row), LISTED, NOW, None, orders) == []
    grown = {"orderID": "p", "symbol": "XBTUSD", "leavesQty": 800}
    (e,) = parse_bitmex(frame("update", grown), LISTED, NOW, None, orders)
    assert e.usd == 300 and e.side is Side.LONG
    # an update of an order never seen has no baseline: nothing counted
    stray = {"orderID": "z", "symbol": "XBTUSD", "leavesQty": 800}
    assert parse_bitmex(frame("update", stray), LISTED, NOW, None, orders) == []


def test_memory_is_bounded_by_deletes_age_and_count() -> None:
    orders = BitmexOrders(max_orders=3, ttl_ms=1000)
    rows = [{"orderID": str(i), "symbol": "XBTUSD", "side": "Buy", "price": 1, "leavesQty": 1}
            for i in range(5)]  # fmt: skip
    for i, r in enumerate(rows):
        orders.apply("insert", [r], NOW + i)
    assert len(orders) == 3 and "0" not in orders and "4" in orders  # oldest went first
    orders.apply("delete", [{"orderID": "4", "symbol": "XBTUSD"}], NOW + 5)
    assert len(orders) == 2
    orders.apply("insert", [dict(rows[0], orderID="new")], NOW + 5000)  # the others are stale
    assert len(orders) == 1 and "new" in orders


def test_a_row_without_an_order_id_is_a_bad_frame() -> None:
    with pytest.raises(FrameError):
        parse_bitmex(frame("insert", {"symbol": "XBTUSD", "side": "Buy", "leavesQty": 1}),
                     LISTED, NOW)  # fmt: skip


_EVENT = st.tuples(
    st.sampled_from(["insert", "update", "delete"]),
    st.sampled_from(["a", "b", "c"]),
    st.integers(min_value=0, max_value=10_000),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_EVENT, max_size=60))
def test_each_order_counts_exactly_the_largest_size_it_reached(events: list) -> None:
    """Against a plain model: per life of an order (first insert to delete), the counted
    contracts equal the largest leavesQty of that life."""
    orders = BitmexOrders()
    counted: Counter[str] = Counter()
    live: dict[str, int] = {}  # the model: order -> largest size of its current life
    want: Counter[str] = Counter()
    for i, (action, oid, qty) in enumerate(events):
        row = {"orderID": oid, "symbol": "XBTUSD", "side": "Buy", "price": 1, "leavesQty": qty}
        for e in parse_bitmex(frame(action, row), LISTED, NOW + i, None, orders):
            counted[oid] += e.usd
        if action == "delete":
            want[oid] += live.pop(oid, 0)
        elif oid in live:
            live[oid] = max(live[oid], qty)
        elif action == "insert":
            live[oid] = qty
    for oid, top in live.items():
        want[oid] += top
    assert +counted == +want
    assert len(orders) == len(live)


def test_each_listed_contract_values_its_open_interest_as_bitmex_does() -> None:
    """The recorded list carries BitMEX's own value of each instrument's open interest
    (`openValue`, in satoshi): our per-contract rule x openInterest at markPrice gives it back,
    for the quanto (ETHUSD, LINKUSDT ...), bitcoin-quoted (XRPU21 ...) and inverse (XBTUSD)
    contracts alike."""
    rows = json.loads((RECORDED / "cryptofeed_bitmex_instrument_active.json").read_text())
    checked = 0
    for r in rows["response"]:
        s, oi, mark = r["symbol"], r["openInterest"], r["markPrice"]
        if s in LISTED.quanto_xbt:
            satoshi = oi * LISTED.quanto_xbt[s] * mark * 1e8
        elif s in LISTED.xbt_linear:
            satoshi = oi * LISTED.xbt_linear[s] * mark * 1e8
        elif s in LISTED.inverse_usd:
            satoshi = oi * LISTED.inverse_usd[s] / mark * 1e8
        else:
            assert s in LISTED.unpriced  # XBTEUR: priced in euros
            continue
        assert satoshi == pytest.approx(r["openValue"], rel=1e-5), s
        checked += 1
    assert checked == 32 and "ETHUSD" in LISTED.quanto_xbt


def test_without_an_xbtusd_row_the_quanto_rate_of_the_list_gives_the_bitcoin_price() -> None:
    """quoteToSettleMultiplier of a USD quanto is satoshi per USD when the list was made:
    ETHUSD's 3108 -> 1e8 / 3108 = $32,175, XBTUSD's lastPrice of the same list."""
    rows = json.loads((RECORDED / "cryptofeed_bitmex_instrument_active.json").read_text())
    without = [r for r in rows["response"] if r["symbol"] != "XBTUSD"]
    assert bitmex_instruments(without).xbt_usd == pytest.approx(32175, abs=1)
