"""The service's clockwork on APScheduler: evaluation tick, outbox drain, persistence, pruning.

A job can also be poked: new data pokes `evaluate`, new outbox rows poke `drain`. A poke runs the
job at once when it is idle (leading edge, no fixed delay); pokes that arrive while it runs are
coalesced into exactly one follow-up run, which sees everything they brought.
Each run's success or failure goes to the Watchdog, which logs a failing job once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.runtime.watchdog import Watchdog

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class Trigger:
    """Runs a job on each poke: at once when idle, else once more after the current run."""

    def __init__(self, name: str, run: Job) -> None:
        self.name = name
        self._run = run
        self._pending = False
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    @property
    def running(self) -> bool:
        return self._task is not None

    def poke(self) -> None:
        self._pending = True
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name=f"poked:{self.name}"
            )

    async def _loop(self) -> None:
        try:
            while self._pending:
                self._pending = False  # pokes from here on ask for one more run
                self.runs += 1
                await self._run()
        finally:
            self._task = None  # no await since the last check: a poke is never lost

    async def wait_idle(self) -> None:
        """Until the current run and its follow-up (if any) are over."""
        while (task := self._task) is not None:
            await asyncio.shield(task)

    def stop(self) -> None:
        """No follow-up run; a run under way finishes (the shutdown waits for its lock)."""
        self._pending = False


class Scheduler:
    def __init__(self, watchdog: Watchdog | None = None) -> None:
        self._s = AsyncIOScheduler(timezone=UTC)
        self.watchdog = watchdog or Watchdog(lambda: int(time.time() * 1000))
        self._guarded: dict[str, Job] = {}
        self._triggers: dict[str, Trigger] = {}
        self._running = False  # pokes count only between start and shutdown

    def every(
        self,
        name: str,
        seconds: float,
        job: Job,
        *,
        first_in: float | None = None,
        on_poke: Job | None = None,
    ) -> None:
        """Run `job` every `seconds`; a poke of `name` runs `on_poke` (default: `job`) at once,
        through the same guard."""

        async def guarded(job: Job = job) -> None:
            try:
                await job()
            except asyncio.CancelledError:  # shutting down mid-run: nothing to report
                return
            except Exception as e:  # tried again on its next run; logged once per transition
                self.watchdog.failure(name, e)
                return
            self.watchdog.success(name)

        self._guarded[name] = guarded

        poked = on_poke or job
        self._triggers[name] = Trigger(name, lambda: guarded(poked))
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

    def poke(self, name: str) -> None:
        """Run `name` now, or once more right after its current poked run (see Trigger)."""
        trigger = self._triggers.get(name)
        if trigger is None or not self._running:
            return
        trigger.poke()

    def trigger(self, name: str) -> Trigger | None:
        return self._triggers.get(name)

    def start(self) -> None:
        self._s.start()
        self._running = True

    def shutdown(self) -> None:
        self._running = False
        for t in self._triggers.values():
            t.stop()
        if self._s.running:
            self._s.shutdown(wait=False)
