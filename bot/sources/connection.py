"""The shared life of a websocket source: connect, read, watch for silence, back off, report.

A venue module only says how to prepare (REST discovery), what to send on open (subscriptions),
what keep-alive text to send, and how to parse a frame. This loop owns reconnection with
jittered exponential backoff, the silence watchdog, the planned reconnect before the venue's
24 h limit, and the up/down/skipped reports to the Sink (one down per outage), which keeps
the one health record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from bot.domain.models import Liquidation
from bot.domain.source_fault import DownReason, Fault
from bot.domain.venues import FrameError
from bot.sources.base import Sink

log = logging.getLogger(__name__)

Clock = Callable[[], int]  # milliseconds since the epoch


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Timing:
    """Timing knobs; tests set them small."""

    ping_interval_s: float = 20.0  # application-level keep-alive (Bybit op ping, OKX "ping")
    silence_s: float = 60.0  # watchdog: an open connection quiet this long is dead
    max_age_s: float = 23.5 * 3600  # planned reconnect before the venue's 24 h cut
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    open_timeout_s: float = 10.0
    # A connection must stay open this long before its failure counts as a fresh start
    # (backoff back to base). Resetting on every open would let a server that accepts and
    # closes make us reconnect ~once a second: Binance allows 300 connections per 5 minutes
    # per IP (and bans IPs that keep reconnecting), Bybit 500 per 5 minutes, OKX 3 per second.
    healthy_s: float = 60.0


class Backoff:
    """Jittered exponential backoff: uniform(10%, 100%) of min(cap, base × 2^n).

    `n` counts failures since the last connection that stayed up `healthy_s`: a link that
    opens and drops at once keeps climbing to the cap instead of starting over at `base`.
    `clock` is monotonic seconds (tests inject one).
    """

    def __init__(
        self,
        base_s: float,
        cap_s: float,
        rng: random.Random | None = None,
        *,
        healthy_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_s, self.cap_s, self.attempt = base_s, cap_s, 0
        self.healthy_s = healthy_s
        self._rng = rng or random.Random()
        self._clock = clock
        self._opened_at: float | None = None

    def opened(self) -> None:
        """A connection is open; whether it counts as healthy is decided when it ends."""
        self._opened_at = self._clock()

    def next(self) -> float:
        """The wait before the next attempt (call once per failure)."""
        if self._opened_at is not None and self._clock() - self._opened_at >= self.healthy_s:
            self.attempt = 0  # it stayed up long enough: this failure is a fresh start
        self._opened_at = None
        ceiling = min(self.cap_s, self.base_s * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return self._rng.uniform(0.1 * ceiling, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class HealthReporter:
    """Reports one source's transitions to the Sink, which keeps the one health record.

    It remembers only what it last told the Sink, so a frame does not cost a Sink call. `skipped` counts unusable frames; the
    count not yet told goes to the Sink with the next `report_skipped`.
    """

    def __init__(self, name: str, clock: Clock) -> None:
        self.name, self.clock = name, clock
        self.skipped = 0
        self._told_up: bool | None = None  # None: nothing told yet
        self._told_reason: DownReason | None = None
        self._told_skipped = 0

    def up(self, sink: Sink) -> None:
        if self._told_up is not True:
            self._told_up = True
            _safe(sink.up, self.name, self.clock())

    def down(self, sink: Sink, fault: Fault, detail: str = "") -> None:
        """Mark an outage, classified where it was caught. The Sink hears of it once, however
        many retries fail the same way; a new reason during it is passed on (the record keeps
        the outage's start)."""
        reason = DownReason(fault, detail)
        if self._told_up is not False or reason != self._told_reason:
            self._told_up, self._told_reason = False, reason
            _safe(sink.down, self.name, self.clock(), reason)

    def report_skipped(self, sink: Sink) -> None:
        new = self.skipped - self._told_skipped
        if new:
            self._told_skipped = self.skipped
            _safe(sink.skipped, self.name, new)


def _safe(fn: Callable[..., None], *args: object) -> None:
    # a broken Sink must not kill the source; it is logged and the source carries on
    try:
        fn(*args)
    except Exception:
        log.exception("sink call %s failed", getattr(fn, "__name__", fn))


class SilentConnection(Exception):
    """The watchdog fired: the connection is open but nothing arrived."""


class WebSocketSource:
    """Base of the streaming sources. Subclasses override the hooks below."""

    name = "stream"
    # A venue that needs no subscription is delivering as soon as the link opens; the others
    # prove it with their first frame (an ack or a pong comes within a second).
    up_on_open = False

    def __init__(
        self,
        url: str,
        timing: Timing | None = None,
        clock: Clock | None = None,
        *,
        ping_interval_s: float | None = None,
        watchdog_s: float | None = None,
        max_age_s: float | None = None,
        backoff_base_s: float | None = None,
        backoff_cap_s: float | None = None,
    ) -> None:
        """`timing` gives the venue's defaults; the single knobs (from config) override them."""
        self.url = url
        knobs = {
            "ping_interval_s": ping_interval_s,
            "silence_s": watchdog_s,
            "max_age_s": max_age_s,
            "backoff_base_s": backoff_base_s,
            "backoff_cap_s": backoff_cap_s,
        }
        self.timing = replace(
            timing or Timing(), **{k: float(v) for k, v in knobs.items() if v is not None}
        )
        self.clock = clock or wall_clock_ms
        self.health = HealthReporter(self.name, self.clock)
        self.connections = 0  # successful opens, for tests and logs
        self.reconnects = 0  # retries after a failure (liqbot_reconnects_total)
        # seams for tests that count reconnects over simulated time (no real waiting)
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.monotonic: Callable[[], float] = time.monotonic

    # ---- hooks --------------------------------------------------------------------------------
    async def prepare(self) -> None:
        """Before each connection (REST discovery); raising counts as an outage."""

    async def on_open(self, ws: ClientConnection) -> None:
        """Right after the connection opens (subscriptions)."""

    def ping_text(self) -> str | None:
        """Application-level keep-alive text sent every ping interval, if the venue wants one."""
        return None

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        raise NotImplementedError

    async def background(self) -> None:
        """A task living as long as one connection (periodic refreshes); never raises."""

    # ---- the loop ---------------------------------------------------------------------------
    async def run(self, sink: Sink) -> None:
        """Run until cancelled; every failure becomes an outage and a backoff, never a raise."""
        backoff = Backoff(
            self.timing.backoff_base_s,
            self.timing.backoff_cap_s,
            healthy_s=self.timing.healthy_s,
            clock=self.monotonic,
        )
        while True:
            try:
                await self._session(sink, backoff)
                continue  # planned reconnect (max age): straight back, no outage
            except asyncio.CancelledError:
                raise
            except Exception as e:  # every failure is an outage, classified once, here
                fault, reason = self._classify(e)
            self.health.down(sink, fault, reason)  # logged once per outage, by the health record
            self.reconnects += 1
            delay = backoff.next()
            log.debug("%s down: %s; retrying in %.1fs", self.name, reason, delay)
            await self.sleep(delay)

    def _classify(self, e: Exception) -> tuple[Fault, str]:
        """The Fault of a failed session, and the detail line the log shows."""
        match e:
            case SilentConnection():
                return Fault.STALE, str(e)
            case ConnectionClosed():
                return Fault.DISCONNECTED, (
                    f"connection closed ({e.rcvd.code if e.rcvd else 'no close frame'})"
                )
            case TimeoutError():  # before OSError, of which it is a subclass
                return Fault.TIMEOUT, f"cannot connect: {type(e).__name__}: {e}".rstrip(": ")
            case OSError():
                return Fault.CANNOT_CONNECT, f"cannot connect: {type(e).__name__}: {e}".rstrip(": ")
            case InvalidHandshake() | InvalidURI():
                return Fault.HANDSHAKE_REFUSED, f"websocket handshake failed: {e}"
            case FrameError():  # discovery answered with nothing usable
                return Fault.BAD_DATA, str(e)
        log.exception("%s: unexpected error", self.name, exc_info=e)  # a bug: still not fatal
        return Fault.UNEXPECTED, f"unexpected error: {type(e).__name__}"

    async def _session(self, sink: Sink, backoff: Backoff) -> None:
        await self.prepare()
        async with connect(
            self.url,
            open_timeout=self.timing.open_timeout_s,
            ping_interval=self.timing.ping_interval_s,  # protocol pings too: dead TCP is caught
            ping_timeout=min(self.timing.silence_s, 30.0),
            max_size=2**22,
            close_timeout=1,
        ) as ws:
            self.connections += 1
            backoff.opened()
            await self.on_open(ws)
            if self.up_on_open:
                self.health.up(sink)
            tasks = [asyncio.create_task(self.background())]
            if self.ping_text() is not None:
                tasks.append(asyncio.create_task(self._pinger(ws)))
            try:
                await self._read(ws, sink)
            finally:
                for t in tasks:
                    t.cancel()
                for t in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await t

    async def _read(self, ws: ClientConnection, sink: Sink) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timing.max_age_s
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.info("%s: reconnecting before the venue's connection age limit", self.name)
                return
            try:
                async with asyncio.timeout(min(self.timing.silence_s, remaining)):
                    frame = await ws.recv()
            except TimeoutError:
                if loop.time() >= deadline:
                    continue
                raise SilentConnection(
                    f"no data for {self.timing.silence_s:g}s (watchdog)"
                ) from None
            self.health.up(sink)  # any frame, pongs included, proves the link is alive
            self._handle(frame, sink)

    def _handle(self, frame: str | bytes, sink: Sink) -> None:
        try:
            events = self.parse(frame)
        except FrameError as e:
            self.health.skipped += 1
            if self.health.skipped <= 5 or self.health.skipped % 1000 == 0:
                log.warning("%s: skipped frame #%d: %s", self.name, self.health.skipped, e)
            events = []
        self.health.report_skipped(sink)  # parse() may count skipped details too (OKX)
        if events:
            _safe(sink.events, self.name, events)

    async def _pinger(self, ws: ClientConnection) -> None:
        text = self.ping_text()
        assert text is not None
        while True:
            await asyncio.sleep(self.timing.ping_interval_s)
            await ws.send(text)
