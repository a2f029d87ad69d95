"""A stream whose sizes come from the venue's instrument list over REST (Gate, BitMEX).

The list is fetched before each connection and refreshed hourly, or soon after a frame named an
instrument it does not size; until then that instrument's events are skipped and counted,
never guessed. Without any sizes at all the source is down: it could count nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from bot.domain.universe import CoinUniverse
from bot.sources.connection import Clock, Timing, WebSocketSource
from bot.sources.instruments import REFRESH_ERRORS, get_json, refresh_forever

log = logging.getLogger(__name__)


class SizedStreamSource(WebSocketSource):
    """Subclasses set `instruments_path` and implement `use_instruments` and `sized`."""

    instruments_path = ""

    def __init__(
        self,
        url: str,
        rest_url: str,
        timing: Timing,
        clock: Clock | None = None,
        universe: CoinUniverse | None = None,
        refresh_s: float = 3600.0,
        http_timeout_s: float = 10.0,
        **knobs: float | None,  # ping_interval_s, watchdog_s, max_age_s, backoff_*_s
    ) -> None:
        super().__init__(url, timing, clock, **knobs)
        self.rest_url = rest_url.rstrip("/")
        self.universe = universe
        self.refresh_s = refresh_s
        self.http_timeout_s = http_timeout_s
        self.unknown: Counter[str] = Counter()  # instrument -> events skipped for lack of size
        self._refresh_wanted = asyncio.Event()

    # ---- hooks --------------------------------------------------------------------------------
    def use_instruments(self, payload: Any) -> frozenset[str]:
        """Parse and keep the instrument list; return the coins it lists as trading."""
        raise NotImplementedError

    def sized(self) -> bool:
        """Whether any instrument size is known."""
        raise NotImplementedError

    # ---- shared -------------------------------------------------------------------------------
    async def refresh_instruments(self) -> None:
        body = await get_json(self.rest_url + self.instruments_path, None, self.http_timeout_s)
        coins = self.use_instruments(body)
        if self.universe is not None:
            self.universe.update(self.name, coins)

    async def prepare(self) -> None:
        try:
            await self.refresh_instruments()
        except REFRESH_ERRORS as e:
            if not self.sized():
                raise OSError(f"cannot list {self.name} instruments: {type(e).__name__}") from e
            log.warning("%s: instrument refresh failed (%s); keeping the last sizes", self.name, e)
        if not self.sized():
            raise OSError(f"{self.name} listed no contract sizes")

    async def background(self) -> None:
        await refresh_forever(
            self.name, self.refresh_instruments, self.refresh_s, self._refresh_wanted
        )

    def count_unknown(self, before: int) -> None:
        """After a parse: count what it skipped for lack of a size and ask for a refresh."""
        skipped = self.unknown.total() - before
        if skipped:
            self.health.skipped += skipped
            self._refresh_wanted.set()
