"""The service watching itself: every scheduled job's last success and consecutive failures.

A job that starts failing is logged once at ERROR with its traceback, and once more (WARNING)
when it recovers; the ticks in between add nothing to the log. `/status`, the health endpoint and
operator alerts read the same record (listeners hear each transition once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# what a job is called where a user reads it ("alerting is failing since 14:02 UTC: ...")
PLAIN_NAMES = {"evaluate": "alerting", "drain": "delivery", "persist": "saving", "prune": "pruning"}


@dataclass
class JobHealth:
    name: str
    last_success_ms: int | None = None
    last_failure_ms: int | None = None
    consecutive_failures: int = 0
    failing_since_ms: int | None = None  # set on the first failure after a success
    last_error: str = ""  # one line, e.g. "TypeError: '<' not supported ..." (no secrets)

    @property
    def plain_name(self) -> str:
        return PLAIN_NAMES.get(self.name, self.name)


def one_line(error: BaseException, secrets: Iterable[str] = (), limit: int = 200) -> str:
    """`Type: message` on one line, secrets masked, cut to `limit` characters."""
    text = " ".join(f"{type(error).__name__}: {error}".rstrip(": ").split())
    for secret in secrets:
        text = text.replace(secret, "***")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Watchdog:
    def __init__(self, now_ms: Callable[[], int], *, secrets: Iterable[str] = ()) -> None:
        """`secrets` are masked in `last_error` (the log masks them on its own)."""
        self.now_ms = now_ms
        self._secrets = tuple(s for s in secrets if len(s) >= 6)
        self.listeners: list[Callable[[JobHealth, bool], None]] = []
        self._jobs: dict[str, JobHealth] = {}

    def _job(self, name: str) -> JobHealth:
        job = self._jobs.get(name)
        if job is None:
            job = self._jobs[name] = JobHealth(name)
        return job

    def success(self, name: str) -> None:
        job = self._job(name)
        recovered = job.consecutive_failures > 0
        job.last_success_ms = self.now_ms()
        if recovered:
            log.warning(
                "scheduled job %s recovered after %d failed run(s)", name, job.consecutive_failures
            )
        job.consecutive_failures, job.failing_since_ms = 0, None
        if recovered:
            self._tell(job, False)

    def failure(self, name: str, error: BaseException) -> None:
        job = self._job(name)
        now = self.now_ms()
        first = job.consecutive_failures == 0
        job.consecutive_failures += 1
        job.last_failure_ms = now
        job.last_error = one_line(error, self._secrets)
        if first:
            job.failing_since_ms = now
            log.error("scheduled job %s is failing: %s", name, job.last_error, exc_info=error)
            self._tell(job, True)
        else:
            n = job.consecutive_failures
            log.debug("scheduled job %s failed again (%d): %s", name, n, job.last_error)

    def _tell(self, job: JobHealth, failing: bool) -> None:
        for listener in list(self.listeners):
            try:
                listener(job, failing)
            except Exception:  # a broken listener must not hide the job's own state
                log.exception("watchdog listener failed")

    def jobs(self) -> dict[str, JobHealth]:
        return dict(self._jobs)

    def failing(self) -> list[JobHealth]:
        return [j for j in self._jobs.values() if j.consecutive_failures > 0]
