"""How often a rule would have fired over the stored history, with the real lifecycle.

The stored minute sums are replayed one minute at a time through `rules.step` (the same code
the engine runs: hysteresis, escalation, quiet time, no re-arm over a window with a recorded
source outage), evaluating at each minute's end. The live
engine also evaluates inside a minute, so a spike that rose and fell within one minute may count
here where the live rule saw it, or not: the figure is an estimate, said so to the user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from bot.domain.baselines import MINUTE_MS, RollingSums
from bot.domain.models import AlertState, Status, Subscription
from bot.domain.rules import Policy, step

MAX_DAYS = 7


@dataclass(frozen=True, slots=True)
class BacktestResult:
    fired: int  # episodes started (armed -> fired)
    last_ms: int | None  # when the latest of them fired
    since_ms: int  # the first minute evaluated (a whole window of history before it)
    until_ms: int  # the end of the last minute evaluated
    escalations: int = 0

    @property
    def covered_ms(self) -> int:
        return max(0, self.until_ms - self.since_ms)


def backtest(
    policy: Policy,
    sub: Subscription,
    values: dict[int, float],
    first_ms: int,
    now_ms: int,
    threshold_at: Callable[[int], float | None] | None = None,
    gaps: Iterable[tuple[int, int]] = (),
    max_days: int = MAX_DAYS,
) -> BacktestResult | None:
    """Replay `values` (minute number -> USD on the rule's side) from `first_ms` to `now_ms`.

    `threshold_at(ms)`: a relative rule's threshold at that time (None: no baseline, skip).
    `gaps`: (start_ms, end_ms) of recorded source outages: a window touching one is incomplete
    and, as live, cannot re-arm a rule. `max_days`: how far back from `now_ms` it may reach (the
    store's 7 days; more when older history from CoinGlass is joined in, bot.features.backtest_history).
    None when the history holds less than one whole window.
    """
    w = sub.window
    first_min = max(first_ms // MINUTE_MS, (now_ms - max_days * 86_400_000) // MINUTE_MS)
    last_min = now_ms // MINUTE_MS - 1  # the last completed minute
    start = first_min + w - 1
    if start > last_min:
        return None
    sums = RollingSums(values, first_min, last_min)
    missing = {
        m
        for a, b in gaps
        for m in range(max(a // MINUTE_MS, first_min), min(b // MINUTE_MS, last_min) + 1)
    }
    holes = RollingSums(dict.fromkeys(missing, 1.0), first_min, last_min)
    state = AlertState(sub.id)
    fired = escalations = 0
    last: int | None = None
    rule = sub
    for m in range(start, last_min + 1):
        at = (m + 1) * MINUTE_MS
        if threshold_at is not None:
            t = threshold_at(at)
            if t is None:
                continue
            if t != rule.threshold:
                rule = replace(sub, threshold=t)
        complete = not missing or holes.sum(m - w + 1, m) == 0
        new = step(policy, rule, state, sums.sum(m - w + 1, m), complete, at)
        if new is None:
            continue
        if new.status is Status.FIRED:
            if state.status is Status.ARMED:
                fired += 1
                last = at
            else:
                escalations += 1
        state = new
    return BacktestResult(fired, last, start * MINUTE_MS, (last_min + 1) * MINUTE_MS, escalations)
