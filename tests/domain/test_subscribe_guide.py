"""The guided /subscribe, pure: every path through its buttons ends in a line the typed grammar
accepts as the same rule; bodies round-trip and nothing else decodes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import subscribe_guide as guide
from bot.domain.command_types import CommandError, Subscribe, SubscribeGuide
from bot.domain.commands import parse_command
from bot.domain.market import WINDOWS
from bot.domain.models import ALL, Side, Snapshot, WindowTotals
from bot.domain.subscribe_parser import MIN_THRESHOLD

M = 1e6
SERVED = frozenset(WINDOWS)


def snapshot(day: dict[str, float]) -> Snapshot:
    totals = {(c, 1440): WindowTotals(v / 2, v / 2) for c, v in day.items()}
    return Snapshot(0, totals, {}, SERVED, SERVED, ("binance",), True)


def choices(v: guide.GuideView) -> list[guide.Button]:
    """The step's choices: every button but Back and Cancel."""
    return [b for row in v.rows for b in row if b.label not in ("« Back", "Cancel")]


def test_slash_subscribe_alone_is_the_guide_and_backtest_still_needs_arguments() -> None:
    assert parse_command("/subscribe") == SubscribeGuide()
    assert parse_command("/sub@liq_test_bot", "liq_test_bot") == SubscribeGuide()
    assert isinstance(parse_command("/subscribe btc 1h 100m"), Subscribe)
    with pytest.raises(CommandError, match="which coin"):
        parse_command("/backtest")


def test_the_steps_without_market_data() -> None:
    v = guide.view(guide.GuideState(), None)
    labels = [[b.label for b in row] for row in v.rows]
    assert labels[:3] == [
        ["BTC", "ETH", "SOL"],
        ["XRP", "DOGE", "BNB"],
        ["SUI", "HYPE", "All coins"],
    ]
    assert labels[-1] == ["Cancel"]
    s = guide.decode(choices(v)[0].body)
    assert s is not None and s.state == guide.GuideState("BTC")
    v = guide.view(s.state, None)
    assert [b.label for b in choices(v)] == ["5m", "15m", "1h", "4h", "12h", "24h"]
    assert [b.label for b in v.rows[-1]] == ["« Back", "Cancel"]
    s = guide.decode(choices(v)[2].body)
    assert s is not None and s.state.window == 60
    v = guide.view(s.state, None)
    assert [b.label for b in choices(v)] == ["$1M", "$2M", "$5M", "$10M", "$20M", "$50M"]
    s = guide.decode(choices(v)[3].body)
    assert s is not None
    v = guide.view(s.state, None)
    assert [b.label for b in choices(v)] == ["Longs", "Shorts", "Both"]
    s = guide.decode(choices(v)[0].body)
    assert s is not None and s.state == guide.GuideState("BTC", 60, 12, Side.LONG)
    v = guide.view(s.state, None)
    assert v.lines[0] == "This will run: /subscribe btc 1h 10m longs"
    (go,) = choices(v)
    assert go.label == "Subscribe" and guide.decode(go.body) == guide.Press("y", s.state)
    back = guide.decode(v.rows[-1][0].body)
    assert back is not None and back.state == guide.GuideState("BTC", 60, 12)


def test_top_coins_and_amounts_follow_the_market() -> None:
    snap = snapshot({"PEPE": 900 * M, "BTC": 480 * M, "ETH": 100 * M, ALL: 2000 * M})
    assert guide.top_coins(snap)[:4] == ("PEPE", "BTC", "ETH", "SOL")
    assert len(guide.top_coins(snap)) == guide.TOP_COINS
    # BTC: $480M a day is $20M an hour; the choices start there
    v = guide.view(guide.GuideState("BTC", 60), snap, SERVED)
    assert [b.label for b in choices(v)] == ["$20M", "$50M", "$100M", "$200M", "$500M", "$1B"]
    assert "Usually about $20.00M in 1h" in v.lines[-1]
    # a window no source serves is not offered (unless none is served)
    v = guide.view(guide.GuideState("BTC"), snap, frozenset({60, 240, 720, 1440}))
    assert [b.label for b in choices(v)] == ["1h", "4h", "12h", "24h"]
    assert guide.amount_choices(None, ALL)[0] == guide.LADDER.index(10 * M)
    assert guide.amount_choices(1.0, "BTC") == tuple(range(6))  # never below $1K
    assert guide.amount_choices(1e15, "BTC")[-1] == len(guide.LADDER) - 1  # never above $1T


def test_the_ladder_is_1_2_5_within_the_grammar() -> None:
    assert guide.LADDER[:4] == (1e3, 2e3, 5e3, 1e4)
    assert guide.LADDER[0] == MIN_THRESHOLD and guide.LADDER[-1] == 1e12


# "S" and "W" are coins and side or window look-alikes; 20 characters is the longest coin
coins = st.sampled_from([*guide.FIXED_COINS, ALL, "PEPE", "1000SATS", "S", "W", "A" * 20])


@given(
    day=st.none() | st.floats(1.0, 5e11),
    coin=coins,
    picks=st.lists(st.integers(0, 20), min_size=4, max_size=4),
    backs=st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_every_path_ends_in_a_line_the_grammar_reads_as_the_same_rule(
    day: float | None, coin: str, picks: list[int], backs: list[bool]
) -> None:
    snap = None if day is None else snapshot({coin: day})
    state = guide.GuideState()
    first = choices(guide.view(state, snap, SERVED))
    body = next((b.body for b in first if b.body.endswith(coin)), first[picks[0] % len(first)].body)
    press = guide.decode(body)
    assert press is not None
    state = press.state
    for pick, back in zip([*picks[1:], 0], backs, strict=True):
        if back:  # Back leads one step earlier; then on from here again
            p = guide.decode(guide.view(state, snap, SERVED).rows[-1][0].body)
            assert p is not None and p.verb == "g" and p.state == state.back()
        options = choices(guide.view(state, snap, SERVED))
        p = guide.decode(options[pick % len(options)].body)
        assert p is not None
        if p.verb == "y":
            break
        state = p.state
    assert state.step == "confirm" and p.verb == "y"
    line = guide.typed_line(state)
    assert guide.view(state, snap, SERVED).lines[0] == f"This will run: {line}"
    known = frozenset({coin}) if coin != ALL else frozenset()
    cmd = parse_command(line, None, known)
    assert cmd == Subscribe(state.coin, state.window, guide.LADDER[state.amount], state.side)  # type: ignore[arg-type,index]


@given(st.text(max_size=30))
def test_only_what_encode_writes_decodes(body: str) -> None:
    p = guide.decode(body)
    if p is not None:
        assert guide.encode(p.verb, p.state) == body or (p.verb, body) == ("x", "x")


def test_bodies_round_trip_and_edits_are_refused() -> None:
    full = guide.GuideState("BTC", 1440, 27, Side.SHORT)
    for state in (guide.GuideState(), guide.GuideState("ETH"), guide.GuideState("ETH", 5), full):
        assert guide.decode(guide.encode("g", state)) == guide.Press("g", state)
    assert guide.decode(guide.encode("y", full)) == guide.Press("y", full)
    assert guide.decode("x") == guide.Press("x", guide.GuideState())
    for bad in ("", "g_", "gbtc", "gBTC_9", "yBTC_3c", "xBTC", "gBTC_3zl", "gBTC_3cq",
                "gBTC_3cl!", "q", "gBTC_", "g" + "A" * 21, "gBTC_0s"):  # fmt: skip
        assert guide.decode(bad) is None, bad
