"""An alert message in two parts: what a crossing says to every chat, and what one rule adds.

A crash tick alerts tens of thousands of chats about the same few thousand series crossings; the
words about a crossing (the split, the venues, the coins, the wave's name, the footer's facts)
are the same in all of them, and only each rule's own facts differ (its number, threshold and
level). `SeriesText` holds the first, made once per crossing and tick; `Facts` the second, per
alert. `compose` makes the one message of a chat from them: `render_alerts` calls it at tick
time, and the store calls it again at send time for a message kept as parts (`PartsMessage`),
so both give the same text byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from bot.domain.market import coin_label, window_label
from bot.domain.message import ChartRef, Message
from bot.domain.models import ALL, Side
from bot.domain.money import format_threshold, format_usd
from bot.domain.render_common import (
    MAX_CHARS,
    WAVE_NAMES,
    dominance,
    fit_lines,
    side_plural,
    sources_footer,
    upper_first,
    venue_name,
)


@dataclass(frozen=True, slots=True)
class SeriesText:
    """One series crossing's shared words and the figures the message's layout reads."""

    coin: str
    window: int
    side: Side
    venue: str | None
    value: float
    longs: float
    shorts: float
    head: str  # the headline up to the rule's threshold: `BTC longs liquidated in 1h: $2.10M (threshold `
    wave: str
    split: str
    venues: str  # "" when there is no venue split
    coins: str  # the market-wide coin ranking; "" for one coin
    gaps: tuple[str, ...]
    sources: tuple[str, ...]
    as_of_ms: int
    sampled: bool
    rearm: str  # the policy's re-arm note
    escalation: float  # the policy's escalation factor (`now 4× your threshold`)

    def to_json(self) -> str:
        d = {k: getattr(self, k) for k in self.__slots__}
        d["side"] = self.side.value
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SeriesText:
        d = json.loads(text)
        d["side"] = Side(d["side"])
        d["gaps"], d["sources"] = tuple(d["gaps"]), tuple(d["sources"])
        return cls(**d)


def body_key(body_json: str) -> str:
    """A stored body's name: its content's hash (the same words are the same body)."""
    return hashlib.blake2b(body_json.encode(), digest_size=12).hexdigest()


class Facts(NamedTuple):
    """What one rule adds to its crossing's words."""

    label: str  # `#3`, or `Broadcast` for the operator's rules
    threshold: float
    level: int
    escalated: bool
    factor: float | None  # a relative rule's factor
    config: bool  # an operator's broadcast: `Broadcast: ...`, not `#3 ...`


Part = tuple[SeriesText, Facts]
# (as_of_ms, sources, sampled) -> the footer; the caller picks the zone and any memo
Footer = Callable[[int, tuple[str, ...], bool], str]


def multiple(escalation: float, level: int) -> str:
    """`3×`: the multiple of the threshold that `level` means."""
    m = escalation ** (level - 1)
    return f"{m:.2f}".rstrip("0").rstrip(".") + "×"


def headline(s: SeriesText, f: Facts) -> str:
    relative = f" = {f.factor:g}× the usual" if f.factor is not None else ""
    line = f"{s.head}{format_threshold(f.threshold)}{relative})"
    if f.level > 1:  # escalated, or a first alert that crossed several levels at once
        line += f", now {multiple(s.escalation, f.level)} your threshold"
    return f"{f.label}: {line}" if f.config else f"{f.label} {line}"


def compact(s: SeriesText, f: Facts) -> str:
    """`#3 BTC shorts 1h $419.03M ≥ $400M, total $458.07M`: for messages of many alerts."""
    who = "All" if s.coin == ALL else s.coin
    if s.venue:
        who += f" on {venue_name(s.venue)}"
    side = "" if s.side is Side.TOTAL else f" {side_plural(s.side)}"
    line = (
        f"{f.label} {who}{side} {window_label(s.window)} {format_usd(s.value)} "
        f"≥ {format_threshold(f.threshold)}"
    )
    return line if s.side is Side.TOTAL else f"{line}, total {format_usd(s.longs + s.shorts)}"


