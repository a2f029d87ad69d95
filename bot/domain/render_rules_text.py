"""The replies of /export and /import."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.i18n import EN, Lang
from bot.domain.message import Message, Tone
from bot.domain.models import Subscription
from bot.domain.render_common import sub_label
from bot.domain.render_insight import describe_sub
from bot.domain.rule_export import export_lines

MAX_UNREADABLE_SHOWN = 5


def render_export(subs: Sequence[Subscription], lang: Lang = EN) -> Message:
    """No title: the message starts with `/import`, so it can be sent again as it is."""
    if not subs:
        return Message(
            title=lang._("Nothing to export"),
            lines=(lang._("This chat has no rules yet. Add one with /subscribe btc 1h 100m."),),
            ephemeral=True,
        )
    return Message(
        title="",
        lines=tuple(export_lines(subs)),
        footer=lang.n_(
            "%(n)d rule. Copy this whole message and send it in any chat: it adds the rules "
            "that chat does not have yet.",
            "%(n)d rules. Copy this whole message and send it in any chat: it adds the rules "
            "that chat does not have yet.",
            len(subs),
        ),
    )


def render_imported(
    added: Sequence[Subscription],
    duplicates: int,
    over_cap: int,
    cap: int,
    unreadable: Sequence[tuple[str, str]],
    lang: Lang = EN,
) -> Message:
    n = len(added)
    lines = [f"{sub_label(s, lang)} {describe_sub(s, lang)}" for s in added]
    if duplicates:
        lines.append(
            lang.n_(
                "%(n)d rule was already here, so not added again.",
                "%(n)d rules were already here, so not added again.",
                duplicates,
            )
        )
    if over_cap:
        lines.append(
            lang._(
                "%(count)d not added: this chat reached its limit of %(cap)d rules "
                "(free slots with /unsubscribe).",
                count=over_cap,
                cap=cap,
            )
        )
    for line, why in unreadable[:MAX_UNREADABLE_SHOWN]:
        lines.append(lang._("Could not read '%(line)s': %(why)s.", line=line, why=lang.text(why)))
    if len(unreadable) > MAX_UNREADABLE_SHOWN:
        lines.append(
            lang._(
                "... and %(count)d more unreadable lines.",
                count=len(unreadable) - MAX_UNREADABLE_SHOWN,
            )
        )
    if n:
        title = lang.n_("Imported %(n)d rule", "Imported %(n)d rules", n)
    else:
        title = lang._("No rules imported")
    tone = Tone.NEUTRAL if n or not (unreadable or over_cap) else Tone.ERROR
    footer = lang._("See them all with /list.") if n else ""
    return Message(title=title, lines=tuple(lines), footer=footer, tone=tone)
