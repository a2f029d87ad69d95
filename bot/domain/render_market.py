"""Market answers: the /liqs table (or one window by venue) and /status (sources, this chat)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.domain.i18n import EN, N_, Lang
from bot.domain.market import TABLE_WINDOWS, coin_label, window_label
from bot.domain.message import Message, Table, Tone
from bot.domain.models import ALL, Snapshot, SourceStatus, WindowTotals
from bot.domain.money import format_usd
from bot.domain.render_alerts import coin_ranking
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
from bot.domain.source_fault import Fault

_STATES = {"up": N_("up"), "down": N_("down"), "connecting": N_("connecting"),
           "disabled": N_("disabled")}  # fmt: skip


# ---- /liqs ---------------------------------------------------------------------------------


def not_up_phrases(
    statuses: Sequence[SourceStatus], now_ms: int | None = None, lang: Lang = EN
) -> list[str]:
    """`binance, bybit, okx cannot connect since 18:02 UTC`: one phrase per reason and time."""
    groups: dict[tuple[str, str], list[str]] = {}
    for s in statuses:
        if s.state not in ("down", "connecting"):
            continue
        words = (s.fault or Fault.UNEXPECTED).words if s.state == "down" else _STATES[s.state]
        why = lang._(words)
        since = (
            lang._(" since %(time)s", time=hhmm(s.since_ms, now_ms, lang=lang))
            if s.since_ms is not None
            else ""
        )
        groups.setdefault((why, since), []).append(s.name)
    return [f"{', '.join(names)} {why}{since}" for (why, since), names in groups.items()]


def _source_notes(
    statuses: Sequence[SourceStatus], any_data: bool, now_ms: int, lang: Lang = EN
) -> list[str]:
    phrases = not_up_phrases(statuses, now_ms, lang)
    if not phrases:
        return [] if any_data else [lang._("No data yet: no source has delivered figures.")]
    if any_data:
        return [lang._("Figures are partial: %(why)s.", why="; ".join(phrases))]
    return [lang._("No data yet: %(why)s.", why="; ".join(phrases))]


def replay_over(statuses: Sequence[SourceStatus], now_ms: int, lang: Lang = EN) -> str:
    """After a replay (the demo) ends, what the figures mean from then on."""
    for s in statuses:
        if s.name == "replay" and s.fault is Fault.ENDED:
            ended = (
                lang._(" at %(time)s", time=hhmm(s.last_data_ms, now_ms, lang=lang))
                if s.last_data_ms is not None
                else ""
            )
            return lang._(
                "The replay is over (it ended%(ended)s): no new data arrives, so each window "
                "counts only replayed events still inside it and falls to $0 as they age out. "
                "Run liqbot demo again to replay the cascade.",
                ended=ended,
            )
    return ""


def _money_row(label: str, t: WindowTotals | None) -> tuple[str, ...]:
    if t is None:
        return (label, "n/a", "n/a", "n/a")
    return (label, format_usd(t.longs), format_usd(t.shorts), format_usd(t.total))


def _not_served_note(windows: Sequence[int], lang: Lang = EN) -> str:
    labels = ", ".join(window_label(w) for w in windows)
    return "n/a: " + lang._("the current sources cannot serve %(windows)s", windows=labels)


def render_liqs(
    snapshot: Snapshot,
    coin: str,
    window: int | None,
    statuses: Sequence[SourceStatus],
    tz: ZoneInfo | None = None,
    lang: Lang = EN,
) -> Message:
    """The /liqs answer: the 1h/4h/12h/24h table, or one window split by venue."""
    label = coin_label(coin, lang)
    heads = (lang._("Longs"), lang._("Shorts"), lang._("Total"))
    notes: list[str] = []
    if window is None:
        rows = [_money_row(window_label(w), snapshot.window_totals(coin, w)) for w in TABLE_WINDOWS]
        missing = [w for w in TABLE_WINDOWS if w not in snapshot.served_windows]
        if missing:
            notes.append(_not_served_note(missing, lang))
        headline = snapshot.window_totals(coin, TABLE_WINDOWS[-1])
        table = Table((lang._("Window"), *heads), tuple(rows))
        title = lang._("Liquidations: %(coin)s", coin=label)
    else:
        totals = snapshot.window_totals(coin, window)
        headline = totals
        title = lang._(
            "Liquidations: %(coin)s, %(window)s", coin=label, window=window_label(window)
        )
        table = None
        if totals is None:
            notes.append(_not_served_note([window], lang))
        else:
            notes.append(
                lang._(
                    "Total %(total)s: longs %(longs)s (%(longs_pct)s), "
                    "shorts %(shorts)s (%(shorts_pct)s)",
                    total=format_usd(totals.total),
                    longs=format_usd(totals.longs),
                    longs_pct=percent(totals.longs, totals.total),
                    shorts=format_usd(totals.shorts),
                    shorts_pct=percent(totals.shorts, totals.total),
                )
            )
            venues = snapshot.venues.get((coin, window), ())
            if venues:
                ranked = sorted(venues, key=lambda v: v.total, reverse=True)[:20]
                table = Table(
                    (lang._("Venue"), *heads),
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
    # sources that have sent something: a venue that never connected is not a source yet
    silent = {s.name for s in statuses if s.state != "up" and not (s.events or s.last_data_ms)}
    sources = tuple(s for s in snapshot.sources if s not in silent)
    any_data = bool(snapshot.served_windows) and bool(sources or snapshot.totals)
    if not any_data:
        # no figures at all: say so in one line, not with a table of n/a
        notes = [n for n in notes if not n.startswith("n/a")]
        table = None
    if coin == ALL and any_data:
        # who carried the market: the hour (the wave now) and the day, or the window asked for
        for w in (TABLE_WINDOWS[0], TABLE_WINDOWS[-1]) if window is None else (window,):
            if ranking := coin_ranking(snapshot, w, lang=lang):
                notes.append(
                    lang._(
                        "By coin, %(window)s: %(ranking)s", window=window_label(w), ranking=ranking
                    )
                )
    if over := replay_over(statuses, snapshot.as_of_ms, lang):
        notes.append(over)
    else:
        notes.extend(_source_notes(statuses, any_data, snapshot.as_of_ms, lang))
    # ended outages only: a current one is said once, above, from its Fault
    notes.extend(lang._("Gap: %(gap)s", gap=g) for g in snapshot.past_gaps[:5])
    tone = dominance(headline.longs, headline.shorts) if headline else Tone.NEUTRAL
    footer = (
        sources_footer(snapshot.as_of_ms, sources, snapshot.sampled, tz=tz, lang=lang)
        if any_data
        else lang._("as of %(time)s", time=hhmm(snapshot.as_of_ms, tz=tz, lang=lang))
    )
    return Message(
        title=title,
        lines=fit_lines(notes, 1500, lang),
        table=table,
        footer=footer,
        tone=tone if tone is not Tone.NEUTRAL else Tone.INFO,
    )


# ---- /status -------------------------------------------------------------------------------


class FailingJob(Protocol):
    """One of our own loops that is failing now (bot.runtime.watchdog.JobHealth)."""

    @property
    def plain_name(self) -> str: ...  # "alerting", "delivery"
    @property
    def failing_since_ms(self) -> int | None: ...
    @property
    def last_error(self) -> str: ...  # one line, no secrets


def failing_lines(failing: Sequence[FailingJob], lang: Lang = EN) -> list[str]:
    """ "alerting is failing since 14:02 UTC: TypeError: ..." for each failing loop."""
    out = []
    for job in failing:
        since = (
            lang._(" since %(time)s", time=hhmm(job.failing_since_ms, lang=lang))
            if job.failing_since_ms is not None
            else ""
        )
        error = f": {job.last_error}" if job.last_error else ""
        line = lang._("%(job)s is failing%(since)s", job=upper_first(job.plain_name), since=since)
        out.append(line + error)
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
    tz: ZoneInfo | None = None,
    lang: Lang = EN,
) -> Message:
    """Our own loops if they fail, sources (state, since, last data) and this chat's state."""
    rows = []
    for s in statuses:
        since = hhmm(s.since_ms) if s.since_ms is not None else "-"
        last = "-"
        if s.last_data_ms is not None:
            age_s = max(0, (now_ms - s.last_data_ms) // 1000)
            last = (
                lang._("%(n)ds ago", n=age_s)
                if age_s < 120
                else lang._("%(n)dm ago", n=age_s // 60)
            )
        rows.append((s.name, lang._(_STATES.get(s.state, s.state)), since, last, str(s.events)))
    lines: list[str] = failing_lines(failing, lang)  # first: an alert service that cannot alert
    # the outages now, in plain words and grouped ("binance, okx cannot connect since 18:02
    # UTC"); the raw error text stays in the log
    down_now = [s for s in statuses if s.state == "down"]
    lines.extend(
        lang._("Down: %(why)s", why=phrase) for phrase in not_up_phrases(down_now, now_ms, lang)
    )
    for s in statuses:
        lines.extend(
            f"{s.name} {lang.text(g)}" for g in s.gaps[-3:]
        )  # ended ones: the current is above
        if s.rejected:
            why = ", ".join(f"{n} {reason}" for reason, n in s.rejected_by)
            lines.append(
                lang._(
                    "%(source)s: %(n)d events rejected (%(why)s)",
                    source=s.name,
                    n=s.rejected,
                    why=why,
                )
            )
    if not statuses:
        lines.append(lang._("No data source is configured."))
    if over := replay_over(statuses, now_ms, lang):
        lines.append(over)
    if served:
        windows = ", ".join(window_label(w) for w in sorted(served))
        lines.append(lang._("Windows served: %(windows)s", windows=windows))
    count = f"{chat_subscriptions}" + (f"/{cap}" if cap else "")
    mine = lang._("This chat: %(count)s subscriptions", count=count)
    if paused_reason:
        mine += lang._("; alerts PAUSED (%(reason)s), send /start to resume", reason=paused_reason)
    lines.append(mine)
    lines.extend(active_mute_lines(mutes or {}, now_ms, tz, lang))
    if tz is not None and tz.key != "UTC":
        lines.append(lang._("Times in %(zone)s (/tz)", zone=tz.key))
    if total_subscriptions is not None:
        lines.append(lang._("Active subscriptions, all chats: %(n)d", n=total_subscriptions))
    n_down = sum(s.state == "down" for s in statuses)
    down = n_down > 0
    if failing:
        headline = lang._("%(job)s is failing", job=failing[0].plain_name)
    elif n_down == 0:
        headline = ""
    elif n_down == len(statuses):
        headline = lang._("every source is down") if n_down > 1 else lang._("the source is down")
    else:
        headline = lang.n_("a source is down", "%(n)d sources are down", n_down)
    title = lang._("Status")
    return Message(
        title=f"{title}: {headline}" if headline else title,
        lines=fit_lines(lines, 2000, lang),
        table=Table(
            (
                lang._("Source"),
                lang._("State"),
                lang._("Since"),
                lang._("Last data"),
                lang._("Events"),
            ),
            tuple(rows),
            align=("l", "l", "l", "r", "r"),
        )
        if rows
        else None,
        footer=lang._("as of %(time)s", time=hhmm(now_ms, tz=tz, lang=lang)),
        tone=Tone.ERROR if down or failing else Tone.INFO,
    )
