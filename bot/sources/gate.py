"""Gate USDT-settled futures: channel `futures.public_liquidates` for every contract; no key.

Subscribed with `!all`. Since Gate's revision of 2026-08-20 every liquidation order of a
contract in a 1 s window is pushed, as one array (earlier: at most one a second). `size` is the
liquidation ORDER's signed quantity in contracts (negative = a sell = a long liquidated):
USD = |size| × quanto_multiplier × price, the multiplier from
`GET /api/v4/futures/usdt/contracts`. Keep-alive: `futures.ping`, answered by `futures.pong`.
Evidence: docs/sources.md ("More venues").
"""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import ClientConnection

from bot.domain.models import Liquidation
from bot.domain.venues import Instruments
from bot.domain.venues_more import gate_instruments, parse_gate
from bot.sources.connection import Clock, Timing
from bot.sources.sized_stream import SizedStreamSource

GATE_URL = "wss://fx-ws.gateio.ws/v4/ws/usdt"
GATE_REST_URL = "https://api.gateio.ws"
GATE_TIMING = Timing(ping_interval_s=15.0, silence_s=60.0)


class GateSource(SizedStreamSource):
    name = "gate"
    instruments_path = "/api/v4/futures/usdt/contracts"

    def __init__(
        self,
        url: str = GATE_URL,
        rest_url: str = GATE_REST_URL,
        timing: Timing | None = None,
        clock: Clock | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(url, rest_url, timing or GATE_TIMING, clock, **kw)
        self.instruments = Instruments()

    def use_instruments(self, payload: Any) -> frozenset[str]:
        self.instruments = gate_instruments(payload)
        return self.instruments.listed_coins()

    def sized(self) -> bool:
        return bool(self.instruments.sizes)

    async def on_open(self, ws: ClientConnection) -> None:
        await ws.send(
            json.dumps(
                {
                    "time": self.clock() // 1000,
                    "channel": "futures.public_liquidates",
                    "event": "subscribe",
                    "payload": ["!all"],
                }
            )
        )

    def ping_text(self) -> str | None:
        return json.dumps({"time": self.clock() // 1000, "channel": "futures.ping"})

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        before = self.unknown.total()
        try:
            return parse_gate(frame, self.instruments.sizes, self.unknown, self.instruments.coins)
        finally:
            self.count_unknown(before)
