"""Wording shared by every message: times, shares, sides, venues, footers, fitting lines.

The render modules build on these: render_alerts (alert messages), render_market (/liqs and
/status) and render (command replies, /list, /help, errors).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.domain.market import coin_label, utc_hhmm, window_label
from bot.domain.message import Tone
from bot.domain.models import Side
from bot.domain.money import format_threshold

MAX_CHARS = 3800  # below Telegram's 4096 with room for the adapter's markup
DOMINANCE = 0.6  # a side with at least 60% of the total "dominates" the wave
FLOOR_NOTE = "Exchange streams are sampled: figures are a floor, not the full total."


def hhmm(ms: int) -> str:
    """`14:05 UTC` for a time in epoch milliseconds."""
    return f"{utc_hhmm(ms)} UTC"


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def percent(part: float, whole: float) -> str:
    return f"{round(100 * part / whole)}%" if whole > 0 else "0%"


def side_plural(side: Side) -> str:
    return {Side.LONG: "longs", Side.SHORT: "shorts", Side.TOTAL: "total"}[side]


def dominance(longs: float, shorts: float) -> Tone:
    """SHORT for a short squeeze, LONG for a long flush, NEUTRAL when neither dominates."""
    total = longs + shorts
    if total <= 0:
        return Tone.NEUTRAL
    if shorts / total >= DOMINANCE:
        return Tone.SHORT
    if longs / total >= DOMINANCE:
        return Tone.LONG
    return Tone.NEUTRAL


WAVE_NAMES = {Tone.SHORT: "short squeeze", Tone.LONG: "long flush", Tone.NEUTRAL: ""}


def describe_rule(coin: str, window: int, side: Side, threshold: float) -> str:
    """`BTC total over 1h above $100M`."""
    return (
        f"{coin_label(coin)} {side_plural(side)} over {window_label(window)} "
        f"above {format_threshold(threshold)}"
    )


VENUE_NAMES = {"okx": "OKX", "coinglass": "CoinGlass", "bitget": "Bitget", "htx": "HTX"}


def venue_name(venue: str) -> str:
    return VENUE_NAMES.get(venue, venue[:1].upper() + venue[1:])


def sources_footer(as_of_ms: int, sources: Sequence[str], sampled: bool) -> str:
    parts = [f"as of {hhmm(as_of_ms)}"]
    if sources:
        parts.append("sources: " + ", ".join(sources))
    text = " · ".join(parts)
    return f"{text}\n{FLOOR_NOTE}" if sampled else text


def fit_lines(lines: list[str], budget: int) -> tuple[str, ...]:
    """Keep lines while they fit; say how many were left out."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            out.append(f"… and {len(lines) - i} more")
            break
        out.append(line)
        used += len(line) + 1
    return tuple(out)


def time_left(until_ms: int, now_ms: int) -> str:
    """Time left, rounded up to the minute: `45m`, `1h 20m`, `2d`."""
    minutes = max(1, -(-int(until_ms - now_ms) // 60_000))
    hours, mins = divmod(minutes, 60)
    if hours == 0:
        return f"{mins}m"
    if mins == 0:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"
    return f"{hours}h {mins}m"


def active_mute_lines(mutes: Mapping[str | None, int], now_ms: int) -> list[str]:
    lines = []
    for coin, until in sorted(mutes.items(), key=lambda kv: (kv[0] is not None, kv[0] or "")):
        if until <= now_ms:
            continue
        what = "All alerts" if coin is None else f"{coin_label(coin)} alerts"
        lines.append(f"{what} muted until {hhmm(until)} ({time_left(until, now_ms)} left)")
    return lines
