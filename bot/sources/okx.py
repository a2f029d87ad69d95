"""OKX v5 public stream: `liquidation-orders` for SWAP and FUTURES; no key.

Sizes are in contracts, so contract values (ctVal) come from the REST instruments list,
refreshed periodically and whenever an unknown instrument shows up; the same list names each
instrument's coin (uly/instFamily, ctValCcy) and feeds the coin universe. OKX closes a connection
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
from bot.domain.universe import CoinUniverse
from bot.domain.venues import FrameError, Instruments, okx_instruments, parse_okx
from bot.sources.connection import Clock, Timing, WebSocketSource
from bot.sources.instruments import REFRESH_ERRORS, refresh_forever

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
        universe: CoinUniverse | None = None,
        **knobs: float | None,  # ping_interval_s, watchdog_s, max_age_s, backoff_*_s
    ) -> None:
        super().__init__(url, timing or OKX_TIMING, clock, **knobs)
        self.universe = universe
        self.coins: dict[str, str] = {}  # instId -> coin from the instruments list
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
        except REFRESH_ERRORS as e:
            if not self.ct_val:
                raise OSError(f"cannot list OKX instruments: {type(e).__name__}") from e
            log.warning("okx: ctVal refresh failed (%s); keeping %d", e, len(self.ct_val))

    async def refresh_ct_values(self) -> None:
        fresh = Instruments()
        async with httpx.AsyncClient(timeout=self.http_timeout_s) as client:
            for inst_type in self.inst_types:
                r = await client.get(
                    f"{self.rest_url}/api/v5/public/instruments", params={"instType": inst_type}
                )
                r.raise_for_status()
                fresh = fresh.merged(okx_instruments(r.json()))
        if not fresh.sizes:
            raise FrameError("OKX listed no instruments")
        self.ct_val, self.coins = fresh.sizes, fresh.coins
        if self.universe is not None:
            self.universe.update(self.name, fresh.listed_coins())

    async def background(self) -> None:
        """Refresh ctVal every ct_refresh_s, or soon after an unknown instrument appeared."""
        await refresh_forever(
            self.name, self.refresh_ct_values, self.ct_refresh_s, self._refresh_wanted
        )

    async def on_open(self, ws: ClientConnection) -> None:
        args = [{"channel": "liquidation-orders", "instType": t} for t in self.inst_types]
        await ws.send(json.dumps({"op": "subscribe", "args": args}))

    def ping_text(self) -> str | None:
        return "ping"

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        before = self.unknown.total()
        events = parse_okx(frame, self.ct_val, self.unknown, self.coins or None)
        skipped = self.unknown.total() - before
        if skipped:
            self.health.skipped += skipped
            self._refresh_wanted.set()
        return events
