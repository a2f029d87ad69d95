"""A platform-neutral message: what the command service and the alert renderer produce.

Adapters turn it into Telegram HTML, a Discord embed or console text. All strings here are
plain text, never escaped: escaping is the adapter's job. A message round-trips through JSON so
the outbox can store it.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class ChartRef:
    """A chart to draw at delivery time and attach to an outbox message (alerts.attach_chart):
    the PNG is rendered when sent, so the outbox stores three fields, not the picture."""

    coin: str
    window: int  # the alert's window, minutes (the chart picks the nearest chart window)
    as_of_ms: int
    zone: str = "UTC"  # the chat's /tz (IANA name): the picture's time axis (kept when not UTC)


class Tone(StrEnum):
    INFO = "info"
    ERROR = "error"
    LONG = "long"  # dominated by long liquidations (a long flush): red
    SHORT = "short"  # dominated by short liquidations (a short squeeze): green
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    inline: bool = True


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...] = ()  # per column "l" or "r"; default left for the first, right else


@dataclass(frozen=True)
class Message:
    title: str
    lines: tuple[str, ...] = ()  # paragraphs of the body
    table: Table | None = None
    fields: tuple[Field, ...] = ()
    footer: str = ""
    tone: Tone = Tone.INFO
    ephemeral: bool = False  # errors and refusals: only the asker sees them where possible
    # A picture (PNG bytes) shown with the text: command replies only, never stored in the
    # outbox (to_dict leaves it out). The text stays a full answer without it.
    image: bytes | None = field(default=None, repr=False, compare=False)
    image_name: str = ""  # a file name for it, like "chart-btc-24h.png"
    # Machine-readable facts behind the text (an alert's coin, window, value ...): webhooks
    # POST them as JSON; the chat platforms ignore them. Plain JSON values only.
    data: dict[str, Any] | None = field(default=None, compare=False)
    chart: ChartRef | None = None  # a chart delivery draws and attaches (see ChartRef)
    # An alert's rule (subscription id): the chat adapters draw the buttons under it (Mute,
    # Unsubscribe, Chart, Details; bot/chat/alert_buttons.py). Not part of the text.
    buttons: int | None = field(default=None, compare=False)
    # Rows of (label, token) buttons under a command's reply (the guided /subscribe): drawn
    # by the chat adapters, never stored in the outbox (to_dict leaves it out).
    keyboard: tuple[tuple[tuple[str, str], ...], ...] = field(default=(), compare=False)
    # Where and how it is delivered, not part of the text (an outbox row keeps them): the
    # Telegram forum topic (message_thread_id; None: the chat itself) and whether it goes
    # without sound (quiet hours: Telegram's disable_notification, Discord's silent). silent
    # None: the chat has no quiet hours, nothing is said; False: it has, and this one rings.
    thread: int | None = field(default=None, compare=False)
    silent: bool | None = field(default=None, compare=False)
    # The language it is written in (bot.domain.i18n): the buttons drawn at send time under an
    # alert are labelled in it. Stored only when not English (rows stay as they were).
    lang: str = field(default="en", compare=False)

    def to_dict(self) -> dict[str, Any]:
        # written out, not dataclasses.asdict: asdict deep-copies recursively (~28 us a
        # message), which was a third of committing a crash tick's ~50,000 messages
        t = self.table
        d: dict[str, Any] = {
            "title": self.title,
            "lines": self.lines,  # tuples of str, as asdict gave: immutable, safe to share
            "table": None
            if t is None
            else {
                "headers": t.headers,
                "rows": t.rows,
                "align": t.align,
            },
            "fields": tuple(
                {"name": f.name, "value": f.value, "inline": f.inline} for f in self.fields
            ),
            "footer": self.footer,
            "tone": self.tone.value,
            "ephemeral": self.ephemeral,
        }
        if self.data is not None:  # rows written before these fields stay as they were
            d["data"] = copy.deepcopy(self.data)
        if self.chart is not None:
            d["chart"] = asdict(self.chart)
            if self.chart.zone == "UTC":  # rows stay as they were before zones
                del d["chart"]["zone"]
        if self.buttons is not None:
            d["buttons"] = self.buttons
        if self.thread is not None:
            d["thread"] = self.thread
        if self.silent is not None:
            d["silent"] = self.silent
        if self.lang != "en":
            d["lang"] = self.lang
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Message:
        table = d.get("table")
        return cls(
            title=d["title"],
            lines=tuple(d.get("lines", ())),
            table=Table(
                headers=tuple(table["headers"]),
                rows=tuple(tuple(r) for r in table["rows"]),
                align=tuple(table.get("align", ())),
            )
            if table
            else None,
            fields=tuple(Field(**f) for f in d.get("fields", ())),
            footer=d.get("footer", ""),
            tone=Tone(d.get("tone", "info")),
            ephemeral=bool(d.get("ephemeral", False)),
            data=d.get("data"),
            chart=ChartRef(**d["chart"]) if d.get("chart") else None,
            buttons=d.get("buttons"),
            thread=d.get("thread"),
            silent=d.get("silent"),
            lang=d.get("lang", "en"),
        )


@dataclass(frozen=True)
class Reply:
    """The command service's answer: one or more messages (long answers may be split)."""

    messages: tuple[Message, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, *messages: Message) -> Reply:
        return cls(tuple(messages))


def table_text(table: Table) -> list[str]:
    """A monospace rendering of a table, shared by the console and Telegram's <pre> block."""
    cols = len(table.headers)
    widths = [len(h) for h in table.headers]
    for row in table.rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    align = table.align or tuple("l" if i == 0 else "r" for i in range(cols))

    def fmt(cells: tuple[str, ...]) -> str:
        parts = [
            c.ljust(widths[i]) if align[i] == "l" else c.rjust(widths[i])
            for i, c in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    return [fmt(table.headers), *(fmt(r) for r in table.rows)]


def plain_text(msg: Message) -> str:
    """The message as plain text: the console's rendering and every adapter's fallback."""
    out = [msg.title] if msg.title else []
    out.extend(msg.lines)
    if msg.table is not None:
        out.extend(table_text(msg.table))
    for f in msg.fields:
        out.append(f"{f.name}: {f.value}")
    if msg.footer:
        out.append(msg.footer)
    return "\n".join(out)
