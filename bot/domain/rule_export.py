"""A chat's rules as text it can paste back: `/export` writes it, `/import` reads it.

The text is the typed form, one `/subscribe ...` per line, under a first line `/import`, so the
whole message can be copied into any chat as it is. Reading is tolerant of what a copy carries
along: lines without a `/subscribe` (the title, the hint) are skipped, and each rule ends at the
end of its line or at the next `/subscribe`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.command_specs import usage_error
from bot.domain.command_types import CommandError, ImportRules
from bot.domain.i18n import N_, Text
from bot.domain.market import window_label
from bot.domain.models import ALL, Side, Subscription
from bot.domain.subscribe_parser import parse_subscribe

RULE_WORDS = frozenset({"/subscribe", "/sub"})
_UNITS = (("b", 1e9), ("m", 1e6), ("k", 1e3), ("", 1.0))


def amount_text(usd: float) -> str:
    """`100m`, `1.5b`, `250k`: the shortest typed amount that parses back to exactly `usd`."""
    for suffix, size in _UNITS:
        q = usd / size
        if q < 1:
            continue
        text = f"{q:.6f}".rstrip("0").rstrip(".")
        if float(text) * size == usd:  # what parse_money computes
            return text + suffix
    return f"{usd:.2f}".rstrip("0").rstrip(".")


def subscribe_line(sub: Subscription) -> str:
    """The `/subscribe` command that makes this rule again."""
    parts = ["/subscribe", "all" if sub.coin == ALL else sub.coin.lower()]
    if sub.kind == "single":
        parts += ["single", amount_text(sub.threshold)]
    else:
        amount = f"{sub.factor:g}x" if sub.factor is not None else amount_text(sub.threshold)
        parts += [window_label(sub.window), amount]
    if sub.side is not Side.TOTAL:
        parts.append(sub.side.value)
    if sub.venue:
        parts += ["on", sub.venue]
    return " ".join(parts)


def export_lines(subs: Sequence[Subscription]) -> list[str]:
    """`/import` and then one `/subscribe` line per rule, in the chat's own order."""
    return ["/import", *(subscribe_line(s) for s in sorted(subs, key=lambda s: s.number or s.id))]


def parse_import(text: str, max_rules: int) -> ImportRules:
    """The rules in pasted text; a line that does not read is kept with the reason, not raised."""
    chunks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        tokens = line.split()
        starts = [i for i, t in enumerate(tokens) if t.lower().split("@")[0] in RULE_WORDS]
        for k, i in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else len(tokens)
            chunks.append((" ".join(tokens[i:end]), tokens[i + 1 : end]))
    if not chunks:
        raise usage_error("import", N_("paste the text /export gave: it has /subscribe lines"))
    if len(chunks) > max_rules:
        raise usage_error(
            "import",
            N_("%(count)d rules is more than a chat may have (%(max)d)"),
            count=len(chunks),
            max=max_rules,
        )
    rules = []
    unreadable = []
    for line, args in chunks:
        try:
            rules.append(parse_subscribe(args))
        except CommandError as e:
            unreadable.append((line[:80], Text(e.msgid, **e.values)))
    return ImportRules(tuple(rules), tuple(unreadable))
