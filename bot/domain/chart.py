"""/chart: which windows, how many bars, the series to draw and the words around the picture.

Pure: the PNG itself is drawn by the shell (bot/features/charts.py) from a ChartSeries built here.
"""

from __future__ import annotations

import datetime as dtm
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from bot.domain.i18n import EN, N_, Lang
from bot.domain.market import MarketError, coin_label
from bot.domain.message import Message, Tone
from bot.domain.models import ALL
from bot.domain.money import format_usd
from bot.domain.render_common import FLOOR_NOTE, dominance, hhmm, percent

MINUTE_MS = 60_000

# chart window (minutes) -> bar width (minutes): 48-96 bars each
CHART_BUCKETS: dict[int, int] = {
    60: 1,  # 60 bars
    120: 2,  # 60
    240: 5,  # 48
    720: 10,  # 72
    1440: 15,  # 96
    4320: 60,  # 3d: 72
    10080: 120,  # 7d: 84
}
DEFAULT_CHART_WINDOW = 1440
_CHART_ALIASES = {"1d": 1440, "day": 1440, "60m": 60, "hour": 60, "1w": 10080, "week": 10080}


def chart_window_label(minutes: int) -> str:
    if minutes % 1440 == 0 and minutes > 1440:
        return f"{minutes // 1440}d"
    return f"{minutes // 60}h"


CHART_WINDOW_CHOICES: tuple[str, ...] = tuple(chart_window_label(w) for w in CHART_BUCKETS)


def parse_chart_window(text: str) -> int:
    t = text.strip().lower()
    if t in _CHART_ALIASES:
        return _CHART_ALIASES[t]
    for w in CHART_BUCKETS:
        if t == chart_window_label(w) or t == f"{w // 60}h":
            return w
    choices = " ".join(CHART_WINDOW_CHOICES)
    if t in ("5m", "15m", "30m"):
        raise MarketError(
            N_("%(text)s is too short for a chart; use one of %(choices)s"), text=t, choices=choices
        )
    raise MarketError(
        N_("unknown chart window '%(text)s'; use one of %(choices)s"), text=text, choices=choices
    )


@dataclass(frozen=True)
class ChartSeries:
    """Bars to draw: longs and shorts per bucket, oldest first. Values in USD.

    The bars cover exactly the /liqs window (the first one may start before it and count only
    its minutes inside; the last one holds now and is still filling), so the totals are /liqs's.
    """

    coin: str
    window: int  # minutes
    bucket_min: int
    start_ms: int  # the first bar's start
    longs: tuple[float, ...]
    shorts: tuple[float, ...]
    title: str
    footer: str
    missing: tuple[bool, ...] = ()  # per bar: every source was out for most of it (no data)
    subtitle: str = ""  # the window's total and split, drawn inside the picture
    zone: str = "UTC"  # the time axis's zone (IANA name): the chat's /tz
    legend: tuple[str, str, str, str] = ("Longs", "Shorts", "Now (filling)", "No data")

    @property
    def in_progress(self) -> int:
        """The index of the bar that holds now: always the last."""
        return len(self.longs) - 1

    @property
    def bucket_ms(self) -> int:
        return self.bucket_min * MINUTE_MS

    @property
    def total_longs(self) -> float:
        return sum(self.longs)

    @property
    def total_shorts(self) -> float:
        return sum(self.shorts)


