"""Embeds within Discord's limits, whatever the content: long, hostile, or both."""

from __future__ import annotations

import discord

from bot.chat.discord_render import (
    CHARS_PER_MESSAGE,
    DESCRIPTION_MAX,
    EMBEDS_PER_MESSAGE,
    FIELD_VALUE_MAX,
    FIELDS_MAX,
    MAX_MESSAGES,
    TITLE_MAX,
    render_batches,
    render_embeds,
    truncate,
)
from bot.domain.message import Field, Message, Table, Tone


def _valid(batches: list[list[discord.Embed]]) -> None:
    """Every Discord limit a message is rejected for."""
    assert 1 <= len(batches) <= MAX_MESSAGES
    for batch in batches:
        assert 1 <= len(batch) <= EMBEDS_PER_MESSAGE
        assert sum(len(e) for e in batch) <= CHARS_PER_MESSAGE
        for e in batch:
            d = e.to_dict()
            assert len(d.get("title", "")) <= TITLE_MAX
            assert len(d.get("description", "")) <= DESCRIPTION_MAX
            assert len(d.get("fields", [])) <= FIELDS_MAX
            for f in d.get("fields", []):
                assert 0 < len(f["name"]) <= 256 and 0 < len(f["value"]) <= FIELD_VALUE_MAX
            assert len(d.get("footer", {}).get("text", "")) <= 2048
            # a code block is never left open
            assert d.get("description", "").count("```") % 2 == 0


def test_tone_sets_the_colour() -> None:
    colours = {t: render_embeds(Message("x", tone=t))[0].colour.value for t in Tone}
    assert colours[Tone.SHORT] == 0x2ECC71 and colours[Tone.LONG] == 0xE74C3C
    assert len(set(colours.values())) == len(Tone)


def test_liqs_like_message_keeps_table_in_a_code_block() -> None:
    table = Table(("", "Longs", "Shorts", "Total"), (("1h", "$6.08M", "$819.85K", "$6.90M"),))
    msg = Message("All coins", ("sampled",), table=table, footer="14:05 UTC · binance")
    [[embed]] = render_batches(msg)
    desc = embed.description or ""
    assert desc.startswith("sampled\n```\n") and desc.endswith("\n```")
    assert "$819.85K" in desc and embed.footer.text == "14:05 UTC · binance"


def test_hostile_text_cannot_format_ping_or_escape_the_code_block() -> None:
    evil = "@everyone @here <@&123456789012345678> **bold** ```"
    table = Table(("coin",), (("```evil```",),))
    msg = Message(evil, (evil,), table=table, fields=(Field(evil, evil),))
    [[embed]] = render_batches(msg)
    d = embed.to_dict()
    for text in (d["title"], d["description"], d["fields"][0]["name"], d["fields"][0]["value"]):
        assert "@everyone" not in text and "@here" not in text
        assert "**bold**" not in text
    block = d["description"].split("```\n", 1)[1]
    assert block.count("```") == 1  # only the closing fence


def test_very_long_content_is_split_and_cut_within_limits() -> None:
    rows = tuple((f"COIN{i}", "x" * 60, "$1.00M") for i in range(400))
    msg = Message(
        "T" * 1000,
        tuple("line " * 300 for _ in range(20)),
        table=Table(("coin", "note", "usd"), rows),
        fields=tuple(Field(f"f{i}" * 100, "v" * 5000) for i in range(60)),
        footer="F" * 3000,
    )
    batches = render_batches(msg)
    _valid(batches)
    first = batches[0][0]
    assert first.title is not None and first.title.endswith("…")
    assert batches[-1][-1].footer.text and "cut" in batches[-1][-1].footer.text


def test_long_table_repeats_its_header_in_each_block() -> None:
    rows = tuple((f"C{i}", f"${i}.00M") for i in range(600))
    batches = render_batches(Message("t", table=Table(("coin", "usd"), rows)))
    _valid(batches)
    descs = [e.description or "" for b in batches for e in b]
    assert len(descs) > 1 and all(d.startswith("```\ncoin") for d in descs)
    text = "\n".join(descs)
    assert "C0 " in text and "C599" in text  # nothing lost between blocks


def test_truncate_never_ends_in_a_dangling_escape() -> None:
    cut = truncate("a" * 9 + "\\*" * 10, 11)
    assert len(cut) <= 11 and cut.endswith("…") and not cut[:-1].endswith("\\")


def test_empty_message_is_still_a_valid_embed() -> None:
    _valid(render_batches(Message("")))
