"""/chart pictures: a ChartSeries in, PNG bytes out (matplotlib, Agg backend, no pyplot).

Pure apart from the CPU: no network, no files. Rendering takes tens of milliseconds, so callers
in the event loop run it in a thread (asyncio.to_thread); a lock keeps one render at a time,
since matplotlib does not promise thread safety even for separate figures.
"""

from __future__ import annotations

import datetime as dtm
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from bot.domain.chart import ChartSeries
from bot.domain.money import format_threshold

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LONG_COLOUR = "#e74c3c"  # longs liquidated (price fell): red, as in the Discord embeds
SHORT_COLOUR = "#2ecc71"  # shorts liquidated (price rose): green
MISSING_COLOUR = "#bbbbbb"  # time without data: hatched grey, never an empty (calm) bar
# 720 px wide: shown 390 px wide on a phone, 14 pt text is still ~10 px tall
WIDTH_IN, HEIGHT_IN = 7.2, 5.4
TEXT_PT = 14
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Rendered:
    png: bytes
    bars: int  # rectangles drawn: one per bucket and side with a value above zero
    width_px: int
    height_px: int


def _money(value: float, _pos: object = None) -> str:
    """Axis ticks, short: `$250M`, `$1.5B` (the title carries the exact figures)."""
    return format_threshold(value) if value >= 1 else "$0"


def _rects(
    xs: Sequence[float], width: float, bottoms: Sequence[float], heights: Sequence[float]
) -> list[list[tuple[float, float]]]:
    """The corners of each bar with a height (a zero bar draws nothing)."""
    return [
        [(x, b), (x + width, b), (x + width, b + h), (x, b + h)]
        for x, b, h in zip(xs, bottoms, heights, strict=True)
        if h > 0
    ]


def render_chart(series: ChartSeries, dpi: int = 100) -> Rendered:
    """Longs and shorts as stacked bars per bucket, the money axis in the market's format."""
    zone = ZoneInfo(series.zone)  # the chat's zone (/tz): the axis reads its local times
    # x in matplotlib's date numbers (days), not datetimes: bars of plain floats draw ~2x faster
    start = date2num(dtm.datetime.fromtimestamp(series.start_ms / 1000, zone))
    step = series.bucket_min / 1440
    xs = [start + i * step for i in range(len(series.longs))]
    width = step * 0.85
    last = series.in_progress
    with _LOCK:
        fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=dpi)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        # one collection of rectangles per side: ~4x faster than ax.bar's one artist per bar;
        # the bar still in progress is its own, lighter, collection
        done = range(last)
        tops = [lg + sh for lg, sh in zip(series.longs, series.shorts, strict=True)]
        top = max(tops, default=0)
        ymax = top * 1.25 if top > 0 else 1  # headroom for the legend
        for idx, alpha in ((done, 1.0), (range(last, last + 1), 0.4)):
            x = [xs[i] for i in idx]
            lg = [series.longs[i] for i in idx]
            sh = [series.shorts[i] for i in idx]
            for rects, colour in (
                (_rects(x, width, [0.0] * len(x), lg), LONG_COLOUR),
                (_rects(x, width, lg, sh), SHORT_COLOUR),
            ):
                ax.add_collection(
                    PolyCollection(rects, facecolors=colour, edgecolors="none", alpha=alpha)
                )
        gaps = [i for i, m in enumerate(series.missing) if m]
        if gaps:
            ax.add_collection(
                PolyCollection(
                    _rects([xs[i] for i in gaps], step, [0.0] * len(gaps), [ymax] * len(gaps)),
                    facecolors="none",
                    edgecolors=MISSING_COLOUR,
                    hatch="//",
                    linewidths=0,
                )
            )
        ax.xaxis_date(tz=zone)
        fig.suptitle(series.title, fontsize=TEXT_PT + 3, fontweight="bold", x=0.02, ha="left")
        if series.subtitle:
            ax.set_title(series.subtitle, fontsize=TEXT_PT - 1, loc="left", pad=8)
        ax.yaxis.set_major_formatter(FuncFormatter(_money))
        locator = AutoDateLocator(tz=zone, minticks=3, maxticks=5)
        ax.xaxis.set_major_locator(locator)
        fmt = "%H:%M" if series.window <= 1440 else "%d %b"
        ax.xaxis.set_major_formatter(DateFormatter(fmt, tz=zone))
        ax.tick_params(labelsize=TEXT_PT - 1)
        ax.set_xlim(xs[0], xs[-1] + step)
        ax.set_ylim(0, ymax)
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        legend = [
            Patch(facecolor=LONG_COLOUR, label=series.legend[0]),
            Patch(facecolor=SHORT_COLOUR, label=series.legend[1]),
            Patch(facecolor=SHORT_COLOUR, alpha=0.4, label=series.legend[2]),
        ]
        if gaps:
            legend.append(
                Patch(
                    facecolor="none", edgecolor=MISSING_COLOUR, hatch="//", label=series.legend[3]
                )
            )
        ax.legend(
            handles=legend,
            loc="upper left",
            ncol=len(legend),
            frameon=False,
            fontsize=TEXT_PT - 2,
            handlelength=1.0,
            columnspacing=0.8,
            handletextpad=0.4,
        )
        if series.footer:
            fig.text(
                0.02,
                0.015,
                series.footer,
                fontsize=TEXT_PT - 3,
                color="#555555",
                ha="left",
                wrap=True,
            )
        fig.subplots_adjust(left=0.13, right=0.97, top=0.83, bottom=0.16 if series.footer else 0.1)
        buf = io.BytesIO()
        canvas.print_png(buf)
        w, h = canvas.get_width_height()
        bars = sum(v > 0 for v in series.longs) + sum(v > 0 for v in series.shorts)
    return Rendered(buf.getvalue(), bars, w, h)


def render_png(series: ChartSeries) -> bytes:
    return render_chart(series).png
