"""The service's clockwork on APScheduler: evaluation tick, outbox drain, persistence, pruning.

New data and new outbox rows pull the next run of their job forward ("poke"), so an alert goes out
within a second or two of the data that crossed a threshold, without waiting for the next tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.watchdog import Watchdog

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class Scheduler:
    def __init__(self, watchdog: Watchdog | None = None) -> None:
        self._s = AsyncIOScheduler(timezone=UTC)
        self.watchdog = watchdog  # hears of every run: /healthz and the operators read it

    def every(self, name: str, seconds: float, job: Job, *, first_in: float | None = None) -> None:
        async def guarded() -> None:
            try:
                await job()
            except asyncio.CancelledError:  # shutting down mid-run: nothing to report
                return
            except Exception as e:  # a failing job is logged and tried again on its next run
                log.exception("scheduled job %s failed", name)
                if self.watchdog is not None:
                    self.watchdog.failure(name, e)
                return
            if self.watchdog is not None:
                self.watchdog.success(name)

        start = datetime.now(UTC) + timedelta(seconds=seconds if first_in is None else first_in)
        self._s.add_job(
            guarded,
            "interval",
            seconds=seconds,
            id=name,
            name=name,
            next_run_time=start,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    def poke(self, name: str, delay_s: float = 0.0) -> None:
        """Run `name` in `delay_s` seconds unless it is already due sooner (debounce)."""
        job = self._s.get_job(name)
        if job is None or not self._s.running:
            return
        when = datetime.now(UTC) + timedelta(seconds=delay_s)
        if job.next_run_time is None or job.next_run_time > when:
            job.modify(next_run_time=when)

    def start(self) -> None:
        self._s.start()

    def shutdown(self) -> None:
        if self._s.running:
            self._s.shutdown(wait=False)
