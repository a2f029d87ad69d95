"""The replies of /export and /import."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.message import Message, Tone
from bot.domain.models import Subscription
from bot.domain.render_insight import describe_sub
from bot.domain.rule_export import export_lines

MAX_UNREADABLE_SHOWN = 5


def render_export(subs: Sequence[Subscription]) -> Message:
    """No title: the message starts with `/import`, so it can be sent again as it is."""
    if not subs:
        return Message(
            title="Nothing to export",
            lines=("This chat has no rules yet. Add one with /subscribe btc 1h 100m.",),
            ephemeral=True,
        )
    return Message(
        title="",
        lines=tuple(export_lines(subs)),
        footer=(
            f"{len(subs)} rule{'s' if len(subs) != 1 else ''}. Copy this whole message and send "
            "it in any chat: it adds the rules that chat does not have yet."
        ),
    )


def render_imported(
    added: Sequence[Subscription],
    duplicates: int,
    over_cap: int,
    cap: int,
    unreadable: Sequence[tuple[str, str]],
) -> Message:
    n = len(added)
    lines = [f"#{s.number or s.id} {describe_sub(s)}" for s in added]
    if duplicates:
        lines.append(
            f"{duplicates} rule{'s were' if duplicates != 1 else ' was'} already here, "
            "so not added again."
        )
    if over_cap:
        lines.append(
            f"{over_cap} not added: this chat reached its limit of {cap} rules "
            "(free slots with /unsubscribe)."
        )
    for line, why in unreadable[:MAX_UNREADABLE_SHOWN]:
        lines.append(f"Could not read '{line}': {why}.")
    if len(unreadable) > MAX_UNREADABLE_SHOWN:
        lines.append(f"... and {len(unreadable) - MAX_UNREADABLE_SHOWN} more unreadable lines.")
    title = f"Imported {n} rule{'s' if n != 1 else ''}" if n else "No rules imported"
    tone = Tone.NEUTRAL if n or not (unreadable or over_cap) else Tone.ERROR
    return Message(
        title=title, lines=tuple(lines), footer="See them all with /list." if n else "", tone=tone
    )
