"""Quiet hours (/quiet): a chat's local window in which alerts arrive without sound. Pure.

`/quiet 23:00-07:00` silences alerts from 23:00 to 07:00 in the chat's own time zone (/tz); a
window may cross midnight. The time of day is read on the local wall clock (zoneinfo), so the
window follows daylight saving: 23:00-07:00 in Europe/Berlin is 22:00-06:00 UTC in winter and
21:00-05:00 UTC in summer, and the night of a change is an hour shorter or longer. On a
fall-back night a local time that happens twice is quiet both times; on a spring-forward night
the skipped hour simply never comes.

`except big`: escalations (a fired rule doubling) and single-liquidation alerts (one order past
the chat's own bar) still ring inside the window.
"""

from __future__ import annotations

import datetime as dtm
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.domain.i18n import EN, N_, Lang, TextError
from bot.domain.message import Message
from bot.domain.render_common import hhmm

DAY_MIN = 24 * 60
_TIME = r"([01]?\d|2[0-3])[:.h]?([0-5]\d)"
_WINDOW = re.compile(rf"^{_TIME}\s*(?:-|–|—|to)\s*{_TIME}(?:\s+except\s+(\S+))?$")
_OFF = ("off", "stop", "none", "clear")


class QuietError(TextError):
    """Quiet hours people typed that we cannot use, in words fit for them."""


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily local window [start, end): minutes after local midnight."""

    start_min: int
    end_min: int
    except_big: bool = False

    def __post_init__(self) -> None:
        for m in (self.start_min, self.end_min):
            if not 0 <= m < DAY_MIN:
                raise ValueError(f"minute of the day out of range: {m}")
        if self.start_min == self.end_min:
            raise ValueError("an empty quiet window")

    def text(self) -> str:
        """`23:00-07:00` or `23:00-07:00 except big`: what /quiet shows and the store keeps."""
        span = f"{_hhmm(self.start_min)}-{_hhmm(self.end_min)}"
        return f"{span} except big" if self.except_big else span

    def covers(self, minute_of_day: int) -> bool:
        """Is this local minute of the day inside the window (start included, end not)?"""
        if self.start_min < self.end_min:
            return self.start_min <= minute_of_day < self.end_min
        return minute_of_day >= self.start_min or minute_of_day < self.end_min  # past midnight

    def is_quiet(self, now_ms: int, zone: ZoneInfo | None = None) -> bool:
        """Is `now_ms` (UTC ms) inside the window on the chat's local clock (None: UTC)?"""
        return self.covers(local_minute(now_ms, zone))

    def silences(self, now_ms: int, zone: ZoneInfo | None, *, big: bool) -> bool:
        """Should an alert sent now go without sound? `big`: an escalation or a single
        liquidation, loud anyway when the chat said `except big`."""
        return self.is_quiet(now_ms, zone) and not (big and self.except_big)


def local_minute(now_ms: int, zone: ZoneInfo | None = None) -> int:
    """The minute of the local day (0..1439) at the UTC instant `now_ms`."""
    if zone is None:
        return (now_ms // 60_000) % DAY_MIN
    t = dtm.datetime.fromtimestamp(now_ms / 1000, zone)
    return t.hour * 60 + t.minute


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_quiet(text: str) -> QuietHours | None:
    """`23:00-07:00 [except big]` -> QuietHours; `off` -> None. QuietError otherwise."""
    t = " ".join(text.split()).lower()
    if t in _OFF:
        return None
    m = _WINDOW.match(t)
    if m is None:
        raise QuietError(
            N_(
                "'%(text)s' is not a quiet window; write it like 23:00-07:00 "
                "(24-hour, your chat's time zone), optionally with 'except big', or 'off'"
            ),
            text=text.strip()[:40],
        )
    start = int(m.group(1)) * 60 + int(m.group(2))
    end = int(m.group(3)) * 60 + int(m.group(4))
    word = m.group(5)
    if word is not None and word not in ("big", "escalations"):
        raise QuietError(
            N_("'except %(word)s' is not something we know; only 'except big'"), word=word[:20]
        )
    if start == end:
        raise QuietError(
            N_("the window starts and ends at the same time; give two different times")
        )
    return QuietHours(start, end, except_big=word is not None)


def load_quiet(stored: str | None) -> QuietHours | None:
    """The stored text (QuietHours.text) back as QuietHours; None for none or unreadable."""
    if not stored:
        return None
    try:
        return parse_quiet(stored)
    except QuietError:
        return None


def render_quiet(
    hours: QuietHours | None,
    now_ms: int,
    zone: ZoneInfo | None,
    *,
    changed: bool,
    lang: Lang = EN,
) -> Message:
    """/quiet: the chat's quiet hours (set, cleared or shown) and whether it is quiet now."""
    where = zone.key if zone is not None else "UTC"
    title = lang._("Quiet hours")
    if hours is None:
        head = (
            lang._("Quiet hours are off: every alert rings.")
            if changed
            else lang._("No quiet hours: every alert rings.")
        )
        return Message(
            title=title,
            lines=(
                head,
                lang._(
                    "Set them with /quiet 23:00-07:00 (this chat's time zone, /tz); add "
                    "'except big' to let escalations and single liquidations ring."
                ),
            ),
        )
    values = {"start": _hhmm(hours.start_min), "end": _hhmm(hours.end_min), "zone": where}
    if changed:
        first = lang._(
            "Alerts in this chat now arrive without sound from %(start)s to %(end)s (%(zone)s).",
            **values,
        )
    else:
        first = lang._(
            "Alerts in this chat arrive without sound from %(start)s to %(end)s (%(zone)s).",
            **values,
        )
    lines = [first]
    if hours.except_big:
        lines.append(lang._("Escalations and single liquidations still ring."))
    now = hhmm(now_ms, tz=zone, lang=lang)
    if hours.is_quiet(now_ms, zone):
        lines.append(lang._("It is %(time)s there: quiet now.", time=now))
    else:
        lines.append(lang._("It is %(time)s there: not quiet now.", time=now))
    lines.append(lang._("/quiet off ends them; /tz sets the time zone."))
    return Message(title=title, lines=tuple(lines))
