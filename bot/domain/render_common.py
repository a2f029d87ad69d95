"""Wording shared by every message: times, shares, sides, venues, footers, fitting lines.

The render modules build on these: render_alerts (alert messages), render_market (/liqs and
/status) and render (command replies, /list, /help, errors).
"""

from __future__ import annotations

import datetime as dtm
import time
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from bot.domain.i18n import EN, N_, Lang
from bot.domain.market import coin_label, utc_hhmm, window_label
from bot.domain.message import Tone
from bot.domain.models import Side, Subscription
from bot.domain.money import format_threshold

MAX_CHARS = 3800  # below Telegram's 4096 with room for the adapter's markup
DOMINANCE = 0.6  # a side with at least 60% of the total "dominates" the wave
FLOOR_NOTE = N_("Exchange streams are sampled: figures are a floor, not the full total.")


DAY_MS = 86_400_000


def _is_utc(tz: ZoneInfo | None) -> bool:
    return tz is None or tz.key == "UTC"


def _local(ms: int, tz: ZoneInfo) -> dtm.datetime:
    return dtm.datetime.fromtimestamp(ms / 1000, tz)


def _local_hhmm(t: dtm.datetime) -> str:
    return f"{t.hour:02d}:{t.minute:02d} {t.tzname()}"


def hhmm(ms: int, now_ms: int | None = None, tz: ZoneInfo | None = None, lang: Lang = EN) -> str:
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
                year = t.year if t.year != n.year else None
                return f"{lang.date(t.day, t.month, year)} {_local_hhmm(t)}"
        return _local_hhmm(t)
    if now_ms is not None and ms // DAY_MS != now_ms // DAY_MS:
        g = time.gmtime(ms / 1000)
        year = g.tm_year if g.tm_year != time.gmtime(now_ms / 1000).tm_year else None
        return f"{lang.date(g.tm_mday, g.tm_mon, year)} {utc_hhmm(ms)} UTC"
    return f"{utc_hhmm(ms)} UTC"


def dated(ms: int, tz: ZoneInfo | None = None, lang: Lang = EN) -> str:
    """`13 Jan 2026 14:05 UTC`: for messages that get forwarded (alerts), always with the date."""
    if not _is_utc(tz):
        assert tz is not None
        t = _local(ms, tz)
        return f"{lang.date(t.day, t.month, t.year)} {_local_hhmm(t)}"
    g = time.gmtime(ms / 1000)
    return f"{lang.date(g.tm_mday, g.tm_mon, g.tm_year)} {utc_hhmm(ms)} UTC"


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def percent(part: float, whole: float) -> str:
    return f"{round(100 * part / whole)}%" if whole > 0 else "0%"


_SIDES = {Side.LONG: N_("longs"), Side.SHORT: N_("shorts"), Side.TOTAL: N_("total")}


def side_plural(side: Side, lang: Lang = EN) -> str:
    return lang._(_SIDES[side])


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
# English here (the keys the renderers compare); lang._(name) in the text.
WAVE_NAMES = {Tone.SHORT: N_("short squeeze"), Tone.LONG: N_("long flush"), Tone.NEUTRAL: ""}
MOSTLY = {Tone.SHORT: N_("mostly shorts"), Tone.LONG: N_("mostly longs"), Tone.NEUTRAL: ""}


def describe_rule(coin: str, window: int, side: Side, threshold: float, lang: Lang = EN) -> str:
    """`BTC total over 1h above $100M`."""
    return lang._(
        "%(coin)s %(side)s over %(window)s above %(threshold)s",
        coin=coin_label(coin, lang),
        side=side_plural(side, lang),
        window=window_label(window),
        threshold=format_threshold(threshold),
    )


def sub_label(sub: Subscription, lang: Lang = EN) -> str:
    """`#3`: the chat's own number for it; the operator's broadcasts have none of its numbers."""
    if sub.origin == "config":
        return lang._("Broadcast")
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
    lang: Lang = EN,
) -> str:
    when = dated(as_of_ms, tz, lang) if with_date else hhmm(as_of_ms, tz=tz, lang=lang)
    parts = [lang._("as of %(time)s", time=when)]
    if sources:
        parts.append(lang._("sources: %(names)s", names=", ".join(sources)))
    text = " · ".join(parts)
    return f"{text}\n{lang._(FLOOR_NOTE)}" if sampled else text


def fit_lines(lines: list[str], budget: int, lang: Lang = EN) -> tuple[str, ...]:
    """Keep lines while they fit; say how many were left out."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            out.append(lang._("… and %(n)d more", n=len(lines) - i))
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
    mutes: Mapping[str | None, int], now_ms: int, tz: ZoneInfo | None = None, lang: Lang = EN
) -> list[str]:
    lines = []
    for coin, until in sorted(mutes.items(), key=lambda kv: (kv[0] is not None, kv[0] or "")):
        if until <= now_ms:
            continue
        values = {"until": hhmm(until, now_ms, tz, lang), "left": time_left(until, now_ms)}
        if coin is None:
            lines.append(lang._("All alerts muted until %(until)s (%(left)s left)", **values))
        else:
            lines.append(
                lang._(
                    "%(coin)s alerts muted until %(until)s (%(left)s left)",
                    coin=coin_label(coin),
                    **values,
                )
            )
    return lines
