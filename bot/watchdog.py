"""The health of the service's own loops: which scheduled jobs succeed, which keep failing.

The scheduler's job wrapper reports every run here; listeners hear once per transition (a job
starts failing, a failing job succeeds again), never once per failed run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class JobHealth:
    name: str
    last_success_ms: int | None = None
    last_failure_ms: int | None = None
    consecutive_failures: int = 0
    failing_since_ms: int | None = None
    last_error: str = ""


class Watchdog:
    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now = now_ms
        self._jobs: dict[str, JobHealth] = {}
        self.listeners: list[Callable[[JobHealth, bool], None]] = []

    def _job(self, name: str) -> JobHealth:
        job = self._jobs.get(name)
        if job is None:
            job = self._jobs[name] = JobHealth(name)
        return job

    def success(self, name: str) -> None:
        job = self._job(name)
        job.last_success_ms = self._now()
        was_failing = job.failing_since_ms is not None
        job.consecutive_failures, job.failing_since_ms = 0, None
        if was_failing:
            self._tell(job, False)

    def failure(self, name: str, error: BaseException) -> None:
        job = self._job(name)
        now = self._now()
        job.last_failure_ms = now
        job.consecutive_failures += 1
        job.last_error = f"{type(error).__name__}: {error}"[:300]
        if job.failing_since_ms is None:
            job.failing_since_ms = now
            self._tell(job, True)

    def jobs(self) -> dict[str, JobHealth]:
        return dict(self._jobs)

    def failing(self) -> list[JobHealth]:
        return [j for j in self._jobs.values() if j.failing_since_ms is not None]

    def _tell(self, job: JobHealth, failing: bool) -> None:
        for listener in self.listeners:
            try:
                listener(job, failing)
            except Exception:  # a broken listener must not break the job being reported
                log.exception("watchdog listener failed")
