"""Operator alerts: the operators' chats hear once when something breaks and once when it heals.

A small scheduled job compares the service's current problems (bot.ops.service_health) with what it
last told the operators, and enqueues a message per transition through the outbox, so a notice
survives a crash and waits out a platform outage. The state told is kept in memory: after a
restart an ongoing problem is told once more. An optional daily heartbeat says "still running";
its absence is the alarm.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.domain.render_ops import (
    Problem,
    problem_text,
    render_heartbeat,
    render_problem,
    render_recovery,
)
from bot.ops.service_health import ServiceHealth
from bot.store import OutboxItem

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600_000


def next_daily_ms(hhmm: str, now_ms: int) -> int:
    """The next time of day `HH:MM` UTC strictly after now."""
    hh, mm = (int(x) for x in hhmm.split(":"))
    day = now_ms // DAY_MS * DAY_MS
    at = day + (hh * 60 + mm) * 60_000
    return at if at > now_ms else at + DAY_MS


@dataclass
class OperatorAlerts:
    health: ServiceHealth
    db: Any
    chats: tuple[str, ...]
    now_ms: Callable[[], int]
    heartbeat: str = ""  # "HH:MM" UTC, or "" for none
    on_enqueued: Callable[[int], None] = lambda n: None
    told: dict[str, Problem] = field(default_factory=dict)  # the problems the operators know of
    _next_beat_ms: int | None = None
    _looks: int = 0  # checks made: a trouble back within the same millisecond is new news too

    def __post_init__(self) -> None:
        if self.heartbeat:
            self._next_beat_ms = next_daily_ms(self.heartbeat, self.now_ms())

    async def check(self) -> int:
        """One look: enqueue a message per transition since the last look; returns how many."""
        now = self.now_ms()
        current = {p.key: p for p in await self.health.problems(now)}
        items: list[OutboxItem] = []
        # the time of the look in the key: the same trouble may come back with the same start (a
        # restart, a millisecond clock); nothing is told twice since `told` moves only after the
        # enqueue
        self._looks += 1
        look = f"{now}.{self._looks}"
        for key, p in current.items():
            if key not in self.told:
                items += self._to_all(
                    render_problem(p, now), f"{key}:{p.since_ms}:down:{look}", now
                )
        for key, p in self.told.items():
            if key not in current:
                items += self._to_all(render_recovery(p, now), f"{key}:{p.since_ms}:up:{look}", now)
        beat = self._next_beat_ms is not None and now >= self._next_beat_ms
        if beat:
            items += self._to_all(self._heartbeat(now, current), f"heartbeat:{_day(now)}", now)
        if items:
            await self.db.enqueue(items)  # raises: nothing counts as told, the next look retries
            self.on_enqueued(len(items))
            log.info("operator alerts: %d message(s) enqueued", len(items))
        # a problem keeps the start it was told with, so its recovery says how long it lasted
        self.told = {k: self.told.get(k, p) for k, p in current.items()}
        if beat:
            self._next_beat_ms = next_daily_ms(self.heartbeat, now)
        return len(items)

    def _to_all(self, message: Any, key: str, now: int) -> list[OutboxItem]:
        return [OutboxItem(chat, message, f"operator:{chat}:{key}", now) for chat in self.chats]

    def _heartbeat(self, now: int, current: dict[str, Problem]) -> Any:
        statuses = self.health.market.status(now)
        return render_heartbeat(
            now,
            [s.name for s in statuses if s.state == "up"],
            [s.name for s in statuses if s.state != "up"],
            [problem_text(p, now) for p in current.values()],
            self.health.outbox_pending,
        )


def _day(now_ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now_ms / 1000))
