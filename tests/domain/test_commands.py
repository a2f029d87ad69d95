"""The command grammar: table tests of valid and malformed input, and a property test."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.command_specs import SPECS
from bot.domain.command_types import (
    CommandError,
    Help,
    Liqs,
    ListSubs,
    Mute,
    NotACommandError,
    Start,
    Status,
    Subscribe,
    Unmute,
    Unsubscribe,
)
from bot.domain.commands import parse_command
from bot.domain.models import ALL, Side

M = 1e6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/subscribe btc 1h 100m", Subscribe("BTC", 60, 100 * M, Side.TOTAL)),
        ("/subscribe all 1h 400m shorts", Subscribe(ALL, 60, 400 * M, Side.SHORT)),
        ("/sub ETH 4h 1.5b long", Subscribe("ETH", 240, 1.5e9, Side.LONG)),
        ("/subscribe sol 5m 5m", Subscribe("SOL", 5, 5 * M, Side.TOTAL)),  # window, then $5M
        ("/subscribe bitcoin 1d $400M s", Subscribe("BTC", 1440, 400 * M, Side.SHORT)),
        ("/subscribe 1000PEPEUSDT 15m 250k l", Subscribe("PEPE", 15, 250e3, Side.LONG)),
        ("/subscribe btc 1h 400000000 total", Subscribe("BTC", 60, 400 * M, Side.TOTAL)),
        ("/subscribe btc 1h 100m all", Subscribe("BTC", 60, 100 * M, Side.TOTAL)),
        ("  /SUBSCRIBE   BTC  1H  100M  ", Subscribe("BTC", 60, 100 * M, Side.TOTAL)),
        ("/unsubscribe 3", Unsubscribe((3,), False)),
        ("/unsub 1 2,3 #4 2", Unsubscribe((1, 2, 3, 4), False)),
        ("/unsubscribe all", Unsubscribe((), True)),
        ("/list", ListSubs()),
        ("/subs", ListSubs()),
        ("/mute 2h", Mute(None, 7200)),
        ("/mute btc 30m", Mute("BTC", 1800)),
        ("/mute 30m btc", Mute("BTC", 1800)),
        ("/mute all 1d", Mute(None, 86400)),
        ("/unmute", Unmute(None)),
        ("/unmute eth", Unmute("ETH")),
        ("/liqs", Liqs(ALL, None)),
        ("/liq eth", Liqs("ETH", None)),
        ("/liqs btc 4h", Liqs("BTC", 240)),
        ("/liqs 4h btc", Liqs("BTC", 240)),
        ("/liqs 1d", Liqs(ALL, 1440)),
        ("/liqs s", Liqs("S", None)),  # Sonic's ticker is a coin here, not a side
        ("/status", Status()),
        ("/start", Start()),
        ("/start deep-link-payload", Start()),
        ("/help", Help()),
        ("/liqs@LiqBot btc", Liqs("BTC", None)),
        ("/liqs@liqbot", Liqs(ALL, None)),
        ("/liqs compare", Liqs(ALL, None, None, compare=True)),
        ("/liqs btc compare", Liqs("BTC", None, None, compare=True)),
        ("/liqs COMPARE eth", Liqs("ETH", None, None, compare=True)),
    ],
)
def test_valid_commands(text: str, expected: object) -> None:
    assert parse_command(text, bot_username="LiqBot") == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "hello /liqs", "<b>bold</b> & stuff", "/liqs@OtherBot btc", "x" * 10_000],
)
def test_not_a_command(text: str) -> None:
    assert parse_command(text, bot_username="liqbot") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/", "A lone slash is not a command; write the command's name right after the slash"),
        ("/ liqs", "A lone slash is not a command; write the command's name right after the slash"),
        ("//", "'//' is not a command; write the command's name right after the slash"),
        ("//liqs", "'//liqs' is not a command; write the command's name right after the slash"),
        ("/usr/bin/env", "'/usr/bin/env' is not a command; write the command's name right after "
         "the slash"),
        ("/a/" + "a" * 10_000, "'/a/aaaaaaaaaaaaaaaa…' is not a command; write the command's name "
         "right after the slash"),
    ],
)  # fmt: skip
def test_slash_text_that_is_no_command_says_so_briefly(text: str, message: str) -> None:
    with pytest.raises(NotACommandError) as info:
        parse_command(text, bot_username="liqbot")
    assert info.value.message == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # any order where only one reading exists
        ("/subscribe 1h btc 100m", Subscribe("BTC", 60, 100 * M, Side.TOTAL)),
        ("/subscribe btc 100m 1h", Subscribe("BTC", 60, 100 * M, Side.TOTAL)),
        ("/subscribe 100m btc 1h short", Subscribe("BTC", 60, 100 * M, Side.SHORT)),
        ("/subscribe btc 100m 5m", Subscribe("BTC", 5, 100 * M, Side.TOTAL)),
        # the press's and other languages' long forms; thousands written with spaces
        ("/subscribe btc 1h 1bn", Subscribe("BTC", 60, 1e9, Side.TOTAL)),
        ("/subscribe btc 1h 1mln", Subscribe("BTC", 60, 1 * M, Side.TOTAL)),
        ("/subscribe btc 1h 100 000", Subscribe("BTC", 60, 100e3, Side.TOTAL)),
        ("/subscribe btc 1h 100 000 000 long", Subscribe("BTC", 60, 100 * M, Side.LONG)),
        # pairs and contracts as traders write them
        ("/subscribe btc-usdt 1h 100m", Subscribe("BTC", 60, 100 * M, Side.TOTAL)),
        ("/liqs XBTUSD", Liqs("BTC", None)),
        ("/liqs eth/usdt 4h", Liqs("ETH", 240)),
        # a zero-width space pasted inside a coin
        ("/liqs bt\u200bc", Liqs("BTC", None)),
        ("/unsubscribe 99999999999999999999999", Unsubscribe((99999999999999999999999,), False)),
    ],
)
def test_near_misses_are_understood(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/subscribe btc 1h 0.5k", "$500 is too small: the smallest amount is $1K"),
        ("/subscribe btc 1h 5", "$5 is too small: the smallest amount is $1K (did you mean 5m?)"),
        ("/liqs btx", "unknown coin 'btx'; did you mean btc, trx, stx?"),
        ("/liqs btcc", "unknown coin 'btcc'; did you mean btc, ltc?"),  # once, not btc, btc, ltc
        ("/subscribe 5m btc 15m", "the coin comes first, not '5m'"),
        (
            "/liqs compare 1h",
            "compare shows 1h, 4h, 12h and 24h together; leave the window out",
        ),
        (
            "/liqs btc compare 1h",  # the window is the mistake here, not the count
            "compare shows 1h, 4h, 12h and 24h together; leave the window out",
        ),
        (
            "/liqs btc compare on binance",
            "compare sets all our streams beside CoinGlass; leave the venue out",
        ),
        (
            "/liqs btc eth compare",
            "compare takes a coin at most: /liqs compare or /liqs btc compare",
        ),
        ("/liqs compare btx", "unknown coin 'btx'; did you mean btc, trx, stx?"),
    ],
)
def test_near_miss_errors_are_exact(text: str, message: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_command(text)
    assert info.value.message == message


def test_mention_accepted_when_own_name_unknown() -> None:
    assert parse_command("/liqs@whatever") == Liqs(ALL, None)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("/subscribe btx 1h 100m", "did you mean btc"),
        ("/subscribe xyzzyq 1h 100m", "unknown coin"),
        ("/subscribe btc 3h 100m", "5m, 15m, 30m, 1h, 2h, 4h, 12h, 24h"),
        ("/subscribe btc 1h 0", "above zero"),
        ("/subscribe btc 1h -5m", "positive"),
        ("/subscribe btc 1h 5t", "smaller amount"),
        ("/subscribe btc 1h lots", "not an amount"),
        ("/subscribe btc 1h 5", "smallest amount is $1K"),
        ("/subscribe btc 1h 4h", "is a window; the amount comes third"),
        ("/backtest", "which coin"),  # /subscribe alone is the guided form
        ("/subscribe btc", "window and amount are missing"),
        ("/subscribe btc 1h", "amount is missing"),
        ("/subscribe btc 100m", "window is missing"),
        ("/subscribe btc 100m long", "window is missing"),
        ("/subscribe btc long 1h 100m 5m", "too many arguments"),
        ("/subscribe btc 1h 100m sideways", "unknown side"),
        ("/subscribe btc 1h 100m long now", "too many arguments"),
        ("/unsubscribe", "which subscription"),
        ("/unsubscribe abc", "'abc' is not a subscription number; see /list for yours"),
        ("/unsubscribe 1 all", "not both"),
        ("/unsubscribe -3", "not a subscription number"),
        ("/mute", "how long"),
        ("/mute btc", "add a duration"),
        ("/mute 0m", "above zero"),
        ("/mute 90d", "longest mute"),
        ("/mute btc 1h extra", "too many arguments"),
        ("/mute " + "9" * 39 + "h", "longest mute"),  # 1e39 hours: no OverflowError
        ("/mute 1h 2h", "unknown coin"),
        ("/unmute btc eth", "too many arguments"),
        ("/liqs 3h", "unknown window"),
        ("/liqs btc eth", "one coin at most"),
        ("/liqs 1h 4h", "one window at most"),
        ("/liqs btc 1h x", "too many arguments"),
        ("/list everything", "takes no arguments"),
        ("/status now", "takes no arguments"),
        ("/frobnicate", "/subscribe"),
        ("/liqs " + "x" * 200, "too long"),
    ],
)
def test_malformed_commands(text: str, fragment: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_command(text)
    err = info.value
    assert fragment in err.message
    assert err.usage.startswith("/") and err.example.startswith("/")
    # short: never echoes a wall of text (the longest is the unknown command's list of all
    # 19 commands, ~200 characters; what the user typed is cut to 20)
    assert len(err.message) < 240


def test_error_carries_the_commands_own_form() -> None:
    with pytest.raises(CommandError) as info:
        parse_command("/sub btc 1h 100x")
    assert info.value.usage == SPECS["subscribe"].usage
    assert info.value.example == "/subscribe btc 1h 100m"
    # the example itself must parse: a user who copies it succeeds
    for spec in SPECS.values():
        assert parse_command(spec.example) is not None


def test_unknown_command_lists_every_command() -> None:
    with pytest.raises(CommandError) as info:
        parse_command("/heatmap btc")
    for name in SPECS:
        assert f"/{name}" in info.value.message


_tokens = st.one_of(
    st.sampled_from(
        ["btc", "all", "1h", "5m", "100m", "-1", "0", "long", "s", "#3", "1,5m", "$", "1e9", "∞"]
    ),
    st.text(max_size=12),
    st.from_regex(r"[0-9]{1,400}[smhdkbt]?", fullmatch=True),
)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from([*SPECS, "sub", "unsub", "subs", "liq", "x", ""]),
    st.lists(_tokens, max_size=5),
    st.sampled_from(["", "@liqbot", "@other", "@"]),
)
def test_no_input_raises_anything_but_command_error(
    name: str, args: list[str], mention: str
) -> None:
    text = f"/{name}{mention} " + " ".join(args)
    with contextlib.suppress(CommandError):
        parse_command(text, bot_username="liqbot")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_command_error(text: str) -> None:
    with contextlib.suppress(CommandError):
        parse_command(text, bot_username="liqbot")
    with contextlib.suppress(CommandError):
        parse_command("/" + text)


def test_coins_seen_by_sources_are_accepted() -> None:
    with pytest.raises(CommandError):
        parse_command("/liqs zzxq")
    assert parse_command("/liqs zzxq", known_coins=frozenset({"ZZXQ"})) == Liqs("ZZXQ", None)
    # the extra coins do not leak into the next parse
    with pytest.raises(CommandError):
        parse_command("/subscribe zzxq 1h 1m")
