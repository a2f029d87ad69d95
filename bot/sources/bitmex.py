"""BitMEX: the `liquidation` table (every instrument) and `instrument:XBTUSD` (the bitcoin
price), one connection; no key.

A liquidation order counts the largest size it reached between its insert and its delete (the
order tracker lives as long as the source, across reconnects). Contract values come from
`GET /api/v1/instrument/active` (inverse XBTUSD: 1 USD a contract; linear: coins per contract ×
price; quanto and bitcoin-quoted ones: bitcoin × the XBTUSD price, from the list and then live
from the instrument table); bot.domain.venues_bitmex. BitMEX closes a connection idle for a
while: send text `ping`, expect `pong`.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from websockets.asyncio.client import ClientConnection

from bot.domain.models import Liquidation
from bot.domain.venues_bitmex import (
    XBT_PRICE_SYMBOL,
    BitmexContracts,
    BitmexOrders,
    bitmex_instruments,
    parse_bitmex,
)
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
        self.orders = BitmexOrders()  # orderID -> largest size counted; bounded

    def use_instruments(self, payload: Any) -> frozenset[str]:
        self.contracts = bitmex_instruments(payload)
        return self.contracts.listed_coins()

    def sized(self) -> bool:
        c = self.contracts
        return bool(c.inverse_usd or c.linear_coins or c.quanto_xbt or c.xbt_linear)

    async def on_open(self, ws: ClientConnection) -> None:
        args = ["liquidation", f"instrument:{XBT_PRICE_SYMBOL}"]
        await ws.send(json.dumps({"op": "subscribe", "args": args}))

    def ping_text(self) -> str | None:
        return "ping"

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        skipped: Counter[str] = Counter()
        try:
            return parse_bitmex(frame, self.contracts, self.clock(), skipped, self.orders)
        finally:
            if skipped:
                self.unknown.update(skipped)
                self.health.skipped += skipped.total()
                # an unlisted contract, or no bitcoin price yet: a refresh may bring it; a listed
                # EUR-quoted contract gets no value from one
                if any(s not in self.contracts.unpriced for s in skipped):
                    self._refresh_wanted.set()
