"""What the operator is told: the service's problems, their recoveries, the daily heartbeat.

A Problem is one thing wrong with the running service, keyed so that the same trouble keeps
the same key while it lasts (the operator hears of it once, and once of its end). /healthz
answers 503 while a critical one is present.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.market import utc_hhmm
from bot.domain.message import Message, Tone

PLATFORM_NAMES = {"telegram": "Telegram", "discord": "Discord", "console": "the console"}


@dataclass(frozen=True, slots=True)
class Problem:
    key: str  # stable while it lasts: "source:binance", "job:evaluate", "delivery:telegram"
    kind: str  # source_down | key_rejected | no_source | job_failing | evaluation_stale
    #            | delivery_failing | outbox_stuck | database
    subject: str  # the source, job or platform it is about ("" when none)
    since_ms: int
    detail: str = ""  # the reason in plain words (never a secret)
    critical: bool = False  # the service is not doing its job: /healthz says 503


def span(ms: int) -> str:
    """`45 s`, `5 min`, `2 h 10 min`, `3 d 4 h`: how long something has lasted."""
    s = max(0, ms // 1000)
    if s < 60:
        return f"{s} s"
    m = s // 60
    if m < 60:
        return f"{m} min"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(h, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def _key_setting(source: str) -> str:
    # CoinGlass is the one keyed source today; the secret's name, never its value
    return {"coinglass": "COINGLASS_API_KEY"}.get(source, f"the {source} API key")


def _job_words(job: str) -> str:
    return {"evaluate": "alerting", "drain": "the delivery loop"}.get(job, f"scheduled job {job}")


def problem_text(p: Problem, now_ms: int) -> str:
    """One line: what is wrong and for how long, like "binance down for 5 min"."""
    lasted = span(now_ms - p.since_ms)
    why = f" ({p.detail})" if p.detail else ""
    platform = PLATFORM_NAMES.get(p.subject, p.subject)
    match p.kind:
        case "source_down":
            return f"{p.subject} down for {lasted}{why}"
        case "key_rejected":
            return f"{p.subject} key rejected: check {_key_setting(p.subject)}"
        case "no_source":
            return f"no data source has been up for {lasted}: alerts cannot fire"
        case "job_failing":
            return f"{_job_words(p.subject)} is failing since {utc_hhmm(p.since_ms)} UTC{why}"
        case "evaluation_stale":
            return f"alerting is stuck: no evaluation finished for {lasted}"
        case "delivery_failing":
            return f"delivery to {platform} failing for {lasted}{why}"
        case "outbox_stuck":
            return f"delivery is stuck: a due message has waited {lasted}"
        case "database":
            return f"the database is not answering{why}"
    return f"{p.kind} {p.subject}{why}"


def recovery_text(p: Problem, now_ms: int) -> str:
    """The line that closes a problem: "binance is back after 7 min"."""
    lasted = span(now_ms - p.since_ms)
    platform = PLATFORM_NAMES.get(p.subject, p.subject)
    match p.kind:
        case "source_down":
            return f"{p.subject} is back after {lasted}"
        case "key_rejected":
            return f"{p.subject} accepts the key again"
        case "no_source":
            return f"data is flowing again after {lasted}"
        case "job_failing":
            return f"{_job_words(p.subject)} works again (failed for {lasted})"
        case "evaluation_stale":
            return "alerting is evaluating again"
        case "delivery_failing":
            return f"delivery to {platform} works again after {lasted}"
        case "outbox_stuck":
            return "delivery is moving again"
        case "database":
            return "the database answers again"
    return f"{p.kind} {p.subject} recovered"


def render_problem(p: Problem, now_ms: int) -> Message:
    return Message(
        title="liqbot: " + problem_text(p, now_ms),
        footer=f"since {utc_hhmm(p.since_ms)} UTC · you will hear once when it recovers",
        tone=Tone.ERROR,
    )


def render_recovery(p: Problem, now_ms: int) -> Message:
    return Message(
        title="liqbot: " + recovery_text(p, now_ms),
        footer=f"at {utc_hhmm(now_ms)} UTC",
        tone=Tone.INFO,
    )


def render_heartbeat(
    now_ms: int, up: list[str], down: list[str], problems: list[str], pending: int
) -> Message:
    """The daily "still running" message; its absence is the alarm (a dead man's switch)."""
    lines = [
        f"Sources up: {', '.join(up) or 'none'}" + (f"; down: {', '.join(down)}" if down else ""),
        f"Messages waiting in the outbox: {pending}",
    ]
    lines += [f"Ongoing: {t}" for t in problems] or ["No ongoing problems."]
    return Message(
        title="liqbot is running",
        lines=tuple(lines),
        footer=f"daily heartbeat, {utc_hhmm(now_ms)} UTC: if it stops coming, the bot is down",
        tone=Tone.NEUTRAL,
    )
