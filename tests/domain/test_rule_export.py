"""/export's text reads back through /import as the very same rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chat.service_rules import as_subscription, rule_key
from bot.domain.command_types import CommandError, ImportRules
from bot.domain.commands import parse_command
from bot.domain.market import WINDOWS
from bot.domain.models import ALL, Side, Subscription
from bot.domain.rule_export import amount_text, export_lines, subscribe_line

COINS = ("BTC", "ETH", "SOL", "1000PEPE", "DOGE", ALL)
VENUES = (None, "binance", "bybit", "okx")
# the amounts people type, and arbitrary ones down to the cent
amounts = st.one_of(
    st.sampled_from((50e3, 100e3, 250e3, 750e3, 1e6, 2.5e6, 100e6, 1.5e9, 1e12)),
    st.integers(5_000_000, 5_000_000_000_000).map(lambda cents: cents / 100),
)


@st.composite
def rules(draw: st.DrawFn) -> Subscription:
    kind = draw(st.sampled_from(("window", "single", "relative")))
    coin = draw(st.sampled_from(COINS))
    side = draw(st.sampled_from(list(Side)))
    venue = draw(st.sampled_from(VENUES))
    if kind == "single":
        threshold = draw(st.sampled_from((100e3, 1e6, 2.5e6, 10e6)))
        return Subscription(0, "", coin, 0, side, threshold, venue=venue, kind="single")
    window = draw(st.sampled_from(WINDOWS))
    if kind == "relative":
        factor = draw(st.sampled_from((1.5, 2.0, 3.0, 10.0, 50.0)))
        return Subscription(0, "", coin, window, side, 0.0, venue=venue, factor=factor)
    return Subscription(0, "", coin, window, side, draw(amounts), venue=venue)


@settings(max_examples=400, deadline=None)
@given(rule=rules())
def test_every_rule_reads_back_as_itself(rule: Subscription) -> None:
    cmd = parse_command("/import\n" + subscribe_line(rule), known_coins=frozenset({"1000PEPE"}))
    assert isinstance(cmd, ImportRules)
    assert cmd.unreadable == ()
    (got,) = cmd.rules
    assert rule_key(as_subscription(got)) == rule_key(rule)


def test_the_typed_form_is_the_one_people_write() -> None:
    assert amount_text(100e6) == "100m"
    assert amount_text(2.5e6) == "2.5m"
    assert amount_text(1.5e9) == "1.5b"
    assert amount_text(750e3) == "750k"
    assert amount_text(123_456.78) == "123.45678k"
    subs = [
        Subscription(2, "c", "ETH", 240, Side.SHORT, 2.5e6, number=2, venue="binance"),
        Subscription(1, "c", "BTC", 60, Side.TOTAL, 100e6, number=1),
        Subscription(3, "c", "SOL", 0, Side.LONG, 1e6, number=3, kind="single"),
        Subscription(4, "c", ALL, 60, Side.TOTAL, 0.0, number=4, factor=3.0),
    ]
    assert export_lines(subs) == [
        "/import",
        "/subscribe btc 1h 100m",
        "/subscribe eth 4h 2.5m short on binance",
        "/subscribe sol single 1m long",
        "/subscribe all 1h 3x",
    ]


def test_a_pasted_message_with_its_title_and_hint_reads_and_bad_lines_are_named() -> None:
    text = (
        "/import\n"
        "Your rules\n"  # a title copied along
        "/subscribe btc 1h 100m /sub eth 4h 50m short\n"  # two on one line
        "/subscribe btc 7h lots\n"
        "  /subscribe@LiqBot doge 12h 750k long  \n"
        "2 rules. Copy this whole message and send it in any chat."
    )
    cmd = parse_command(text, "LiqBot")
    assert isinstance(cmd, ImportRules)
    assert [(r.coin, r.window, r.threshold, r.side) for r in cmd.rules] == [
        ("BTC", 60, 100e6, Side.TOTAL),
        ("ETH", 240, 50e6, Side.SHORT),
        ("DOGE", 720, 750e3, Side.LONG),
    ]
    ((line, why),) = cmd.unreadable
    assert line == "/subscribe btc 7h lots" and why


@pytest.mark.parametrize("text", ["/import", "/import hello there", "/import\n\n"])
def test_an_import_without_rules_explains_itself(text: str) -> None:
    with pytest.raises(CommandError) as e:
        parse_command(text)
    assert "/export" in e.value.message and e.value.example.startswith("/import /subscribe")


def test_more_rules_than_any_chat_may_have_is_refused_whole() -> None:
    text = "/import\n" + "\n".join(f"/subscribe btc 1h {100 + i}m" for i in range(201))
    with pytest.raises(CommandError, match="more than"):
        parse_command(text)
