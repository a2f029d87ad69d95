"""Wording shared by every message: times, shares, sides, venues, footers, fitting lines.

The render modules build on these: render_alerts (alert messages), render_market (/liqs and
/status) and render (command replies, /list, /help, errors).
"""

from __future__ import annotations

import datetime as dtm
import time
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from bot.domain.market import coin_label, utc_hhmm, window_label
from bot.domain.message import Tone
from bot.domain.models import Side, Subscription
from bot.domain.money import format_threshold

MAX_CHARS = 3800  # below Telegram's 4096 with room for the adapter's markup
DOMINANCE = 0.6  # a side with at least 60% of the total "dominates" the wave
FLOOR_NOTE = "Exchange streams are sampled: figures are a floor, not the full total."


DAY_MS = 86_400_000
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _is_utc(tz: ZoneInfo | None) -> bool:
    return tz is None or tz.key == "UTC"


def _local(ms: int, tz: ZoneInfo) -> dtm.datetime:
    return dtm.datetime.fromtimestamp(ms / 1000, tz)


def _local_hhmm(t: dtm.datetime) -> str:
    return f"{t.hour:02d}:{t.minute:02d} {t.tzname()}"


def hhmm(ms: int, now_ms: int | None = None, tz: ZoneInfo | None = None) -> str:
    """`14:05 UTC` for a time today (UTC); `14 Jan 14:05 UTC` for any other day.

    Without `now_ms` the time is taken to be today's (a footer "as of" the moment it is read).
    `tz`: the chat's zone (/tz): `15:05 CET`, "today" being the local date there.
    """
    if not _is_utc(tz):
        assert tz is not None
        t = _local(ms, tz)
        if now_ms is not None:
            n = _local(now_ms, tz)
            if t.date() != n.date():
                year = f" {t.year}" if t.year != n.year else ""
                return f"{t.day} {_MONTHS[t.month - 1]}{year} {_local_hhmm(t)}"
        return _local_hhmm(t)
    if now_ms is not None and ms // DAY_MS != now_ms // DAY_MS:
        g = time.gmtime(ms / 1000)
        year = f" {g.tm_year}" if g.tm_year != time.gmtime(now_ms / 1000).tm_year else ""
        return f"{g.tm_mday} {_MONTHS[g.tm_mon - 1]}{year} {utc_hhmm(ms)} UTC"
    return f"{utc_hhmm(ms)} UTC"


def dated(ms: int, tz: ZoneInfo | None = None) -> str:
    """`13 Jan 2026 14:05 UTC`: for messages that get forwarded (alerts), always with the date."""
    if not _is_utc(tz):
        assert tz is not None
        t = _local(ms, tz)
        return f"{t.day} {_MONTHS[t.month - 1]} {t.year} {_local_hhmm(t)}"
    g = time.gmtime(ms / 1000)
    return f"{g.tm_mday} {_MONTHS[g.tm_mon - 1]} {g.tm_year} {utc_hhmm(ms)} UTC"


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def percent(part: float, whole: float) -> str:
    return f"{round(100 * part / whole)}%" if whole > 0 else "0%"


def side_plural(side: Side) -> str:
    return {Side.LONG: "longs", Side.SHORT: "shorts", Side.TOTAL: "total"}[side]


def dominance(longs: float, shorts: float) -> Tone:
    """SHORT when shorts carry the wave, LONG when longs do, NEUTRAL when neither dominates."""
    total = longs + shorts
    if total <= 0:
        return Tone.NEUTRAL
    if shorts / total >= DOMINANCE:
        return Tone.SHORT
    if longs / total >= DOMINANCE:
        return Tone.LONG
    return Tone.NEUTRAL


# A dominant side alone says "mostly shorts"; the dramatic names also need a size unusual for
# the coin and window (see render_alerts.is_unusual), or a quiet hour would be a "long flush".
WAVE_NAMES = {Tone.SHORT: "short squeeze", Tone.LONG: "long flush", Tone.NEUTRAL: ""}
MOSTLY = {Tone.SHORT: "mostly shorts", Tone.LONG: "mostly longs", Tone.NEUTRAL: ""}


def describe_rule(coin: str, window: int, side: Side, threshold: float) -> str:
    """`BTC total over 1h above $100M`."""
    return (
        f"{coin_label(coin)} {side_plural(side)} over {window_label(window)} "
        f"above {format_threshold(threshold)}"
    )


def sub_label(sub: Subscription) -> str:
    """`#3`: the chat's own number for it; the operator's broadcasts have none of its numbers."""
    if sub.origin == "config":
        return "Broadcast"
    return f"#{sub.number or sub.id}"


VENUE_NAMES = {
    "okx": "OKX",
    "coinglass": "CoinGlass",
    "bitget": "Bitget",
    "htx": "HTX",
    "bitmex": "BitMEX",
    "binance_coinm": "Binance COIN-M",
    "bybit_inverse": "Bybit inverse",
}


def venue_name(venue: str) -> str:
    return VENUE_NAMES.get(venue, venue[:1].upper() + venue[1:])


def sources_footer(
    as_of_ms: int,
    sources: Sequence[str],
    sampled: bool,
    *,
    with_date: bool = False,
    tz: ZoneInfo | None = None,
) -> str:
    parts = [f"as of {dated(as_of_ms, tz) if with_date else hhmm(as_of_ms, tz=tz)}"]
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


def active_mute_lines(
    mutes: Mapping[str | None, int], now_ms: int, tz: ZoneInfo | None = None
) -> list[str]:
    lines = []
    for coin, until in sorted(mutes.items(), key=lambda kv: (kv[0] is not None, kv[0] or "")):
        if until <= now_ms:
            continue
        what = "All alerts" if coin is None else f"{coin_label(coin)} alerts"
        until_at = hhmm(until, now_ms, tz)
        lines.append(f"{what} muted until {until_at} ({time_left(until, now_ms)} left)")
    return lines
