"""Time as the service sees it: the wall clock, or an accelerated clock for replays and demos.

With an accelerated clock every rule (windows, quiet times, mutes) runs in market time, so a
replayed hour of liquidations behaves exactly as a real hour would, only faster.
"""

from __future__ import annotations

import asyncio
import time


class Clock:
    """The wall clock, in milliseconds since the epoch (UTC)."""

    speed: float = 1.0

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    async def sleep_until(self, when_ms: int) -> None:
        delay = (when_ms - self.now_ms()) / 1000 / self.speed
        if delay > 0:
            await asyncio.sleep(delay)


class AcceleratedClock(Clock):
    """Market time that runs `speed` times faster than the wall clock from `origin_ms` on."""

    def __init__(self, speed: float, origin_ms: int | None = None) -> None:
        self.speed = speed
        self._real0 = time.monotonic()
        self._origin = int(time.time() * 1000) if origin_ms is None else origin_ms

    def now_ms(self) -> int:
        return self._origin + int((time.monotonic() - self._real0) * 1000 * self.speed)