def chart_since_ms(window: int, now_ms: int) -> int:
    """The first minute the chart reads: the first minute of /liqs's window (now's minute is the
    last), so that the chart's totals are the table's."""
    return (now_ms // MINUTE_MS - window + 1) * MINUTE_MS


def no_data_spans(
    outages: Mapping[str, Sequence[tuple[int, int]]], sources: Sequence[str]
) -> list[tuple[int, int]]:
    """The spans when every source was out at once: time without data, not calm time."""
    if not sources or any(not outages.get(s) for s in sources):
        return []
    edges = sorted({t for s in sources for span in outages[s] for t in span})
    spans: list[tuple[int, int]] = []
    for a, b in itertools.pairwise(edges):
        mid = (a + b) / 2
        if all(any(x <= mid < y for x, y in outages[s]) for s in sources):
            if spans and spans[-1][1] == a:
                spans[-1] = (spans[-1][0], b)
            else:
                spans.append((a, b))
    return spans


def _overlap(a: int, b: int, spans: Sequence[tuple[int, int]]) -> int:
    return sum(max(0, min(b, y) - max(a, x)) for x, y in spans)


def chart_title(coin: str, window: int, lang: Lang = EN, zone: str = "UTC") -> str:
    """The picture's title and the caption's; `zone`: the abbreviation its times are in."""
    return lang._(
        "%(coin)s liquidations, last %(window)s (%(zone)s)",
        coin=coin_label(coin, lang),
        window=chart_window_label(window),
        zone=zone,
    )


# The languages the picture's own words are drawn in: its font (matplotlib's DejaVu Sans) has
# Latin and Cyrillic but no CJK, and no CJK font is a dependency; a Chinese chat's picture is
# drawn in English (its caption is Chinese).
DRAWN_LANGS = frozenset({"en", "ru", "es"})


def _split(series: ChartSeries) -> dict[str, str]:
    """The window's total and its longs/shorts split, as the title lines word them."""
    lg, sh = series.total_longs, series.total_shorts
    total = lg + sh
    return {
        "total": format_usd(total),
        "longs": format_usd(lg),
        "lp": percent(lg, total),
        "shorts": format_usd(sh),
        "sp": percent(sh, total),
    }


def zone_abbr(tz: ZoneInfo | None, at_ms: int) -> str:
    """`CET`, `CEST`, `JST`: the zone's abbreviation at that moment (UTC for none)."""
    if tz is None:
        return "UTC"
    return dtm.datetime.fromtimestamp(at_ms / 1000, tz).tzname() or tz.key


def for_chat(series: ChartSeries, lang: Lang, tz: ZoneInfo | None, now_ms: int) -> ChartSeries:
    """The picture as a chat sees it: its time axis in the chat's zone (/tz), its words in
    the chat's language where the font draws it (DRAWN_LANGS), else in English."""
    pic = lang if lang.code in DRAWN_LANGS else EN
    return replace(
        series,
        title=chart_title(series.coin, series.window, pic, zone_abbr(tz, now_ms)),
        subtitle=pic._(
            "Total %(total)s · longs %(longs)s (%(lp)s) · shorts %(shorts)s (%(sp)s)",
            **_split(series),
        ),
        legend=(pic._("Longs"), pic._("Shorts"), pic._("Now (filling)"), pic._("No data")),
        zone=tz.key if tz is not None else "UTC",
    )


def chart_footer(sources: Sequence[str], sampled: bool, lang: Lang = EN) -> str:
    parts = []
    if sources:
        parts.append(lang._("Sources: %(names)s", names=", ".join(sources)))
    if sampled:
        parts.append(lang._(FLOOR_NOTE))
    return " · ".join(parts)


def build_series(
    rows: Iterable[tuple[int, float, float]],
    coin: str,
    window: int,
    now_ms: int,
    sources: Sequence[str] = (),
    sampled: bool = True,
    no_data: Sequence[tuple[int, int]] = (),
) -> ChartSeries:
    """Fold (minute_ms, longs, shorts) rows into the chart's bars (rows outside are ignored).

    `no_data`: spans when no source delivered (see no_data_spans); bars mostly inside are
    marked missing.
    """
    bucket_min = CHART_BUCKETS[window]
    bucket_ms = bucket_min * MINUTE_MS
    since = chart_since_ms(window, now_ms)
    first_bar = since // bucket_ms * bucket_ms
    end = (now_ms // bucket_ms + 1) * bucket_ms  # the end of the bar holding `now`
    n = (end - first_bar) // bucket_ms
    start = first_bar
    longs = [0.0] * n
    shorts = [0.0] * n
    for minute_ms, lg, sh in rows:
        i = (minute_ms - start) // bucket_ms
        if minute_ms >= since and 0 <= i < n:
            longs[i] += lg
            shorts[i] += sh
    missing = []
    for i in range(n):
        a = max(since, start + i * bucket_ms)
        b = min(now_ms, start + (i + 1) * bucket_ms)
        missing.append(b > a and _overlap(a, b, no_data) * 2 >= b - a)
    lg_total, sh_total = sum(longs), sum(shorts)
    total = lg_total + sh_total
    return ChartSeries(
        coin=coin,
        window=window,
        bucket_min=bucket_min,
        start_ms=start,
        longs=tuple(longs),
        shorts=tuple(shorts),
        title=chart_title(coin, window),
        footer=chart_footer(sources, sampled),
        missing=tuple(missing),
        subtitle=(
            f"Total {format_usd(total)} · longs {format_usd(lg_total)} "
            f"({percent(lg_total, total)}) · shorts {format_usd(sh_total)} "
            f"({percent(sh_total, total)})"
        ),
    )


def render_chart_caption(
    series: ChartSeries,
    now_ms: int,
    lang: Lang = EN,
    sources: Sequence[str] = (),
    sampled: bool = False,
    tz: ZoneInfo | None = None,
) -> Message:
    """The words that go with the picture (Telegram caption, Discord embed, console text),
    its times in the chat's zone."""
    lg, sh = series.total_longs, series.total_shorts
    peak_i = max(range(len(series.longs)), key=lambda i: series.longs[i] + series.shorts[i])
    peak = series.longs[peak_i] + series.shorts[peak_i]
    peak_at = series.start_ms + peak_i * series.bucket_ms
    bar = f"{series.bucket_min}m" if series.bucket_min < 60 else f"{series.bucket_min // 60}h"
    lines = [
        lang._(
            "Total %(total)s: longs %(longs)s (%(lp)s), shorts %(shorts)s (%(sp)s)",
            **_split(series),
        ),
        lang._(
            "Biggest %(bar)s bar: %(usd)s at %(time)s",
            bar=bar,
            usd=format_usd(peak),
            time=hhmm(peak_at, now_ms, tz=tz, lang=lang),
        ),
        lang._(
            "Up to %(time)s; the last bar is still filling.",
            time=hhmm(now_ms, tz=tz, lang=lang),
        ),
    ]
    if any(series.missing):
        lines.append(
            lang._("Hatched grey: no data (sources down, or the bot not running), not zero.")
        )
    tone = dominance(lg, sh)
    english = lang.code == "en"
    return Message(
        title=chart_title(series.coin, series.window, lang, zone_abbr(tz, now_ms)),
        lines=tuple(lines),
        footer=series.footer if english else chart_footer(sources, sampled, lang),
        tone=tone if tone is not Tone.NEUTRAL else Tone.INFO,
    )


def render_chart_empty(coin: str, window: int, not_up: str = "", lang: Lang = EN) -> Message:
    """No rows to draw. `not_up`: the sources that are not delivering, in words (render_market).

    Without data there is no picture: an empty chart would read as a calm market.
    """
    last = chart_window_label(window)
    of = lang._("any coin") if coin == ALL else coin
    if not_up:
        lines: tuple[str, ...] = (
            lang._(
                "No data for %(coin)s over the last %(window)s: %(why)s.",
                coin=of,
                window=last,
                why=not_up,
            ),
            lang._("Nothing to draw until a source delivers."),
        )
    else:
        lines = (
            lang._(
                "No liquidations of %(coin)s recorded in the last %(window)s.", coin=of, window=last
            ),
            lang._("The chart reads the bot's own store: time before the bot ran has no data."),
        )
    return Message(title=chart_title(coin, window, lang), lines=lines, tone=Tone.INFO)
