"""`/liqs compare`: our streams' totals beside CoinGlass's, with the share the streams see."""

from __future__ import annotations

from bot.domain.compare import CompareRow, Comparison
from bot.domain.market import coin_label, window_label
from bot.domain.message import Message, Table, Tone
from bot.domain.models import ALL, WindowTotals
from bot.domain.money import format_usd
from bot.domain.render_common import hhmm, venue_name

NA = "n/a"


def _money(t: WindowTotals | None) -> str:
    return NA if t is None else format_usd(t.total)


def _share(part: float, whole: float) -> str:
    return NA if whole <= 0 else f"{round(100 * part / whole)}%"


def _coverage(row: CompareRow) -> str:
    c = row.coverage
    return NA if c is None else f"{round(100 * c)}%"


def render_compare_off() -> Message:
    return Message(
        title="Compare needs CoinGlass",
        lines=(
            "/liqs compare sets our streams' totals beside CoinGlass's for the same windows, "
            "so you see how much of the market the free streams catch. It needs a CoinGlass "
            "API key: set COINGLASS_API_KEY and restart.",
            "Without it, /liqs shows the streams' own figures: a floor of the whole market.",
        ),
        tone=Tone.INFO,
    )


def render_compare(c: Comparison) -> Message:
    """Window / Streams / CoinGlass / Coverage; n/a (never zero) where a figure is unknown."""
    label = coin_label(c.coin)
    rows = tuple(
        (window_label(r.window), _money(r.streams), _money(r.coinglass), _coverage(r))
        for r in c.rows
    )
    table = Table(("Window", "Streams", "CoinGlass", "Coverage"), rows)
    lines: list[str] = []
    ours = ", ".join(venue_name(v) for v in c.stream_sources) or "none connected"
    counted = [venue_name(v.venue) for v in c.venues if v.coinglass is not None]
    if not counted:
        theirs = ""
    elif len(counted) <= 6:
        theirs = f" ({', '.join(counted)})"
    else:
        theirs = f" ({len(counted)} exchanges)"
    lines.append(
        f"Coverage: what our streams ({ours}) saw as a share of CoinGlass's total{theirs}."
    )
    if c.coinglass == "waiting":
        lines.append("CoinGlass has not answered yet: its column fills after its next poll.")
    elif c.coinglass == "stale" and c.coinglass_as_of_ms is not None:
        lines.append(
            f"CoinGlass's last figures are from {hhmm(c.coinglass_as_of_ms, c.as_of_ms)}: "
            "too old to set beside ours."
        )
    if all(r.streams is None for r in c.rows):
        lines.append("No stream is connected now: the streams' column is unknown.")
    if c.only_coins and c.coin == ALL:
        lines.append(
            f"CoinGlass sums {'+'.join(c.only_coins)} only on this key (no coin-list), "
            "so both columns count those coins."
        )
    if side := _side_line(c):
        lines.append(side)
    if venue := _venue_line(c):
        lines.append(venue)
    gaps = [
        window_label(r.window) for r in c.rows if r.streams is not None and not r.streams_complete
    ]
    if gaps:
        lines.append(f"A stream had a gap inside {', '.join(gaps)}: those figures miss that time.")
    if any((r.coverage or 0) > 1 for r in c.rows):
        lines.append(
            "Above 100%: CoinGlass's figures are from our last poll of it; the streams are live."
        )
    footer = f"as of {hhmm(c.as_of_ms)}"
    if c.coinglass_as_of_ms is not None and c.coinglass != "off":
        footer += f" · CoinGlass as of {hhmm(c.coinglass_as_of_ms, c.as_of_ms)}"
    return Message(
        title=f"Our streams vs CoinGlass: {label}",
        lines=tuple(lines),
        table=table,
        footer=footer,
        tone=Tone.INFO,
    )


def _side_line(c: Comparison) -> str | None:
    """Coverage by side over the longest window both sides know: the streams may see one side
    better (Binance samples, some venues list only one side's forced orders)."""
    for r in reversed(c.rows):
        s, g = r.streams, r.coinglass
        if s is not None and g is not None and g.total > 0:
            return (
                f"{window_label(r.window)} by side: longs {_share(s.longs, g.longs)} "
                f"({format_usd(s.longs)} of {format_usd(g.longs)}) · shorts "
                f"{_share(s.shorts, g.shorts)} ({format_usd(s.shorts)} of {format_usd(g.shorts)})"
            )
    return None


def _venue_line(c: Comparison) -> str | None:
    """`By venue, 24h: Binance 12% · Bybit 40% · OKX not streamed`: where the gap comes from."""
    if c.venue_window is None or not c.venues:
        return None
    parts = []
    for v in c.venues[:8]:
        name = venue_name(v.venue)
        if v.streams is None:
            parts.append(f"{name} not streamed")
        elif v.coinglass is None:
            parts.append(f"{name} {format_usd(v.streams)} (not in CoinGlass's answer)")
        else:
            parts.append(f"{name} {_share(v.streams, v.coinglass)}")
    return f"By venue, {window_label(c.venue_window)}: " + " · ".join(parts)
