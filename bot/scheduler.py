"""The service's clockwork on APScheduler: evaluation tick, outbox drain, persistence, pruning.

New data and new outbox rows pull the next run of their job forward ("poke"), so an alert goes out
within a second or two of the data that crossed a threshold, without waiting for the next tick.
Each run's success or failure goes to the Watchdog, which logs a failing job once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.watchdog import Watchdog

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class Scheduler:
    def __init__(self, watchdog: Watchdog | None = None) -> None:
        self._s = AsyncIOScheduler(timezone=UTC)
        self.watchdog = watchdog or Watchdog(lambda: int(time.time() * 1000))
        self._guarded: dict[str, Job] = {}

    def every(self, name: str, seconds: float, job: Job, *, first_in: float | None = None) -> None:
        async def guarded() -> None:
            try:
                await job()
            except asyncio.CancelledError:  # shutting down mid-run: nothing to report
                return
            except Exception as e:  # tried again on its next run; logged once per transition
                self.watchdog.failure(name, e)
                return
            self.watchdog.success(name)

        self._guarded[name] = guarded

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

    async def run_now(self, name: str) -> None:
        """Run a job once, guarded and recorded exactly as its scheduled runs are."""
        await self._guarded[name]()

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