def compose(parts: Sequence[Part], footer: Footer) -> Message:
    """All alerts of one chat in one tick, as ONE message (the layout `render_alerts` promises)."""
    if not parts:
        raise ValueError("an alert message needs at least one alert")
    longs = sum(s.longs for s, _ in parts)
    shorts = sum(s.shorts for s, _ in parts)
    tone = dominance(longs, shorts)
    dramatic = WAVE_NAMES[tone] if WAVE_NAMES[tone] in [s.wave for s, _ in parts] else ""
    if len(parts) == 1:
        s, f = parts[0]
        subject = f"{coin_label(s.coin)} {window_label(s.window)}"
        kind = "escalation" if f.escalated else "alert"
        title = (
            f"{upper_first(dramatic)}: {subject}" if dramatic else f"Liquidation {kind}: {subject}"
        )
    else:
        title = (
            f"{upper_first(dramatic)}: {len(parts)} alerts"
            if dramatic
            else f"{len(parts)} liquidation alerts"
        )
    blocks: list[list[str]] = []
    for s, f in parts:
        block = [headline(s, f), s.split]
        if s.venues:
            block.append(s.venues)
        if s.coins:
            block.append(s.coins)
        blocks.append(block)
    gaps = list(dict.fromkeys(g for s, _ in parts for g in s.gaps))
    notes = [f"Gap: {g}" for g in gaps[:5]]
    full = [line for b in blocks for line in ([*b, ""] if len(blocks) > 1 else b)]
    if len(blocks) > 1:
        full.pop()  # no blank line after the last block
    # Many alerts: drop the per-alert detail lines rather than cut alerts off.
    if sum(len(x) + 1 for x in full) <= MAX_CHARS - 800:
        body = full
    else:  # one short line each, still with the total (a side's value is not the whole wave)
        body = [compact(s, f) for s, f in parts]
    lines = fit_lines([*body, *notes, parts[0][0].rearm], MAX_CHARS - 600)
    sources = tuple(dict.fromkeys(x for s, _ in parts for x in s.sources))
    as_of = max(s.as_of_ms for s, _ in parts)
    return Message(
        title=title[:256],
        lines=lines,
        footer=footer(as_of, sources, any(s.sampled for s, _ in parts)),
        tone=tone,
    )


@dataclass(frozen=True, slots=True)
class PartsMessage:
    """One chat's alert message kept as parts: the store writes each `SeriesText` once per
    tick and the chat's row only its `Facts`; `compose` makes the text when it is sent."""

    parts: tuple[Part, ...]
    tz: str | None = None  # the chat's zone (an IANA key) for the footer; None: UTC
    buttons: int | None = None  # as Message.buttons
    chart: ChartRef | None = None  # as Message.chart

    def message(self) -> Message:
        """The text `render_alerts` gave at tick time, with its buttons and chart."""
        tz = ZoneInfo(self.tz) if self.tz is not None else None

        def footer(as_of_ms: int, sources: tuple[str, ...], sampled: bool) -> str:
            return sources_footer(as_of_ms, sources, sampled, with_date=True, tz=tz)

        return replace(compose(self.parts, footer), buttons=self.buttons, chart=self.chart)

    def row_dict(self, keys: Callable[[SeriesText], str]) -> dict[str, Any]:
        """The chat's own row: its bodies by `keys` (their stored names) and each alert's facts."""
        bodies: dict[int, int] = {}  # id(series) -> its index in "b"
        names: list[str] = []
        alerts: list[list[Any]] = []
        for s, f in self.parts:
            i = bodies.get(id(s))
            if i is None:
                i = bodies[id(s)] = len(names)
                names.append(keys(s))
            alerts.append(
                [i, f.label, f.threshold, f.level, int(f.escalated), f.factor, int(f.config)]
            )
        d: dict[str, Any] = {"b": names, "a": alerts}
        if self.tz is not None:
            d["tz"] = self.tz
        if self.buttons is not None:
            d["buttons"] = self.buttons
        if self.chart is not None:
            c = self.chart
            d["chart"] = [c.coin, c.window, c.as_of_ms]
        return {"parts": d}


def parts_names(row: dict[str, Any]) -> list[str]:
    """The stored bodies a parts row (`PartsMessage.row_dict`) refers to."""
    return list(row["parts"]["b"])


def from_row(row: dict[str, Any], bodies: Callable[[str], SeriesText]) -> PartsMessage:
    d = row["parts"]
    series = [bodies(name) for name in d["b"]]
    parts = tuple(
        (series[i], Facts(label, threshold, level, bool(esc), factor, bool(config)))
        for i, label, threshold, level, esc, factor, config in d["a"]
    )
    chart = d.get("chart")
    return PartsMessage(
        parts,
        tz=d.get("tz"),
        buttons=d.get("buttons"),
        chart=ChartRef(chart[0], chart[1], chart[2]) if chart else None,
    )
