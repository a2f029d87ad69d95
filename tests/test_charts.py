"""bot.features.charts: a ChartSeries becomes a real PNG with one bar per bucket and side."""

from __future__ import annotations

import struct

from bot.domain.chart import build_series
from bot.domain.models import ALL
from bot.features.charts import PNG_SIGNATURE, render_chart, render_png

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


def _grey_columns(png: bytes) -> list[int]:
    """x of every pixel column holding the hatch's grey (#bbbbbb) inside the plot area, below
    the legend and above the time axis (text antialiasing elsewhere has greys too)."""
    import io

    import numpy as np
    from matplotlib.image import imread

    img = imread(io.BytesIO(png))[:, :, :3]
    grey = np.all(np.abs(img - 0xBB / 255) < 0.02, axis=2)
    top, bottom = int(0.3 * img.shape[0]), int(0.8 * img.shape[0])
    left, right = int(0.13 * img.shape[1]) + 3, int(0.97 * img.shape[1]) - 3
    return [left + int(x) for x in np.nonzero(grey[top:bottom, left:right].any(axis=0))[0]]


def test_time_without_data_is_hatched_in_the_picture_and_calm_time_is_not() -> None:
    """Read back from the PNG's pixels: the missing first half of the hour carries the hatch,
    the quiet (zero but covered) second half does not."""
    minute = 60_000
    rows = [(T - 5 * minute, 2e6, 1e6)]
    spans = [(T - 59 * minute, T - 30 * minute)]
    gapped = render_chart(build_series(rows, "BTC", 60, T, ("binance",), no_data=spans))
    calm = render_chart(build_series(rows, "BTC", 60, T, ("binance",)))
    cols = _grey_columns(gapped.png)
    assert cols, "no hatch drawn for the time without data"
    left, right = 0.13 * gapped.width_px, 0.97 * gapped.width_px  # the axes (subplots_adjust)
    mid = left + (right - left) * 30 / 60
    assert all(left - 2 <= x <= mid + 2 for x in cols)  # only over the missing half hour
    assert max(cols) - min(cols) > (mid - left) * 0.8  # and across nearly all of it
    assert _grey_columns(calm.png) == []
