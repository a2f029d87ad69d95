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

import json
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from bot.domain.i18n import EN, N_, Lang
from bot.domain.market import coin_label, window_label
from bot.domain.message import ChartRef, Message
from bot.domain.models import ALL, Alert, AlertKind, Side, Subscription
from bot.domain.money import format_threshold, format_usd
from bot.domain.packed import pack, unpack, unpack_array
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
    lang: str  # the language its words are in (a crossing has words per language)
    # the headline template's arguments but the rule's own (threshold, factor): `compose` fills
    # in the translated template, which has the threshold in the middle
    who: str  # `Market-wide` (translated) or the coin
    on: str  # ` on OKX` (translated), "" without a venue
    usd: str  # the crossing's value, `$2.10M`
    wave: str
    split: str
    venues: str  # "" when there is no venue split
    coins: str  # the market-wide coin ranking; "" for one coin
    gaps: tuple[str, ...]  # the gap notes, in `lang` (Text translated when made)
    sources: tuple[str, ...]
    as_of_ms: int
    sampled: bool
    rearm: str  # the policy's re-arm note
    escalation: float  # the policy's escalation factor (`now 4× your threshold`)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__slots__}
        d["side"] = self.side.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeriesText:
        d = {**d, "side": Side(d["side"]), "gaps": tuple(d["gaps"]), "sources": tuple(d["sources"])}
        return cls(**d)


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


HEADLINE = {
    Side.TOTAL: N_("%(who)s liquidations%(on)s in %(window)s: %(usd)s (threshold %(threshold)s%(relative)s)"),
    Side.LONG: N_("%(who)s longs liquidated%(on)s in %(window)s: %(usd)s (threshold %(threshold)s%(relative)s)"),
    Side.SHORT: N_("%(who)s shorts liquidated%(on)s in %(window)s: %(usd)s (threshold %(threshold)s%(relative)s)"),
}  # fmt: skip


def _label(f: Facts, lang: Lang) -> str:
    """As sub_label says it: `#3`, or the operator's `Broadcast` in the message's language."""
    return lang._("Broadcast") if f.config else f.label


def headline(s: SeriesText, f: Facts, lang: Lang = EN) -> str:
    line = lang._(
        HEADLINE[s.side],
        who=s.who,
        on=s.on,
        window=window_label(s.window),
        usd=s.usd,
        threshold=format_threshold(f.threshold),
        relative=lang._(" = %(factor)s× the usual", factor=f"{f.factor:g}")
        if f.factor is not None
        else "",
    )
    if f.level > 1:  # escalated, or a first alert that crossed several levels at once
        line += lang._(
            ", now %(multiple)s your threshold", multiple=multiple(s.escalation, f.level)
        )
    label = _label(f, lang)
    return f"{label}: {line}" if f.config else f"{label} {line}"


def compact(s: SeriesText, f: Facts, lang: Lang = EN) -> str:
    """`#3 BTC shorts 1h $419.03M ≥ $400M, total $458.07M`: for messages of many alerts."""
    who = lang._("All") if s.coin == ALL else s.coin
    if s.venue:
        who += lang._(" on %(venue)s", venue=venue_name(s.venue))
    side = "" if s.side is Side.TOTAL else f" {side_plural(s.side, lang)}"
    line = (
        f"{_label(f, lang)} {who}{side} {window_label(s.window)} {format_usd(s.value)} "
        f"≥ {format_threshold(f.threshold)}"
    )
    if s.side is Side.TOTAL:
        return line
    return lang._("%(line)s, total %(usd)s", line=line, usd=format_usd(s.longs + s.shorts))


def compose(parts: Sequence[Part], footer: Footer, lang: Lang = EN) -> Message:
    """All alerts of one chat in one tick, as ONE message (the layout `render_alerts` promises),
    in `lang` (the parts' words are in it: made by a context of that language)."""
    if not parts:
        raise ValueError("an alert message needs at least one alert")
    longs = sum(s.longs for s, _ in parts)
    shorts = sum(s.shorts for s, _ in parts)
    tone = dominance(longs, shorts)
    dramatic = WAVE_NAMES[tone] if WAVE_NAMES[tone] in [s.wave for s, _ in parts] else ""
    if len(parts) == 1:
        s, f = parts[0]
        subject = f"{coin_label(s.coin, lang)} {window_label(s.window)}"
        if dramatic:
            title = f"{upper_first(lang._(dramatic))}: {subject}"
        elif f.escalated:
            title = lang._("Liquidation escalation: %(subject)s", subject=subject)
        else:
            title = lang._("Liquidation alert: %(subject)s", subject=subject)
    else:
        n = len(parts)
        title = (
            upper_first(lang._(dramatic)) + ": " + lang.n_("%(n)d alert", "%(n)d alerts", n)
            if dramatic
            else lang.n_("%(n)d liquidation alert", "%(n)d liquidation alerts", n)
        )
    blocks: list[list[str]] = []
    for s, f in parts:
        block = [headline(s, f, lang), s.split]
        if s.venues:
            block.append(s.venues)
        if s.coins:
            block.append(s.coins)
        blocks.append(block)
    gaps = list(dict.fromkeys(g for s, _ in parts for g in s.gaps))
    notes = [lang._("Gap: %(gap)s", gap=g) for g in gaps[:5]]
    full = [line for b in blocks for line in ([*b, ""] if len(blocks) > 1 else b)]
    if len(blocks) > 1:
        full.pop()  # no blank line after the last block
    # Many alerts: drop the per-alert detail lines rather than cut alerts off.
    if sum(len(x) + 1 for x in full) <= MAX_CHARS - 800:
        body = full
    else:  # one short line each, still with the total (a side's value is not the whole wave)
        body = [compact(s, f, lang) for s, f in parts]
    lines = fit_lines([*body, *notes, parts[0][0].rearm], MAX_CHARS - 600, lang)
    sources = tuple(dict.fromkeys(x for s, _ in parts for x in s.sources))
    as_of = max(s.as_of_ms for s, _ in parts)
    return Message(
        title=title[:256],
        lines=lines,
        footer=footer(as_of, sources, any(s.sampled for s, _ in parts)),
        tone=tone,
        lang=lang.code,
    )


