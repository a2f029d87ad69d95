"""OKX v5 public stream: `liquidation-orders` for SWAP and FUTURES; no key.

Sizes are in contracts, so contract values (ctVal) come from the REST instruments list,
refreshed periodically and whenever an unknown instrument shows up. OKX closes a connection
quiet for 30 s: send the text `ping` every ~20 s and expect `pong`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter

import httpx
from websockets.asyncio.client import ClientConnection

from bot.domain.models import Liquidation
from bot.domain.venues import FrameError, okx_ct_values, parse_okx
from bot.sources.connection import Clock, Timing, WebSocketSource

log = logging.getLogger(__name__)

OKX_URL = "wss://ws.okx.com:8443/ws/v5/public"
OKX_REST_URL = "https://www.okx.com"
OKX_TIMING = Timing(ping_interval_s=20.0, silence_s=60.0)


class OkxSource(WebSocketSource):
    name = "okx"

    def __init__(
        self,
        url: str = OKX_URL,
        rest_url: str = OKX_REST_URL,
        timing: Timing | None = None,
        clock: Clock | None = None,
        inst_types: tuple[str, ...] = ("SWAP", "FUTURES"),
        ct_refresh_s: float = 3600.0,
        http_timeout_s: float = 10.0,
        **knobs: float | None,  # ping_interval_s, watchdog_s, max_age_s, backoff_*_s
    ) -> None:
        super().__init__(url, timing or OKX_TIMING, clock, **knobs)
        self.rest_url = rest_url.rstrip("/")
        self.inst_types = inst_types
        self.ct_refresh_s = ct_refresh_s
        self.http_timeout_s = http_timeout_s
        self.ct_val: dict[str, float] = {}
        self.unknown: Counter[str] = Counter()  # instId -> details skipped for lack of ctVal
        self._refresh_wanted = asyncio.Event()

    async def prepare(self) -> None:
        try:
            await self.refresh_ct_values()
        except (httpx.HTTPError, FrameError, ValueError) as e:
            if not self.ct_val:
                raise OSError(f"cannot list OKX instruments: {type(e).__name__}") from e
            log.warning("okx: ctVal refresh failed (%s); keeping %d", e, len(self.ct_val))

    async def refresh_ct_values(self) -> None:
        fresh: dict[str, float] = {}
        async with httpx.AsyncClient(timeout=self.http_timeout_s) as client:
            for inst_type in self.inst_types:
                r = await client.get(
                    f"{self.rest_url}/api/v5/public/instruments", params={"instType": inst_type}
                )
                r.raise_for_status()
                fresh.update(okx_ct_values(r.json()))
        if not fresh:
            raise FrameError("OKX listed no instruments")
        self.ct_val = fresh

    async def background(self) -> None:
        """Refresh ctVal every ct_refresh_s, or soon after an unknown instrument appeared."""
        while True:
            try:
                async with asyncio.timeout(self.ct_refresh_s):
                    await self._refresh_wanted.wait()
            except TimeoutError:
                pass
            self._refresh_wanted.clear()
            try:
                await self.refresh_ct_values()
            except (httpx.HTTPError, FrameError, ValueError) as e:
                log.warning("okx: ctVal refresh failed: %s", e)
            await asyncio.sleep(min(60.0, self.ct_refresh_s))  # at most one refresh a minute

    async def on_open(self, ws: ClientConnection) -> None:
        args = [{"channel": "liquidation-orders", "instType": t} for t in self.inst_types]
        await ws.send(json.dumps({"op": "subscribe", "args": args}))

    def ping_text(self) -> str | None:
        return "ping"

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        before = self.unknown.total()
        events = parse_okx(frame, self.ct_val, self.unknown)
        skipped = self.unknown.total() - before
        if skipped:
            self.health.skipped += skipped
            self._refresh_wanted.set()
        return events
