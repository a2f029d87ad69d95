"""Telegram HTML rendering: escaping of hostile strings and splitting at 4096 characters."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from bot.chat.telegram_render import LIMIT, render_html
from bot.domain.message import Field, Message, Table, plain_text

HOSTILE = [
    "<b>bold</b>",
    "</pre><script>alert(1)</script>",
    "a & b &amp; &lt; &#60; &",
    '"quotes" \'single\' <a href="x">link</a>',
    "<",
    "&",
    "<<<>>>&&&",
]


class _Checker(HTMLParser):
    """Parses like Telegram: only b/i/pre tags allowed, properly nested; collects the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        assert tag in ("b", "i", "pre"), tag
        assert not attrs
        assert not self.stack, f"nested <{tag}> in <{self.stack[-1]}>"
        self.stack.append(tag)

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        assert self.stack and self.stack[-1] == tag, f"stray </{tag}>"
        self.stack.pop()

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        self.text.append(data)


def visible(part: str) -> str:
    c = _Checker()
    c.feed(part)
    c.close()
    assert not c.stack, f"unclosed <{c.stack}>"
    return "".join(c.text)


def test_layout_of_a_full_message() -> None:
    msg = Message(
        title="BTC longs",
        lines=("line one",),
        table=Table(("coin", "usd"), (("BTC", "$1.20B"),)),
        fields=(Field("Venues", "binance"),),
        footer="sampled",
    )
    (part,) = render_html(msg)
    assert part == (
        "<b>BTC longs</b>\nline one\n<pre>coin     usd\nBTC   $1.20B</pre>\n"
        "<b>Venues</b>: binance\n<i>sampled</i>"
    )


@pytest.mark.parametrize("s", HOSTILE)
def test_every_string_is_escaped(s: str) -> None:
    msg = Message(title=s, lines=(s,), table=Table((s,), ((s,),)), fields=(Field(s, s),), footer=s)
    (part,) = render_html(msg)
    # What the user sees is exactly the plain text: nothing was interpreted as markup.
    assert visible(part) == plain_text(msg)


def _long_message(n_lines: int, table_rows: int) -> Message:
    return Message(
        title="<Title> & more",
        lines=tuple(f"line {i} <x> & y" for i in range(n_lines)),
        table=Table(("coin", "longs"), tuple((f"C{i}&", f"${i}<") for i in range(table_rows))),
        fields=(Field("a<", "b>"),),
        footer="foot & <er>",
    )


@pytest.mark.parametrize("limit", [LIMIT, 200, 64])
def test_split_keeps_parts_within_limit_and_well_formed(limit: int) -> None:
    msg = _long_message(400, 400)
    parts = render_html(msg, limit)
    assert len(parts) > 1
    seen = []
    for p in parts:
        assert len(p) <= limit
        seen.append(visible(p))  # raises on a tag cut in half or left open
    # Nothing lost or reordered: the lines join back into the plain text.
    assert "\n".join(seen) == plain_text(msg)


def test_split_reopens_the_pre_block() -> None:
    msg = Message(title="t", table=Table(("h",), tuple((f"row{i}",) for i in range(2000))))
    parts = render_html(msg)
    assert len(parts) >= 3
    for p in parts[1:]:
        assert p.startswith("<pre>") and p.endswith("</pre>")


def test_huge_single_line_is_cut_between_entities() -> None:
    line = "&<" * 5000  # escapes to 9 characters per pair: no way to fit one line
    parts = render_html(Message(title="", lines=(line,)))
    assert all(len(p) <= LIMIT for p in parts)
    assert "".join(visible(p) for p in parts) == line


def test_newline_inside_a_string_stays_inside_its_tag() -> None:
    (part,) = render_html(Message(title="a\nb", footer="c\nd"))
    assert part == "<b>a</b>\n<b>b</b>\n<i>c</i>\n<i>d</i>"
