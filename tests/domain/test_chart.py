"""/chart: the grammar, the bars and the words around the picture (bot.domain.chart)."""

from __future__ import annotations

import pytest

from bot.domain.aggregate import Aggregator
from bot.domain.chart import (
    CHART_BUCKETS,
    build_series,
    chart_since_ms,
    no_data_spans,
    parse_chart_window,
    render_chart_caption,
    render_chart_empty,
)
from bot.domain.command_specs import SPECS
from bot.domain.command_types import Chart, CommandError
from bot.domain.commands import parse_command
from bot.domain.message import Message, Tone, plain_text
from bot.domain.models import ALL, Liquidation, Side
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
    since = chart_since_ms(240, T)  # the /liqs window: 10:06 to 14:05, now's minute included
    assert since == T + MIN - 240 * MIN
    rows = [
        (since, 1.0, 2.0),  # 10:06: the first bar (10:05-10:10) counts only its minutes inside
        (since + 3 * MIN, 10.0, 0.0),  # same 5m bar
        (since + 4 * MIN, 0.0, 7.0),  # 10:10: the next bar
        (T, 100.0, 0.0),  # the current (last) bar, still filling
        (since - MIN, 1e9, 1e9),  # before the window: ignored
    ]
    s = build_series(rows, "BTC", 240, T, ("binance", "okx"), sampled=True)
    assert len(s.longs) == len(s.shorts) == 49 and s.in_progress == 48
    assert (s.longs[0], s.shorts[0]) == (11.0, 2.0)
    assert (s.longs[1], s.shorts[1]) == (0.0, 7.0)
    assert s.longs[-1] == 100.0
    assert s.title == "BTC liquidations, last 4h (UTC)"
    assert s.subtitle == "Total $120 · longs $111 (92%) · shorts $9 (8%)"
    assert "binance, okx" in s.footer and "floor" in s.footer
    assert not any(s.missing)


def test_chart_totals_equal_liqs_for_the_same_window() -> None:
    agg = Aggregator(venues=("binance", "bybit"), retention_minutes=2 * 1440)
    events = [
        Liquidation("binance" if i % 2 else "bybit", "BTC", Side.LONG if i % 3 else Side.SHORT,
                    1000.0 + i, T - i * 37_000)
        for i in range(3000)
    ]  # fmt: skip
    agg.add(events, T)
    per_minute: dict[int, list[float]] = {}
    for r in agg.dirty_rows():
        acc = per_minute.setdefault(r.minute_ms, [0.0, 0.0])
        acc[0] += r.longs
        acc[1] += r.shorts
    rows = [(m, lg, sh) for m, (lg, sh) in sorted(per_minute.items())]
    for window in (60, 240, 720, 1440):
        s = build_series(rows, "BTC", window, T + 17_000)
        liqs = agg.window("BTC", window, T + 17_000)
        assert s.total_longs == pytest.approx(liqs.longs)
        assert s.total_shorts == pytest.approx(liqs.shorts)


def test_time_without_any_source_is_missing_not_zero() -> None:
    # binance out 12:00-13:00, bybit 12:20-13:30: no data at all 12:20-13:00 only
    outages = {
        "binance": [(T - 125 * MIN, T - 65 * MIN)],
        "bybit": [(T - 105 * MIN, T - 35 * MIN)],
    }
    spans = no_data_spans(outages, ["binance", "bybit"])
    assert spans == [(T - 105 * MIN, T - 65 * MIN)]
    assert no_data_spans({"binance": outages["binance"]}, ["binance", "bybit"]) == []
    s = build_series([(T, 1.0, 0.0)], "BTC", 240, T, no_data=spans)
    bars = [s.start_ms + i * s.bucket_ms for i, m in enumerate(s.missing) if m]
    assert bars[0] == T - 105 * MIN and bars[-1] == T - 70 * MIN and len(bars) == 8
    text = plain_text(render_chart_caption(s, T))
    assert "Hatched grey: no data (sources down, or the bot not running), not zero." in text


def test_caption_sums_and_names_the_biggest_bar() -> None:
    rows = [(T - 60 * MIN, 5_000_000.0, 1_080_000.0), (T, 500_000.0, 0.0)]
    s = build_series(rows, ALL, 1440, T, ("binance",), sampled=True)
    msg = render_chart_caption(s, T)
    text = plain_text(msg)
    assert msg.title == "All coins liquidations, last 24h (UTC)"
    assert "Total $6.58M" in text and "longs $5.50M (84%)" in text
    assert "Biggest 15m bar: $6.08M at 13:00 UTC" in text
    assert "Up to 14:05 UTC; the last bar is still filling." in text and msg.tone is Tone.LONG
    assert len(text) < 1000  # fits a Telegram caption with its markup


def test_empty_window_message() -> None:
    text = plain_text(render_chart_empty("BTC", 60))
    assert "No liquidations of BTC recorded in the last 1h." in text
    offline = render_chart_empty("BTC", 1440, "binance, bybit, okx cannot connect since 18:02 UTC")
    assert offline.lines == (
        "No data for BTC over the last 24h: binance, bybit, okx cannot connect since 18:02 UTC.",
        "Nothing to draw until a source delivers.",
    )


def test_message_image_is_not_serialised() -> None:
    msg = Message("t", ("x",), image=b"\x89PNG...", image_name="c.png")
    d = msg.to_dict()
    assert "image" not in d and "image_name" not in d
    back = Message.from_dict(d)
    assert back.image is None and back == Message("t", ("x",))
