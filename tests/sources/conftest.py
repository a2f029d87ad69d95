"""A recording Sink (the port double) and helpers to run a source against a fake."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from bot.domain.health import SourceHealth
from bot.domain.models import Liquidation, Side, SourceStatus, VenueSplit, WindowTotals
from bot.domain.source_fault import DownReason
from bot.sources.connection import Timing, wall_clock_ms

FAST = Timing(
    ping_interval_s=0.05, silence_s=0.4, max_age_s=3600, backoff_base_s=0.01, backoff_cap_s=0.05
)


class RecordingSink:
    """Records every call in order; `until` waits (no sleeps) for a condition on what arrived.

    It keeps a real health record, as the LiveMarket does: `status(name)` is what /status shows.
    """

    def __init__(self, clock: Callable[[], int] = wall_clock_ms) -> None:
        self.clock = clock
        self.health = SourceHealth((), clock())
        self.calls: list[tuple] = []
        self.events_in: list[Liquidation] = []
        self.totals_in: list[tuple] = []
        self.coverage = ""
        self._changed = asyncio.Event()

    def _note(self, call: tuple) -> None:
        self.calls.append(call)
        self._changed.set()

    def events(self, source: str, events: list[Liquidation]) -> None:
        self.events_in.extend(events)
        self.health.data(source, self.clock(), len(events))
        self._note(("events", source, len(events)))

    def totals(
        self,
        source: str,
        as_of_ms: int,
        totals: dict[tuple[str, int], WindowTotals],
        venues: dict[tuple[str, int], tuple[VenueSplit, ...]],
        coverage: str = "",
    ) -> None:
        self.totals_in.append((source, as_of_ms, totals, venues))
        self.health.data(source, self.clock(), 1)
        self.coverage = coverage
        self._note(("totals", source))

    def up(self, source: str, now_ms: int) -> None:
        self.health.up(source, now_ms)
        self._note(("up", source))

    def down(self, source: str, now_ms: int, reason: DownReason) -> None:
        # the record decides what is a new outage; a new reason during one is not
        self._note(
            ("down" if self.health.down(source, now_ms, reason) else "reason", source, reason)
        )

    def skipped(self, source: str, count: int) -> None:
        self.health.skipped(source, count)
        self._note(("skipped", source, count))

    def status(self, source: str) -> SourceStatus:
        found = [s for s in self.health.status(0) if s.name == source]
        return found[0] if found else SourceStatus(name=source, state="disabled")

    def kinds(self) -> list[str]:
        return [c[0] for c in self.calls if c[0] in ("up", "down")]

    def usd(self, side: Side) -> float:
        return sum(e.usd for e in self.events_in if e.side is side)

    async def until(self, pred: Callable[[RecordingSink], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not pred(self):
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@contextlib.asynccontextmanager
async def running(source, sink: RecordingSink) -> AsyncIterator[asyncio.Task]:
    task = asyncio.create_task(source.run(sink))
    try:
        yield task
    finally:
        assert not task.done(), f"the source stopped: {task}"  # run() must never return or raise
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