class Body:
    """One crossing's words and the facts of every rule of the tick it alerts: what the store
    keeps once per tick. Rows name it and their rules (`PartsMessage`).

    The facts are columns, filled a series at a time (`extend`) or an alert at a time (`add`);
    a rule's label is its chat number (0: none yet, its id then, as `sub_label` says), or None
    for the operator's broadcasts (`Broadcast`). Stored small: a crash tick holds 200,000."""

    __slots__ = (
        "_facts",
        "escalated",
        "factors",
        "labels",
        "levels",
        "series",
        "subs",
        "thresholds",
    )

    def __init__(self, series: SeriesText) -> None:
        self.series = series
        # the rules' ids and thresholds as machine numbers, made in the pass that reads each
        # rule: packed later, a crash tick's 213,583 ints and floats, each its own object
        # scattered over the heap, were read again (`pack`: ~0.1-0.2 s)
        self.subs: array[int] = array("q")
        self.labels: list[int | None] = []
        self.thresholds: array[float] = array("d")
        self.levels: list[int] = []
        self.escalated: list[int] = []  # 1: escalated, 0: fired
        self.factors: list[float | None] = []
        self._facts: dict[int, Facts] | None = None

    def __len__(self) -> int:
        return len(self.subs)

    def extend(self, subs: Sequence[Subscription], levels: Sequence[int], escalated: bool) -> None:
        """A series' alerting rules at once (the book's moves: one column append each)."""
        self.subs.extend([s.id for s in subs])
        self.labels += [None if s.origin == "config" else s.number for s in subs]
        self.thresholds.extend([s.threshold for s in subs])
        self.levels += levels
        self.escalated += [int(escalated)] * len(subs)
        self.factors += [s.factor for s in subs]
        self._facts = None

    def add(self, a: Alert) -> None:
        """One alert's rule (the other rule kinds' alerts, a few)."""
        self.extend([a.sub], [a.level], a.kind is AlertKind.ESCALATED)

    def has(self, sub_id: int) -> bool:
        return sub_id in self._index()

    def facts(self, sub_id: int) -> Facts:
        return self._index()[sub_id]

    def _index(self) -> dict[int, Facts]:
        # the label as sub_label gives it: the chat's number (or the id before numbers)
        if self._facts is None:
            self._facts = {
                sub: Facts(
                    "Broadcast" if label is None else f"#{label or sub}", threshold, level,
                    bool(esc), factor, label is None,
                )
                for sub, label, threshold, level, esc, factor in zip(
                    self.subs, self.labels, self.thresholds, self.levels, self.escalated,
                    self.factors, strict=True,
                )
            }  # fmt: skip
        return self._facts

    def to_json(self) -> str:
        """The stored form: the words as JSON, the facts' columns packed (bot/domain/packed.py).

        Written out around the packed columns: base64 needs no escaping, and json.dumps
        scanning a crash tick's ~8 MB of it a character at a time took ~0.1 s."""
        series = json.dumps(self.series.to_dict(), separators=(",", ":"), ensure_ascii=False)
        labels = pack("q", [_NO_LABEL if x is None else x for x in self.labels])
        # relative rules are few: no column of nulls for the rest
        factors = (
            json.dumps(self.factors, separators=(",", ":"))
            if any(f is not None for f in self.factors)
            else "null"
        )
        return (
            f'{{"series":{series},"packed":{{"subs":"{pack("q", self.subs)}",'
            f'"labels":"{labels}","thresholds":"{pack("d", self.thresholds)}",'
            f'"levels":"{pack("q", self.levels)}","escalated":"{pack("b", self.escalated)}"}},'
            f'"factors":{factors}}}'
        )

    @classmethod
    def from_json(cls, text: str) -> Body:
        d = json.loads(text)
        body = cls(SeriesText.from_dict(d["series"]))
        packed = d.get("packed")
        if packed is not None:
            body.subs, body.thresholds = (
                unpack_array("q", packed["subs"]),
                unpack_array("d", packed["thresholds"]),
            )
            body.labels = [None if x == _NO_LABEL else x for x in unpack("q", packed["labels"])]
            body.levels, body.escalated = (
                unpack("q", packed["levels"]),
                unpack("b", packed["escalated"]),
            )
        else:  # stored before the columns were packed: JSON lists
            body.subs, body.labels = array("q", d["subs"]), d["labels"]
            body.thresholds = array("d", d["thresholds"])
            body.levels, body.escalated = d["levels"], d["escalated"]
        body.factors = d["factors"] or [None] * len(body.subs)
        return body


