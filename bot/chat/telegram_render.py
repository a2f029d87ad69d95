"""The neutral Message as Telegram HTML (parse_mode HTML), split into parts of at most 4096.

Every string from a user or from data is escaped here: the Message holds plain text only.
Splitting happens at line boundaries and never inside a tag: a <pre> block cut in two is closed
and reopened. A single line too long for one part is cut between characters, never inside an
entity such as `&amp;`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from bot.domain.message import Message, table_text

LIMIT = 4096  # Telegram's cap on a message's text


@dataclass(frozen=True, slots=True)
class _Line:
    style: str  # "", "b", "i" or "pre"
    html: str  # escaped content, no tags


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _lines(msg: Message) -> list[_Line]:
    out: list[_Line] = []

    def add(style: str, raw: str) -> None:
        # A newline inside a string would otherwise break the one-line-per-item layout.
        for part in raw.split("\n"):
            out.append(_Line(style, _esc(part)))

    if msg.title:
        add("b", msg.title)
    for line in msg.lines:
        add("", line)
    if msg.table is not None:
        for row in table_text(msg.table):
            add("pre", row)
    for f in msg.fields:
        # name in bold, value plain: built from two escaped pieces, so it is its own style.
        out.append(_Line("field", f"<b>{_esc(f.name)}</b>: {_esc(f.value)}"))
    if msg.footer:
        add("i", msg.footer)
    return out


def _wrap(line: _Line) -> str:
    if line.style in ("b", "i"):
        return f"<{line.style}>{line.html}</{line.style}>"
    return line.html


def _cut(text: str, room: int) -> list[str]:
    """Cut escaped text into pieces of at most `room` characters, never inside an entity."""
    pieces: list[str] = []
    while len(text) > room:
        cut = room
        amp = text.rfind("&", 0, cut)
        if amp != -1 and text.find(";", amp) >= cut:
            # The entity straddles the cut: keep it whole in the next piece.
            cut = amp if amp > 0 else text.find(";", amp) + 1
        space = text.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space + 1  # prefer a word boundary when one is reasonably near
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def _fit(lines: list[_Line], limit: int) -> list[_Line]:
    """Break lines too long for a part of their own into several lines of the same style."""
    out: list[_Line] = []
    for line in lines:
        if line.style == "field":
            # A field's tags sit at its start: cut only the tail if it is huge.
            if len(line.html) > limit:
                head, tail = line.html.split("</b>", 1)
                head += "</b>"
                if len(head) > limit:
                    head = "<b>" + _cut(head[3:-4], limit - 7)[0] + "</b>"
                out.append(_Line("field", head))
                out.extend(_Line("", p) for p in _cut(tail, limit))
            else:
                out.append(line)
            continue
        overhead = len("<pre></pre>") if line.style == "pre" else 2 * len(line.style) + 5
        room = limit - (overhead if line.style else 0)
        out.extend(_Line(line.style, p) for p in _cut(line.html, room))
    return out


def render_html(msg: Message, limit: int = LIMIT) -> list[str]:
    """The message as one or more HTML texts, each at most `limit` characters."""
    parts: list[str] = []
    cur: list[str] = []  # the finished lines of the current part
    size = 0
    in_pre = False  # the current part ends inside an open <pre>

    def close() -> None:
        nonlocal cur, size, in_pre
        if in_pre:
            cur[-1] += "</pre>"
            in_pre = False
        if cur:
            parts.append("\n".join(cur))
        cur, size = [], 0

    for line in _fit(_lines(msg), limit):
        if line.style == "pre":
            piece = line.html if in_pre else "<pre>" + line.html
            # "</pre>" must still fit when this part is closed.
            cost = len(piece) + (1 if cur else 0) + len("</pre>")
            if size + cost > limit and cur:
                close()
                piece = "<pre>" + line.html
                cost = len(piece) + len("</pre>")
            if in_pre:
                cur[-1] += "\n" + piece  # lines of one <pre> block stay one block
            else:
                cur.append(piece)
            in_pre = True
            size += cost - len("</pre>")
            continue
        if in_pre:
            cur[-1] += "</pre>"
            size += len("</pre>")
            in_pre = False
        piece = _wrap(line)
        cost = len(piece) + (1 if cur else 0)
        if size + cost > limit and cur:
            close()
            cost = len(piece)
        cur.append(piece)
        size += cost
    close()
    return parts or [""]
