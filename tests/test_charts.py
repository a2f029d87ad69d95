"""bot.charts: a ChartSeries becomes a real PNG with one bar per bucket and side."""

from __future__ import annotations

import struct

from bot.charts import PNG_SIGNATURE, render_chart, render_png
from bot.domain.chart import build_series
from bot.domain.models import ALL

T = 1768313100000


def test_renders_a_png_with_stacked_bars() -> None:
    rows = [(T - i * 60_000, 1e6 * (i % 7), 5e5 * (i % 3)) for i in range(1440)]
    series = build_series(rows, ALL, 1440, T, ("binance", "bybit"), sampled=True)
    out = render_chart(series)
    assert out.png.startswith(PNG_SIGNATURE)
    assert len(series.longs) == 97  # 15m buckets over 24h, the first and last partial
    drawn = sum(v > 0 for v in series.longs) + sum(v > 0 for v in series.shorts)
    assert out.bars == drawn > 96  # a rectangle per bucket and side with liquidations
    width, height = struct.unpack(">II", out.png[16:24])  # the IHDR chunk
    # 720 px wide, so 14 pt labels stay ~10 px tall on a 390 px phone screen
    assert (width, height) == (out.width_px, out.height_px) == (720, 540)
    assert len(out.png) > 10_000  # bars, axes and text drawn, not a blank canvas


def test_an_almost_empty_series_still_renders() -> None:
    series = build_series([(T, 0.0, 1.0)], "BTC", 10080, T)
    assert render_png(series).startswith(PNG_SIGNATURE)
