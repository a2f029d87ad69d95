"""/chart: the grammar, the bars and the words around the picture (bot.domain.chart)."""

from __future__ import annotations

import pytest

from bot.domain.chart import (
    CHART_BUCKETS,
    build_series,
    chart_since_ms,
    parse_chart_window,
    render_chart_caption,
    render_chart_empty,
)
from bot.domain.commands import SPECS, Chart, CommandError, parse_command
from bot.domain.message import Message, Tone, plain_text
from bot.domain.models import ALL
from bot.domain.render import render_help

T = 1768313100000  # 2026-01-13 14:05 UTC
MIN = 60_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/chart btc", Chart("BTC", 1440)),
        ("/chart btc 24h", Chart("BTC", 1440)),
        ("/chart BTC 1d", Chart("BTC", 1440)),
        ("/chart all 4h", Chart(ALL, 240)),
        ("/chart 12h eth", Chart("ETH", 720)),
        ("/chart sol 1h", Chart("SOL", 60)),
        ("/chart sol 2h", Chart("SOL", 120)),
        ("/chart all 3d", Chart(ALL, 4320)),
        ("/chart all 7d", Chart(ALL, 10080)),
        ("/chart btc 1w", Chart("BTC", 10080)),
        ("/chart 1000PEPEUSDT", Chart("PEPE", 1440)),
        ("/chart@LiqBot btc", Chart("BTC", 1440)),
    ],
)
def test_valid_chart_commands(text: str, expected: Chart) -> None:
    assert parse_command(text, bot_username="LiqBot") == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("/chart", "which coin"),
        ("/chart 4h", "which coin"),
        ("/chart btc 5m", "too short for a chart"),
        ("/chart btc 30m", "too short for a chart"),
        ("/chart btc 9h", "1h 2h 4h 12h 24h 3d 7d"),
        ("/chart btc 30d", "unknown chart window"),
        ("/chart btx", "did you mean btc"),
        ("/chart btc eth", "one coin at most"),
        ("/chart 1h 4h", "one window at most"),
        ("/chart btc 1h x", "too many arguments"),
    ],
)
def test_malformed_chart_commands(text: str, fragment: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_command(text)
    assert fragment in info.value.message
    assert info.value.usage == "/chart <coin|all> [window]"
    assert info.value.example == "/chart btc 24h"


def test_chart_is_in_specs_and_help() -> None:
    assert SPECS["chart"].summary
    assert "/chart <coin|all> [window]" in plain_text(render_help())


def test_every_window_has_48_to_96_bars() -> None:
    for window, bucket in CHART_BUCKETS.items():
        assert window % bucket == 0 and 48 <= window // bucket <= 96, window
    with pytest.raises(ValueError):
        parse_chart_window("15m")


def test_series_folds_minutes_into_aligned_bars() -> None:
    since = chart_since_ms(240, T)  # 5m bars; T is 14:05, so the last bar is 14:05-14:10
    assert since == T + 5 * MIN - 240 * MIN
    rows = [
        (since, 1.0, 2.0),
        (since + 4 * MIN, 10.0, 0.0),  # same 5m bar
        (since + 5 * MIN, 0.0, 7.0),
        (T, 100.0, 0.0),  # the current (last) bar
        (since - MIN, 1e9, 1e9),  # before the window: ignored
    ]
    s = build_series(rows, "BTC", 240, T, ("binance", "okx"), sampled=True)
    assert len(s.longs) == len(s.shorts) == 48
    assert (s.longs[0], s.shorts[0]) == (11.0, 2.0)
    assert (s.longs[1], s.shorts[1]) == (0.0, 7.0)
    assert s.longs[-1] == 100.0
    assert s.title == "BTC liquidations, last 4h (UTC)"
    assert "binance, okx" in s.footer and "floor" in s.footer


def test_caption_sums_and_names_the_biggest_bar() -> None:
    rows = [(T - 60 * MIN, 5_000_000.0, 1_080_000.0), (T, 500_000.0, 0.0)]
    s = build_series(rows, ALL, 1440, T, ("binance",), sampled=True)
    msg = render_chart_caption(s, T)
    text = plain_text(msg)
    assert msg.title == "All coins liquidations, last 24h (UTC)"
    assert "Total $6.58M" in text and "longs $5.50M (84%)" in text
    assert "Biggest 15m bar: $6.08M at 13:00 UTC" in text
    assert "Up to 14:05 UTC." in text and msg.tone is Tone.LONG
    assert len(text) < 1000  # fits a Telegram caption with its markup


def test_empty_window_message() -> None:
    text = plain_text(render_chart_empty("BTC", 60))
    assert "No liquidations recorded for BTC in that window" in text


def test_message_image_is_not_serialised() -> None:
    msg = Message("t", ("x",), image=b"\x89PNG...", image_name="c.png")
    d = msg.to_dict()
    assert "image" not in d and "image_name" not in d
    back = Message.from_dict(d)
    assert back.image is None and back == Message("t", ("x",))
