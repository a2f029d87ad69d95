"""Replay a recorded (or synthetic) liquidation file into the pipeline at a chosen speed.

File format (JSON lines): an optional header object without "t", then one event per line:
`{"t": seconds from the replay start (negative = history), "venue", "symbol", "coin",
"side": "long"|"short", "usd"}`. History (t <= 0) is fed at once; the rest when the clock
reaches it, so with an accelerated clock an hour of market passes in a minute.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from bot.domain.models import Liquidation, Side, SourceStatus
from bot.domain.source_fault import Fault
from bot.runtime.clock import Clock
from bot.sources.base import Sink

log = logging.getLogger(__name__)

DEMO = "demo"
_BATCH_MS = 250  # market time gathered into one sink call


class ReplayError(ValueError):
    pass


def demo_path() -> Path:
    return Path(str(resources.files("bot") / "data" / "demo_cascade.jsonl"))


def read_events(path: str | Path, start_ms: int) -> tuple[dict, list[Liquidation]]:
    """Parse a replay file into events placed relative to `start_ms`; bad lines are errors."""
    p = demo_path() if str(path) == DEMO else Path(path)
    header: dict = {}
    events: list[Liquidation] = []
    try:
        lines: Iterator[str] = iter(p.read_text(encoding="utf-8").splitlines())
    except OSError as e:
        raise ReplayError(f"cannot read replay file {p}: {e.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if "t" not in row:
                header = row
                continue
            if "coinglass" in row:  # a recording's CoinGlass answer (bench/compare_coinglass.py)
                continue
            side = Side(row["side"])
            if side is Side.TOTAL:
                raise ValueError("side must be long or short")
            events.append(
                Liquidation(
                    venue=str(row["venue"]),
                    coin=str(row["coin"]).upper(),
                    side=side,
                    usd=float(row["usd"]),
                    ts_ms=start_ms + int(float(row["t"]) * 1000),
                    symbol=str(row.get("symbol", "")),
                    price=float(row.get("price", 0.0)),
                )
            )
        except (ValueError, KeyError, TypeError) as e:
            raise ReplayError(f"{p}:{n}: not a replay event ({e})") from None
    events.sort(key=lambda e: e.ts_ms)
    return header, events


class ReplaySource:
    """A Source that plays a file against the clock (see the module docstring)."""

    name = "replay"

    def __init__(self, path: str | Path, clock: Clock, start_ms: int | None = None) -> None:
        self.path = path
        self.clock = clock
        self.start_ms = clock.now_ms() if start_ms is None else start_ms
        self.header, self._events = read_events(path, self.start_ms)
        self.fed = 0
        self.finished = asyncio.Event()
        self._since_ms: int | None = None

    @property
    def venues(self) -> tuple[str, ...]:
        return tuple(sorted({e.venue for e in self._events}))

    @property
    def end_ms(self) -> int:
        return self._events[-1].ts_ms if self._events else self.start_ms

    async def run(self, sink: Sink) -> None:
        events, i = self._events, 0
        now = self.clock.now_ms()
        self._since_ms = now
        sink.up(self.name, now)
        try:
            while i < len(events):
                now = self.clock.now_ms()
                j = i
                while j < len(events) and events[j].ts_ms <= now:
                    j += 1
                if j > i:
                    sink.events(self.name, events[i:j])
                    self.fed += j - i
                    i = j
                    continue
                await self.clock.sleep_until(min(events[i].ts_ms, now + _BATCH_MS))
            log.info("replay finished: %d events", self.fed)
        finally:
            self.finished.set()

    def status(self) -> SourceStatus:
        done = self.finished.is_set()
        return SourceStatus(
            name=self.name,
            state="up",
            since_ms=self._since_ms,
            last_data_ms=self._events[self.fed - 1].ts_ms if self.fed else None,
            events=self.fed,
            note="replay finished" if done else f"replaying {len(self._events)} events",
            fault=Fault.ENDED if done else None,
        )
