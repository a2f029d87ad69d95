"""The level each crossing subscription reaches, for a whole series at once.

A subscription at threshold t reaches level L+1 while `value >= t * factor**L` (levels 1 to
MAX_LEVEL). Per subscription that is a short Python loop; a crash tick runs it for hundreds of
thousands (about half the evaluation). Here the same comparisons, on the same doubles, are done
per series:
- armed subscriptions that fire are a prefix of a list sorted by threshold, and t * f**L grows
  with t (multiplying by a positive double is monotone), so each level's reach is one bisect of
  that prefix: a handful of bisects per series instead of a loop per subscription;
- escalating ones (sorted by their next bound, not by threshold) nearly all climb exactly one
  level; one bisect finds those that surely do, and only the rest take the loop.
The comparisons that decide are the loop's own (`t * factor**L`, the same doubles), so the
levels are the loop's exactly (tests/domain/test_rules_levels.py checks them against the loop,
and the transitions against the evaluation before this module).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from bot.domain.models import Subscription
from bot.domain.policy import MAX_LEVEL


def loop_level(threshold: float, value: float, level: int, factor: float) -> int:
    """The readable statement: climb from `level` while the value reaches the next bound."""
    while level < MAX_LEVEL and value >= threshold * factor**level:
        level += 1
    return level


def fire_levels(thresholds: Sequence[float], n: int, value: float, factor: float) -> list[int]:
    """Levels of the first `n` of `thresholds` (ascending, all <= value): each at least 1."""
    if n and thresholds[0] < 0:  # not monotone in the level: the loop (never in practice)
        return [loop_level(t, value, 1, factor) for t in thresholds[:n]]
    # reach[L]: how many of the n reach level L+1 (value >= t * factor**L); reach[0] = n
    reach = [n]
    level = 1
    while level < MAX_LEVEL and reach[-1]:
        power = factor**level
        reach.append(bisect_right(thresholds, value, 0, reach[-1], key=power.__rmul__))
        level += 1
    levels: list[int] = []
    done = 0
    for lv in range(len(reach) - 1, -1, -1):  # the highest level first: the lowest thresholds
        levels += [lv + 1] * (reach[lv] - done)
        done = reach[lv]
    return levels


def escalate_levels(
    bounds: Sequence[float],
    subs: Sequence[Subscription],
    olds: Sequence[tuple[bool, int, int, int | None, int | None]],
    value: float,
    factor: float,
) -> list[int]:
    """New levels of the first len(subs) fired subscriptions of an escalation list (sorted by
    their next bound t * factor**level, all <= value): one level up at least.

    Nearly all climb exactly one level: those whose bound is above value / factor (with a margin
    far beyond rounding) cannot reach the bound after it, t * factor**(level+1) ~ bound * factor
    > value. That is a suffix of the list (one bisect); only the prefix before it climbs the
    loop. (The argument needs positive bounds: a value <= 0 takes the loop for all.)
    """
    n = len(subs)
    split = bisect_right(bounds, value / (factor * (1 - 1e-9)), 0, n) if value > 0 else n
    levels = [
        loop_level(s.threshold, value, o[1] + 1 if o[1] < MAX_LEVEL else o[1], factor)
        for s, o in zip(subs[:split], olds[:split], strict=True)
    ]
    levels += [o[1] + 1 if o[1] < MAX_LEVEL else o[1] for o in olds[split:n]]
    return levels
