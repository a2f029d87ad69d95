"""The rules a chat asks for, as the command service compares and reports them: a /subscribe's
rule before it is stored, when two rules are the same, which are the chat's own, and the lines a
confirmation or /backtest adds about the rule's past."""

from __future__ import annotations

from bot.domain.command_types import Subscribe
from bot.domain.extra_rules import MIN_RELATIVE_USD
from bot.domain.i18n import EN, Lang
from bot.domain.models import Subscription
from bot.domain.render_insight import backtest_line, usual_line
from bot.features.insight import History


def own_rules(subs: list[Subscription]) -> list[Subscription]:
    """The chat's own rules: the operator's broadcasts use neither its numbers nor its cap."""
    return [s for s in subs if s.origin != "config"]


def as_subscription(cmd: Subscribe) -> Subscription:
    """The rule a Subscribe command describes, before it has an id (backtests, duplicates)."""
    return Subscription(
        id=0,
        chat_key="",
        coin=cmd.coin,
        window=cmd.window,
        side=cmd.side,
        threshold=cmd.threshold,
        venue=cmd.venue,
        kind="single" if cmd.single else "window",
        factor=cmd.factor,
    )


def rule_key(s: Subscription) -> tuple[object, ...]:
    """What makes two rules the same (a second /subscribe of it is a duplicate)."""
    return (s.coin, s.window, s.side, s.threshold, s.venue, s.kind, s.factor)


def history_lines(sub: Subscription, history: History, now: int, lang: Lang = EN) -> list[str]:
    """What a confirmation or /backtest adds about the rule's past: the usual, the backtest."""
    lines = []
    if sub.factor is not None:
        usual = history.usual_at(now)
        threshold = None if usual is None else max(sub.factor * usual.usd, MIN_RELATIVE_USD)
        lines.append(usual_line(sub, usual, threshold, history.stored_days, now, lang))
    lines.append(backtest_line(history.result, sub, now, lang))
    if history.source_note:
        lines.append(lang.text(history.source_note))
    return lines
