"""Deribit: trades flagged as liquidations, on the futures trade channels; no key.

Subscribes `trades.future.{BTC,ETH,USDC}.100ms` (every perpetual and dated future of the
bitcoin, ether and USDC-settled books); only trades carrying `liquidation` (T, M or MT) count.
Keep-alive: `public/test` every 20 s, answered with a result.
"""

from __future__ import annotations

import json

from websockets.asyncio.client import ClientConnection

from bot.domain.models import Liquidation
from bot.domain.venues_more import parse_deribit
from bot.sources.connection import Clock, Timing, WebSocketSource

DERIBIT_URL = "wss://www.deribit.com/ws/api/v2"
DERIBIT_TIMING = Timing(ping_interval_s=20.0, silence_s=60.0)
DERIBIT_CHANNELS = (
    "trades.future.BTC.100ms",
    "trades.future.ETH.100ms",
    "trades.future.USDC.100ms",
)


class DeribitSource(WebSocketSource):
    name = "deribit"

    def __init__(
        self,
        url: str = DERIBIT_URL,
        timing: Timing | None = None,
        clock: Clock | None = None,
        universe: object = None,  # no instrument list: amounts are USD (inverse) or coins
        channels: tuple[str, ...] = DERIBIT_CHANNELS,
        **knobs: float | None,
    ) -> None:
        super().__init__(url, timing or DERIBIT_TIMING, clock, **knobs)
        self.channels = channels

    async def on_open(self, ws: ClientConnection) -> None:
        await ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "public/subscribe",
                    "params": {"channels": list(self.channels)},
                }
            )
        )

    def ping_text(self) -> str | None:
        return '{"jsonrpc":"2.0","id":0,"method":"public/test","params":{}}'

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        return parse_deribit(frame)
