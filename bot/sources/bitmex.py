"""BitMEX: the `liquidation` table (every instrument, one subscription); no key.

Each `insert` is a new liquidation order. Contract values come from
`GET /api/v1/instrument/active` (inverse XBTUSD: 1 USD a contract; linear: coins per contract
× price); quanto and bitcoin-quoted contracts are skipped and counted (bot.domain.venues_bitmex).
BitMEX closes a connection idle for a while: send text `ping`, expect `pong`.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from websockets.asyncio.client import ClientConnection

from bot.domain.models import Liquidation
from bot.domain.venues_bitmex import BitmexContracts, bitmex_instruments, parse_bitmex
from bot.sources.connection import Clock, Timing
from bot.sources.sized_stream import SizedStreamSource

BITMEX_URL = "wss://ws.bitmex.com/realtime"
BITMEX_REST_URL = "https://www.bitmex.com"
BITMEX_TIMING = Timing(ping_interval_s=20.0, silence_s=60.0)


class BitmexSource(SizedStreamSource):
    name = "bitmex"
    instruments_path = "/api/v1/instrument/active"

    def __init__(
        self,
        url: str = BITMEX_URL,
        rest_url: str = BITMEX_REST_URL,
        timing: Timing | None = None,
        clock: Clock | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(url, rest_url, timing or BITMEX_TIMING, clock, **kw)
        self.contracts = BitmexContracts()

    def use_instruments(self, payload: Any) -> frozenset[str]:
        self.contracts = bitmex_instruments(payload)
        return self.contracts.listed_coins()

    def sized(self) -> bool:
        return bool(self.contracts.inverse_usd or self.contracts.linear_coins)

    async def on_open(self, ws: ClientConnection) -> None:
        await ws.send(json.dumps({"op": "subscribe", "args": ["liquidation"]}))

    def ping_text(self) -> str | None:
        return "ping"

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        skipped: Counter[str] = Counter()
        try:
            return parse_bitmex(frame, self.contracts, self.clock(), skipped)
        finally:
            if skipped:
                self.unknown.update(skipped)
                self.health.skipped += skipped.total()
                # a listed quanto contract gets no size from a refresh: ask only for new ones
                if any(s not in self.contracts.unpriced for s in skipped):
                    self._refresh_wanted.set()
