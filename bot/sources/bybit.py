"""Bybit v5 linear public stream: `allLiquidation.{symbol}` for every trading symbol; no key.

There is no wildcard topic, so the symbols come from the REST instruments list (paginated),
subscribed in batches on every (re)connect. Bybit wants `{"op":"ping"}` every 20 s.
"""

from __future__ import annotations

import json
import logging

import httpx
from websockets.asyncio.client import ClientConnection

from bot.domain.models import Liquidation
from bot.domain.venues import FrameError, bybit_symbols, parse_bybit
from bot.sources.connection import Clock, Timing, WebSocketSource

log = logging.getLogger(__name__)

BYBIT_URL = "wss://stream.bybit.com/v5/public/linear"
BYBIT_REST_URL = "https://api.bybit.com"
BYBIT_TIMING = Timing(ping_interval_s=20.0, silence_s=60.0)


class BybitSource(WebSocketSource):
    name = "bybit"

    def __init__(
        self,
        url: str = BYBIT_URL,
        rest_url: str = BYBIT_REST_URL,
        timing: Timing | None = None,
        clock: Clock | None = None,
        batch_size: int = 10,
        symbols: list[str] | None = None,  # a fixed list skips discovery
        http_timeout_s: float = 10.0,
        **knobs: float | None,  # ping_interval_s, watchdog_s, max_age_s, backoff_*_s
    ) -> None:
        super().__init__(url, timing or BYBIT_TIMING, clock, **knobs)
        self.rest_url = rest_url.rstrip("/")
        self.batch_size = batch_size
        self.fixed = symbols is not None
        self.symbols: list[str] = list(symbols or [])
        self.http_timeout_s = http_timeout_s

    async def prepare(self) -> None:
        """Refresh the symbol list; on failure keep the last one, or fail if there is none."""
        if self.fixed:
            return
        try:
            self.symbols = await self._discover()
        except (httpx.HTTPError, FrameError, ValueError) as e:
            if not self.symbols:
                raise OSError(f"cannot list Bybit instruments: {type(e).__name__}") from e
            log.warning("bybit: instrument refresh failed (%s); keeping %d", e, len(self.symbols))

    async def _discover(self) -> list[str]:
        found: list[str] = []
        cursor = ""
        async with httpx.AsyncClient(timeout=self.http_timeout_s) as client:
            for _ in range(100):  # pages; a cursor that never ends must not loop forever
                params = {"category": "linear", "limit": "1000"}
                if cursor:
                    params["cursor"] = cursor
                r = await client.get(f"{self.rest_url}/v5/market/instruments-info", params=params)
                r.raise_for_status()
                page, cursor = bybit_symbols(r.json())
                found.extend(page)
                if not cursor:
                    break
        if not found:
            raise FrameError("Bybit listed no trading symbols")
        return sorted(set(found))

    async def on_open(self, ws: ClientConnection) -> None:
        topics = [f"allLiquidation.{s}" for s in self.symbols]
        for i in range(0, len(topics), self.batch_size):
            args = topics[i : i + self.batch_size]
            await ws.send(json.dumps({"op": "subscribe", "args": args}))

    def ping_text(self) -> str | None:
        return '{"op":"ping"}'

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        return parse_bybit(frame)
