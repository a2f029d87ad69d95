"""Bitget futures (UTA v3 public stream): topic `liquidation` of every pair of the three
futures books, USDT-M, coin-M and USDC-M, on one connection; no key.

Bitget pushes at most the largest long and the largest short liquidation per pair per second,
so its sums are a floor. `amount` is the value in the quote coin for every book (USDT, USD for
coin-M, USDC), so no contract sizes are needed (docs/sources.md). Keep-alive: text `ping` every
25 s, answered by `pong`.
"""

from __future__ import annotations

import json

from websockets.asyncio.client import ClientConnection

from bot.domain.models import Liquidation
from bot.domain.venues_more import BITGET_INST_TYPES, parse_bitget
from bot.sources.connection import Clock, Timing, WebSocketSource

BITGET_URL = "wss://ws.bitget.com/v3/ws/public"
BITGET_TIMING = Timing(ping_interval_s=25.0, silence_s=75.0)


class BitgetSource(WebSocketSource):
    name = "bitget"

    def __init__(
        self,
        url: str = BITGET_URL,
        timing: Timing | None = None,
        clock: Clock | None = None,
        universe: object = None,  # no instrument list: the stream names its symbols
        **knobs: float | None,
    ) -> None:
        super().__init__(url, timing or BITGET_TIMING, clock, **knobs)

    async def on_open(self, ws: ClientConnection) -> None:
        args = [{"instType": t, "topic": "liquidation"} for t in BITGET_INST_TYPES]
        await ws.send(json.dumps({"op": "subscribe", "args": args}))

    def ping_text(self) -> str | None:
        return "ping"

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        return parse_bitget(frame)
