"""Daily digests: the grammar of /digest, when one is due, and what it says. Pure.

When: a digest is due once per LOCAL date, at its local time of day, in its IANA zone (zoneinfo),
so 08:00 Europe/Berlin is 07:00 UTC in winter and 06:00 UTC in summer. A local time that does
not exist on a spring-forward day (02:30) fires at the same instant as the offset before the
change gives it (03:30 summer time); a time that happens twice on a fall-back day fires at the
first. The dedupe key is the chat and the local date: a day's digest goes out at most once,
whatever restarts happen.
"""

from __future__ import annotations

import datetime as dtm
import difflib
import functools
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot.domain.i18n import EN, N_, Lang, TextError
from bot.domain.market import utc_hhmm
from bot.domain.message import Message, Tone
from bot.domain.models import ALL, Snapshot, SourceStatus
from bot.domain.money import format_usd
from bot.domain.render_common import MOSTLY, dominance, fit_lines, hhmm
from bot.domain.render_market import render_liqs

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# A digest the bot could not send at its time (it was down) still goes out this late; later it
# would be about another day.
CATCH_UP_MS = 3 * HOUR_MS
_HHMM = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")


class DigestError(TextError):
    """A time or zone people typed that we cannot use, in words fit for them."""


@dataclass(frozen=True, slots=True)
class DigestCommand:
    """`/digest 08:00 Europe/Berlin` (set), `/digest off` (at_min None), `/digest` (show)."""

    at_min: int | None = None  # minutes after local midnight; None with off=True: stop
    tz: str = "UTC"
    off: bool = False
    show: bool = False
    # False: no zone typed, the chat's (/tz) is used (not part of equality: the same command)
    zone_given: bool = field(default=True, compare=False)


@dataclass(frozen=True, slots=True)
class DigestSpec:
    """One chat's daily digest: a stored one (/digest) or one the config declares."""

    chat_key: str
    at_min: int
    tz: str
    origin: str = "user"  # "user" or "config"

    @property
    def at_label(self) -> str:
        return f"{self.at_min // 60:02d}:{self.at_min % 60:02d}"


def parse_local_time(text: str) -> int:
    """`08:00`, `8:00`, `8.00`, `8h00` -> minutes after midnight."""
    m = _HHMM.match(text.strip().lower())
    if m is None:
        raise DigestError(
            N_("'%(text)s' is not a time of day; write it like 08:00 (24-hour)"), text=text[:20]
        )
    return int(m.group(1)) * 60 + int(m.group(2))


@functools.cache
def _zones() -> dict[str, str]:
    return {z.lower(): z for z in zoneinfo.available_timezones()}


def parse_zone(text: str) -> str:
    """An IANA zone name, its case fixed (`europe/berlin` -> `Europe/Berlin`)."""
    t = text.strip()
    if t.upper() in ("UTC", "GMT", "Z"):
        return "UTC"
    name = _zones().get(t.lower())
    if name is None:
        near = difflib.get_close_matches(t.lower(), list(_zones()), n=2, cutoff=0.6)
        hint = " or ".join(_zones()[n] for n in near)
        if hint:
            raise DigestError(
                N_("unknown time zone '%(text)s'; did you mean %(hint)s?"), text=t[:40], hint=hint
            )
        raise DigestError(
            N_("unknown time zone '%(text)s'; use a name like Europe/Berlin or UTC"), text=t[:40]
        )
    return name


def parse_digest_args(args: Sequence[str]) -> DigestCommand:
    if not args:
        return DigestCommand(show=True)
    if len(args) == 1 and args[0].lower() in ("off", "stop", "none"):
        return DigestCommand(off=True)
    if len(args) > 2:
        raise DigestError(N_("give a time and a time zone, like /digest 08:00 Europe/Berlin"))
    at = parse_local_time(args[0])
    if len(args) == 1:
        return DigestCommand(at_min=at, tz="UTC", zone_given=False)
    return DigestCommand(at_min=at, tz=parse_zone(args[1]))


# ---- when ----------------------------------------------------------------------------------