# A config rule's label (None: "Broadcast"); a chat's numbers start at 0 (none yet).
_NO_LABEL = -1


@dataclass(frozen=True, slots=True)
class PartsMessage:
    """One chat's alert message kept as parts: its rules (`subs`, in the message's order) and
    the bodies holding their crossings' words and facts; `compose` makes the text when sent."""

    bodies: tuple[Body, ...]  # each once
    subs: tuple[int, ...]
    tz: str | None = None  # the chat's zone (an IANA key) for the footer; None: UTC
    buttons: int | None = None  # as Message.buttons
    chart: ChartRef | None = None  # as Message.chart
    thread: int | None = None  # as Message.thread (the forum topic)
    silent: bool | None = None  # as Message.silent (quiet hours)

    @property
    def lang(self) -> str:
        """The language of its words (its bodies are all of one: a context's per language)."""
        return self.bodies[0].series.lang

    def parts(self) -> list[Part]:
        out: list[Part] = []
        for sub in self.subs:
            body = next(b for b in self.bodies if b.has(sub))
            out.append((body.series, body.facts(sub)))
        return out

    def message(self, lang: Lang = EN) -> Message:
        """The text `render_alerts` gave at tick time, with its buttons, chart, topic and
        silence. `lang`: the Lang of `self.lang` (the catalogues are read outside the domain)."""
        if lang.code != self.lang:
            raise ValueError(f"parts in {self.lang!r} composed with {lang.code!r}")
        tz = ZoneInfo(self.tz) if self.tz is not None else None

        def footer(as_of_ms: int, sources: tuple[str, ...], sampled: bool) -> str:
            return sources_footer(as_of_ms, sources, sampled, with_date=True, tz=tz, lang=lang)

        return replace(
            compose(self.parts(), footer, lang),
            buttons=self.buttons,
            chart=self.chart,
            thread=self.thread,
            silent=self.silent,
        )

    def row_json(self, ids: list[int]) -> str:
        """The chat's own row, its bodies by their stored `ids` (in `bodies`' order)."""
        return row_json(
            map(str, ids), map(str, self.subs), self.tz, self.buttons, self.chart, self.thread,
            self.silent,
        )  # fmt: skip


def row_json(
    ids: Iterable[str],
    subs: Iterable[str],
    tz: str | None = None,
    buttons: int | None = None,
    chart: ChartRef | None = None,
    thread: int | None = None,
    silent: bool | None = None,
) -> str:
    """A parts row (`PartsMessage`'s fields): the stored `ids` of its bodies and its rules
    (`subs`, in the message's order), both as text, and what it says besides.

    Written out for the integers (json.dumps per row was half of encoding a crash tick's
    ~50,000 rows); the rest, rarer, through json. It reads back as JSON (`from_row`)."""
    out = f'{{"parts":{{"b":[{",".join(ids)}],"s":[{",".join(subs)}]'
    if tz is not None:
        out += f',"tz":{json.dumps(tz)}'
    if buttons is not None:
        out += f',"buttons":{int(buttons)}'
    if chart is not None:
        c = chart
        fields = [c.coin, c.window, c.as_of_ms] + ([c.zone] if c.zone != "UTC" else [])
        out += f',"chart":{json.dumps(fields, separators=(",", ":"))}'
    if thread is not None:
        out += f',"thread":{int(thread)}'
    if silent is not None:
        out += f',"silent":{"true" if silent else "false"}'
    return out + "}}"


def body_ids(row: dict[str, Any]) -> list[int]:
    """The stored bodies a parts row (`PartsMessage.row_json`) names."""
    return list(row["parts"]["b"])


def from_row(row: dict[str, Any], bodies: Callable[[int], Body]) -> PartsMessage:
    d = row["parts"]
    chart = d.get("chart")
    return PartsMessage(
        tuple(bodies(i) for i in d["b"]),
        tuple(d["s"]),
        tz=d.get("tz"),
        buttons=d.get("buttons"),
        chart=ChartRef(*chart) if chart else None,
        thread=d.get("thread"),
        silent=d.get("silent"),
    )
