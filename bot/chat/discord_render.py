"""The neutral Message as Discord embeds, within Discord's limits.

Discord rejects a whole message when one limit is exceeded, so everything here is cut or split
before it is sent: a long body continues in further embeds, a long table in further code blocks
(each with its header), and the embeds are batched into messages of at most 10 embeds and 6000
characters. Text is escaped (markdown, mentions): a coin name or a user's words can never format,
break out of a code block or ping anyone.
"""

from __future__ import annotations

import discord

from bot.domain.message import Message, Table, Tone, table_text

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FIELDS_MAX = 25
FOOTER_MAX = 2048
EMBEDS_PER_MESSAGE = 10
CHARS_PER_MESSAGE = 6000
MAX_MESSAGES = 3  # a reply longer than 30 embeds is a bug or an attack: cut it
_CUT_NOTE = "(cut: too long) "
_MESSAGE_BUDGET = CHARS_PER_MESSAGE - len(_CUT_NOTE)  # room for the note on the last message

COLOURS: dict[Tone, int] = {
    Tone.SHORT: 0x2ECC71,  # shorts squeezed: green
    Tone.LONG: 0xE74C3C,  # longs flushed: red
    Tone.ERROR: 0xE67E22,
    Tone.INFO: 0x3498DB,
    Tone.NEUTRAL: 0x95A5A6,
}

ELLIPSIS = "…"


def escape(text: str) -> str:
    """Plain text made inert for Discord markdown and mentions."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    # never leave a dangling escape backslash that would swallow the ellipsis
    while cut.endswith("\\") and (len(cut) - len(cut.rstrip("\\"))) % 2 == 1:
        cut = cut[:-1]
    return cut + ELLIPSIS


def _code_blocks(table: Table, limit: int) -> list[str]:
    """The table as code blocks of at most `limit` characters, the header repeated in each."""
    # a backtick inside a cell would close the block early: use a look-alike
    lines = [line.replace("`", "ˋ") for line in table_text(table)]
    fence_open, fence_close = "```\n", "\n```"
    room = limit - len(fence_open) - len(fence_close)
    header = truncate(lines[0], room // 2)
    blocks: list[str] = []
    current = [header]
    size = len(header)
    for line in lines[1:]:
        line = truncate(line, room - len(header) - 1)
        if size + 1 + len(line) > room:
            blocks.append(fence_open + "\n".join(current) + fence_close)
            current, size = [header], len(header)
        current.append(line)
        size += 1 + len(line)
    blocks.append(fence_open + "\n".join(current) + fence_close)
    return blocks


def _descriptions(msg: Message) -> list[str]:
    """The body (paragraphs, then the table) packed into descriptions of at most 4096 chars."""
    blocks = [truncate(escape(line), DESCRIPTION_MAX) for line in msg.lines]
    if msg.table is not None and (msg.table.rows or msg.table.headers):
        blocks.extend(_code_blocks(msg.table, DESCRIPTION_MAX))
    out: list[str] = []
    current = ""
    for block in blocks:
        joined = f"{current}\n{block}" if current else block
        if len(joined) <= DESCRIPTION_MAX:
            current = joined
        else:
            out.append(current)
            current = block
    if current:
        out.append(current)
    return out


def render_embeds(msg: Message) -> list[discord.Embed]:
    """Every embed the message needs, each one valid on its own."""
    colour = discord.Colour(COLOURS.get(msg.tone, COLOURS[Tone.INFO]))
    title = truncate(escape(msg.title), TITLE_MAX) if msg.title else None
    footer = truncate(msg.footer, FOOTER_MAX) if msg.footer else ""
    # room left for the body in one embed once the title and footer are counted
    budget = _MESSAGE_BUDGET - len(title or "") - len(footer)

    embeds = [discord.Embed(description=d, colour=colour) for d in _descriptions(msg)]
    if not embeds:
        # Discord rejects an embed with no text at all: keep an invisible description
        embeds = [
            discord.Embed(description="" if (title or msg.fields) else "\u200b", colour=colour)
        ]
    for f in msg.fields:
        name = truncate(escape(f.name), FIELD_NAME_MAX) or "\u200b"
        value = truncate(escape(f.value), FIELD_VALUE_MAX) or "\u200b"
        last = embeds[-1]
        if len(last.fields) >= FIELDS_MAX or len(last) + len(name) + len(value) > budget:
            last = discord.Embed(colour=colour)
            embeds.append(last)
        last.add_field(name=name, value=value, inline=f.inline)
    if title:
        embeds[0].title = title
    if footer:
        if len(embeds[-1]) + len(footer) > _MESSAGE_BUDGET:
            embeds.append(discord.Embed(colour=colour))  # a footer alone is a valid embed
        embeds[-1].set_footer(text=footer)
    return embeds


def batch_embeds(embeds: list[discord.Embed]) -> list[list[discord.Embed]]:
    """Group embeds into messages of at most 10 embeds and 6000 characters in total."""
    batches: list[list[discord.Embed]] = []
    current: list[discord.Embed] = []
    size = 0
    for e in embeds:
        n = len(e)
        if current and (len(current) >= EMBEDS_PER_MESSAGE or size + n > _MESSAGE_BUDGET):
            batches.append(current)
            current, size = [], 0
        current.append(e)
        size += n
    if current:
        batches.append(current)
    if len(batches) > MAX_MESSAGES:
        batches = batches[:MAX_MESSAGES]
        last = batches[-1][-1]
        last.set_footer(text=truncate(_CUT_NOTE + (last.footer.text or ""), FOOTER_MAX))
    return batches


def render_batches(msg: Message) -> list[list[discord.Embed]]:
    """The message as a list of Discord messages, each a list of embeds."""
    return batch_embeds(render_embeds(msg))


NO_MENTIONS = discord.AllowedMentions.none()