def fire_ms(at_min: int, tz: str, local_date: dtm.date) -> int:
    """The instant (ms, UTC) of `at_min` on `local_date` in `tz` (see the module's note on DST)."""
    zone = zoneinfo.ZoneInfo(tz)
    local = dtm.datetime.combine(local_date, dtm.time(at_min // 60, at_min % 60), tzinfo=zone)
    return int(local.timestamp() * 1000)


def local_date(tz: str, ms: int) -> dtm.date:
    return dtm.datetime.fromtimestamp(ms / 1000, zoneinfo.ZoneInfo(tz)).date()


def latest_fire(at_min: int, tz: str, now_ms: int) -> tuple[dtm.date, int]:
    """The most recent (local date, fire instant) at or before now."""
    day = local_date(tz, now_ms)
    for d in (day, day - dtm.timedelta(days=1), day - dtm.timedelta(days=2)):
        ms = fire_ms(at_min, tz, d)
        if ms <= now_ms:
            return d, ms
    raise AssertionError("a day's fire time is always within two days")  # pragma: no cover


def next_fire(at_min: int, tz: str, now_ms: int) -> tuple[dtm.date, int]:
    """The first (local date, fire instant) strictly after now."""
    day = local_date(tz, now_ms)
    for d in (day - dtm.timedelta(days=1), day, day + dtm.timedelta(days=1)):
        ms = fire_ms(at_min, tz, d)
        if ms > now_ms:
            return d, ms
    return day + dtm.timedelta(days=2), fire_ms(at_min, tz, day + dtm.timedelta(days=2))


def due(spec: DigestSpec, now_ms: int, catch_up_ms: int = CATCH_UP_MS) -> dtm.date | None:
    """The local date whose digest is due now (its time passed, not longer ago than the
    catch-up window), or None."""
    day, ms = latest_fire(spec.at_min, spec.tz, now_ms)
    return day if now_ms - ms <= catch_up_ms else None


def dedupe_key(chat_key: str, day: dtm.date) -> str:
    return f"digest:{chat_key}:{day.isoformat()}"


# ---- what --------------------------------------------------------------------------------


def biggest_hour(rows: Sequence[tuple[int, float, float]]) -> tuple[int, float, float] | None:
    """The UTC clock hour with the most liquidated, from (minute_ms, longs, shorts) rows."""
    hours: dict[int, list[float]] = {}
    for minute_ms, lg, sh in rows:
        h = hours.setdefault(minute_ms // HOUR_MS * HOUR_MS, [0.0, 0.0])
        h[0] += lg
        h[1] += sh
    if not hours:
        return None
    start, (lg, sh) = max(hours.items(), key=lambda kv: (kv[1][0] + kv[1][1], -kv[0]))
    return (start, lg, sh) if lg + sh > 0 else None


def _day(day: dtm.date, lang: Lang) -> str:
    """`Mon 07 Dec` in English; the language's own date (`7 дек.`, `12月7日`) otherwise."""
    if lang.code == "en":
        return day.strftime("%a %d %b")
    return lang.date(day.day, day.month, None)


def render_digest(
    spec: DigestSpec,
    day: dtm.date,
    snapshot: Snapshot,
    statuses: Sequence[SourceStatus],
    minute_rows: Sequence[tuple[int, float, float]],
    alert_titles: Sequence[tuple[int, str]],
    lang: Lang = EN,
) -> Message:
    """The digest: the 24h table with the top coins (as /liqs all), the biggest hour and this
    chat's alerts of the last 24 h."""
    liqs = render_liqs(snapshot, ALL, None, statuses, lang=lang)
    now = snapshot.as_of_ms
    lines = list(liqs.lines)
    peak = biggest_hour(minute_rows)
    if peak is not None:
        start, lg, sh = peak
        mostly = MOSTLY[dominance(lg, sh)]
        values = {
            "start": utc_hhmm(start),
            "end": hhmm(start + HOUR_MS, now, lang=lang),
            "usd": format_usd(lg + sh),
        }
        if mostly:
            lines.append(
                lang._(
                    "Biggest hour: %(start)s–%(end)s, %(usd)s (%(mostly)s)",
                    mostly=lang._(mostly),
                    **values,
                )
            )
        else:
            lines.append(lang._("Biggest hour: %(start)s–%(end)s, %(usd)s", **values))
    if alert_titles:
        n = len(alert_titles)
        lines.append(lang._("Alerts in this chat, last 24h: %(count)d", count=n))
        lines.extend(f"· {hhmm(ms, now, lang=lang)} {title}" for ms, title in alert_titles[-8:])
        if n > 8:
            lines.append(lang._("(and %(count)d earlier)", count=n - 8))
    else:
        lines.append(lang._("Alerts in this chat, last 24h: none"))
    title = lang._(
        "Daily digest, %(day)s (%(at)s %(zone)s)",
        day=_day(day, lang),
        at=spec.at_label,
        zone=spec.tz,
    )
    return replace(
        liqs,
        title=title,
        lines=fit_lines(lines, 2500, lang),
        tone=liqs.tone if liqs.tone is not Tone.NEUTRAL else Tone.INFO,
        data={"type": "digest", "date": day.isoformat(), "at": spec.at_label, "tz": spec.tz},
    )


def render_digest_set(spec: DigestSpec, now_ms: int, lang: Lang = EN) -> Message:
    day, ms = next_fire(spec.at_min, spec.tz, now_ms)
    return Message(
        title=lang._("Daily digest on"),
        lines=(
            lang._(
                "Every day at %(at)s %(zone)s: the 24h table, the top coins, the biggest hour "
                "and this chat's alerts.",
                at=spec.at_label,
                zone=spec.tz,
            ),
            lang._(
                "Next: %(day)s at %(at)s (%(utc)s). Stop it with /digest off.",
                day=_day(day, lang),
                at=spec.at_label,
                utc=hhmm(ms, lang=lang),
            ),
        ),
    )


def render_digest_off(had: bool, lang: Lang = EN) -> Message:
    if had:
        return Message(
            title=lang._("Daily digest off"),
            lines=(lang._("No more daily digests in this chat."),),
        )
    return Message(
        title=lang._("No daily digest here"),
        lines=(
            lang._("This chat has no daily digest. Start one with /digest 08:00 Europe/Berlin"),
        ),
    )


def render_digest_show(specs: Sequence[DigestSpec], now_ms: int, lang: Lang = EN) -> Message:
    if not specs:
        return render_digest_off(False, lang)
    lines = []
    for s in specs:
        _, ms = next_fire(s.at_min, s.tz, now_ms)
        values = {"at": s.at_label, "zone": s.tz, "next": hhmm(ms, lang=lang)}
        if s.origin == "config":
            lines.append(
                lang._(
                    "Every day at %(at)s %(zone)s (set by the operator); next at %(next)s.",
                    **values,
                )
            )
        else:
            lines.append(lang._("Every day at %(at)s %(zone)s; next at %(next)s.", **values))
    lines.append(lang._("Change it with /digest <HH:MM> <zone>, stop it with /digest off."))
    return Message(title=lang._("Daily digest"), lines=tuple(lines))
