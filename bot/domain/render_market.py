"""Market answers: the /liqs table (or one window by venue) and /status (sources, this chat)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from bot.domain.market import TABLE_WINDOWS, coin_label, window_label
from bot.domain.message import Message, Table, Tone
from bot.domain.models import Snapshot, SourceStatus, WindowTotals
from bot.domain.money import format_usd
from bot.domain.render_common import (
    active_mute_lines,
    dominance,
    fit_lines,
    hhmm,
    percent,
    sources_footer,
    upper_first,
    venue_name,
)

# ---- /liqs ---------------------------------------------------------------------------------


def _source_notes(statuses: Sequence[SourceStatus]) -> list[str]:
    notes = []
    for s in statuses:
        since = f" since {hhmm(s.since_ms)}" if s.since_ms is not None else ""
        if s.state == "down":
            reason = f" ({s.note})" if s.note else ""
            notes.append(f"{s.name} down{since}{reason}: figures are partial")
        elif s.state == "connecting":
            notes.append(f"{s.name} connecting{since}: figures may be partial")
    return notes


def _money_row(label: str, t: WindowTotals | None) -> tuple[str, ...]:
    if t is None:
        return (label, "n/a", "n/a", "n/a")
    return (label, format_usd(t.longs), format_usd(t.shorts), format_usd(t.total))


def _not_served_note(windows: Sequence[int]) -> str:
    labels = ", ".join(window_label(w) for w in windows)
    return f"n/a: the current sources cannot serve {labels}"


def render_liqs(
    snapshot: Snapshot, coin: str, window: int | None, statuses: Sequence[SourceStatus]
) -> Message:
    """The /liqs answer: the 1h/4h/12h/24h table, or one window split by venue."""
    label = coin_label(coin)
    notes: list[str] = []
    if window is None:
        rows = [_money_row(window_label(w), snapshot.window_totals(coin, w)) for w in TABLE_WINDOWS]
        missing = [w for w in TABLE_WINDOWS if w not in snapshot.served_windows]
        if missing:
            notes.append(_not_served_note(missing))
        headline = snapshot.window_totals(coin, TABLE_WINDOWS[-1])
        table = Table(("Window", "Longs", "Shorts", "Total"), tuple(rows))
        title = f"Liquidations: {label}"
    else:
        totals = snapshot.window_totals(coin, window)
        headline = totals
        title = f"Liquidations: {label}, {window_label(window)}"
        table = None
        if totals is None:
            notes.append(_not_served_note([window]))
        else:
            notes.append(
                f"Total {format_usd(totals.total)}: longs {format_usd(totals.longs)} "
                f"({percent(totals.longs, totals.total)}), shorts {format_usd(totals.shorts)} "
                f"({percent(totals.shorts, totals.total)})"
            )
            venues = snapshot.venues.get((coin, window), ())
            if venues:
                ranked = sorted(venues, key=lambda v: v.total, reverse=True)[:20]
                table = Table(
                    ("Venue", "Longs", "Shorts", "Total"),
                    tuple(
                        (
                            venue_name(v.venue),
                            format_usd(v.longs),
                            format_usd(v.shorts),
                            format_usd(v.total),
                        )
                        for v in ranked
                    ),
                )
    if not snapshot.served_windows:
        notes.append("No data yet: no source has delivered figures.")
    notes.extend(_source_notes(statuses))
    notes.extend(f"Gap: {g}" for g in snapshot.gaps[:5])
    tone = dominance(headline.longs, headline.shorts) if headline else Tone.NEUTRAL
    return Message(
        title=title,
        lines=fit_lines(notes, 1500),
        table=table,
        footer=sources_footer(snapshot.as_of_ms, snapshot.sources, snapshot.sampled),
        tone=tone if tone is not Tone.NEUTRAL else Tone.INFO,
    )


# ---- /status -------------------------------------------------------------------------------


class FailingJob(Protocol):
    """One of our own loops that is failing now (bot.watchdog.JobHealth)."""

    @property
    def plain_name(self) -> str: ...  # "alerting", "delivery"
    @property
    def failing_since_ms(self) -> int | None: ...
    @property
    def last_error(self) -> str: ...  # one line, no secrets


def failing_lines(failing: Sequence[FailingJob]) -> list[str]:
    """ "alerting is failing since 14:02 UTC: TypeError: ..." for each failing loop."""
    out = []
    for job in failing:
        since = f" since {hhmm(job.failing_since_ms)}" if job.failing_since_ms is not None else ""
        error = f": {job.last_error}" if job.last_error else ""
        out.append(f"{upper_first(job.plain_name)} is failing{since}{error}")
    return out


def render_status(
    statuses: Sequence[SourceStatus],
    now_ms: int,
    *,
    chat_subscriptions: int,
    total_subscriptions: int | None = None,
    cap: int | None = None,
    paused_reason: str | None = None,
    mutes: Mapping[str | None, int] | None = None,
    served: frozenset[int] = frozenset(),
    failing: Sequence[FailingJob] = (),
) -> Message:
    """Our own loops if they fail, sources (state, since, last data) and this chat's state."""
    rows = []
    for s in statuses:
        since = hhmm(s.since_ms) if s.since_ms is not None else "-"
        last = "-"
        if s.last_data_ms is not None:
            age_s = max(0, (now_ms - s.last_data_ms) // 1000)
            last = f"{age_s}s ago" if age_s < 120 else f"{age_s // 60}m ago"
        rows.append((s.name, s.state, since, last, str(s.events)))
    lines: list[str] = failing_lines(failing)  # first: an alert service that cannot alert
    for s in statuses:
        if s.state == "down" and s.note:
            lines.append(f"{s.name}: {s.note}")
        # past outages; a current one is the note above
        past = [g for g in s.gaps if not (s.state != "up" and ("since" in g or "not conn" in g))]
        lines.extend(f"{s.name} {g}" for g in past[-3:])
    if not statuses:
        lines.append("No data source is configured.")
    if served:
        lines.append("Windows served: " + ", ".join(window_label(w) for w in sorted(served)))
    mine = f"This chat: {chat_subscriptions}" + (f"/{cap}" if cap else "") + " subscriptions"
    if paused_reason:
        mine += f"; alerts PAUSED ({paused_reason}), send /start to resume"
    lines.append(mine)
    lines.extend(active_mute_lines(mutes or {}, now_ms))
    if total_subscriptions is not None:
        lines.append(f"Active subscriptions, all chats: {total_subscriptions}")
    down = any(s.state == "down" for s in statuses)
    if failing:
        title = f"Status: {failing[0].plain_name} is failing"
    else:
        title = "Status" + (": a source is down" if down else "")
    return Message(
        title=title,
        lines=fit_lines(lines, 2000),
        table=Table(
            ("Source", "State", "Since", "Last data", "Events"),
            tuple(rows),
            align=("l", "l", "l", "r", "r"),
        )
        if rows
        else None,
        footer=f"as of {hhmm(now_ms)}",
        tone=Tone.ERROR if down or failing else Tone.INFO,
    )
