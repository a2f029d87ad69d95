"""What is wrong with the running service right now: the one reading /healthz and the operator
alerts share.

It reads the three records that already exist (source health through `LiveMarket.status`, the
jobs' health in the Watchdog, delivery outcomes per platform) and the outbox backlog, and turns
them into Problems (bot.domain.render_ops). It keeps no state of its own beyond a cache of the
last outbox reading for /metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain.models import SourceStatus
from bot.domain.render_ops import Problem, problem_text
from bot.domain.source_fault import Fault
from bot.runtime.watchdog import Watchdog

# Jobs on the alert path: while one of them fails, the service is not doing its job.
CRITICAL_JOBS = frozenset({"evaluate", "drain"})
DB_TIMEOUT_S = 3.0


class MarketStatus(Protocol):
    def status(self, now_ms: int) -> list[SourceStatus]: ...


@dataclass(frozen=True)
class HealthLimits:
    stale_after_ms: int = 120_000  # no evaluation finished for this long: stuck
    no_source_for_ms: int = 5 * 60_000  # no data source up for this long
    outbox_stuck_after_ms: int = 10 * 60_000  # a due message waited this long
    source_down_after_ms: int = 5 * 60_000  # one source down this long (operators hear)
    delivery_failing_after_ms: int = 10 * 60_000  # a platform failing every send this long


class DeliveryHealth:
    """Per platform: since when every send has failed transiently (no success in between).

    Fed by Delivery's outcome hook. A permanent failure is one chat's problem (blocked, kicked),
    not the platform's, so it neither starts nor ends a platform failure.
    """

    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now = now_ms
        self._failing: dict[str, tuple[int, str]] = {}  # platform -> (since, last reason)

    def record(self, platform: str, outcome: str, reason: str = "") -> None:
        if outcome in ("sent", "migrated"):
            self._failing.pop(platform, None)
        elif outcome == "retry":
            since = self._failing.get(platform, (self._now(), ""))[0]
            self._failing[platform] = (since, reason)

    def failing(self) -> dict[str, tuple[int, str]]:
        return dict(self._failing)


class ServiceHealth:
    def __init__(
        self,
        market: MarketStatus,
        watchdog: Watchdog,
        delivery: DeliveryHealth,
        db: Any,
        platforms: Collection[str],
        now_ms: Callable[[], int],
        limits: HealthLimits | None = None,
    ) -> None:
        self.market, self.watchdog, self.delivery, self.db = market, watchdog, delivery, db
        self.platforms = tuple(platforms)  # those with a sender: others' rows wait by design
        self.now_ms = now_ms
        self.limits = limits or HealthLimits()
        self.started_ms = now_ms()  # reset by the app when the loops start
        self.outbox_pending = 0  # the last reading, for the liqbot_outbox_pending gauge
        self.replica: Callable[[], dict[str, Any]] | None = None  # /healthz: who leads

    async def read_outbox(self, now_ms: int) -> int | None:
        """Refresh the pending count; returns when the oldest due row became due (None: none)."""
        pending, oldest_due = await asyncio.wait_for(
            self.db.outbox_backlog(now_ms, self.platforms), DB_TIMEOUT_S
        )
        self.outbox_pending = pending
        return oldest_due

    async def problems(self, now_ms: int | None = None) -> list[Problem]:
        now = self.now_ms() if now_ms is None else now_ms
        lim = self.limits
        out = self._source_problems(now)
        for job in self.watchdog.failing():
            out.append(
                Problem(
                    f"job:{job.name}",
                    "job_failing",
                    job.name,
                    job.failing_since_ms or now,
                    f"{job.consecutive_failures} failed runs, last: {job.last_error}",
                    critical=job.name in CRITICAL_JOBS,
                )
            )
        evaluate = self.watchdog.jobs().get("evaluate")
        last_eval = (evaluate.last_success_ms if evaluate else None) or self.started_ms
        failing_eval = evaluate is not None and evaluate.failing_since_ms is not None
        if not failing_eval and now - last_eval > lim.stale_after_ms:
            out.append(Problem("evaluation", "evaluation_stale", "", last_eval, critical=True))
        for platform, (since, reason) in sorted(self.delivery.failing().items()):
            if now - since >= lim.delivery_failing_after_ms:
                out.append(
                    Problem(f"delivery:{platform}", "delivery_failing", platform, since, reason)
                )
        try:
            oldest_due = await self.read_outbox(now)
        except Exception as e:  # a database that does not answer is itself the problem
            detail = "no answer within 3 s" if isinstance(e, TimeoutError) else type(e).__name__
            out.append(Problem("database", "database", "", now, detail, critical=True))
        else:
            if oldest_due is not None and now - oldest_due > lim.outbox_stuck_after_ms:
                out.append(Problem("outbox", "outbox_stuck", "", oldest_due, critical=True))
        return out

    def _source_problems(self, now: int) -> list[Problem]:
        lim = self.limits
        statuses = self.market.status(now)
        out = []
        for s in statuses:
            if s.state == "up":
                continue
            since = s.since_ms if s.since_ms is not None else self.started_ms
            if s.fault is Fault.AUTH_REJECTED:  # waiting will not help: the operator hears at once
                out.append(Problem(f"{s.name}:key", "key_rejected", s.name, since))
            elif now - since >= lim.source_down_after_ms:
                why = (s.fault or Fault.UNEXPECTED).words
                out.append(Problem(f"source:{s.name}", "source_down", s.name, since, why))
        if statuses and not any(s.state == "up" for s in statuses):
            all_down = max(s.since_ms or self.started_ms for s in statuses)
            if now - all_down >= lim.no_source_for_ms:
                out.append(Problem("sources", "no_source", "", all_down, critical=True))
        return out

    async def healthz(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body): 503 with the reasons while a critical problem lasts."""
        now = self.now_ms()
        problems = await self.problems(now)
        failing = [problem_text(p, now) for p in problems if p.critical]
        body: dict[str, Any] = {
            "status": "failing" if failing else "ok",
            "reasons": failing,
            "warnings": [problem_text(p, now) for p in problems if not p.critical],
            "sources": {s.name: s.state for s in self.market.status(now)},
            "jobs": {
                name: {
                    "last_success_ms": j.last_success_ms,
                    "consecutive_failures": j.consecutive_failures,
                }
                for name, j in sorted(self.watchdog.jobs().items())
            },
            "outbox_pending": self.outbox_pending,
        }
        if self.replica is not None:  # which replica answers, and which leads
            body["replica"] = self.replica()
        return (503 if failing else 200), body
