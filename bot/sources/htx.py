"""HTX (Huobi) USDT-margined swaps: `public.*.liquidation_orders` on the notification stream.

No key. Frames are gzip-compressed; the server pings (`{"op":"ping","ts":..}`) every few seconds
and closes the link unless it hears `{"op":"pong","ts":..}` back, so this source answers every
ping (and the pings keep the silence watchdog fed). USD is the frame's `trade_turnover` (USDT).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bot.domain.frames import load_json
from bot.domain.models import Liquidation
from bot.domain.venues_more import htx_ping, htx_text, parse_htx_message
from bot.sources.connection import Clock, Timing, WebSocketSource

HTX_URL = "wss://api.hbdm.com/linear-swap-notification"
HTX_TIMING = Timing(ping_interval_s=20.0, silence_s=60.0)


class HtxSource(WebSocketSource):
    name = "htx"

    def __init__(
        self,
        url: str = HTX_URL,
        timing: Timing | None = None,
        clock: Clock | None = None,
        universe: object = None,  # no instrument list: USD comes with each frame
        **knobs: float | None,
    ) -> None:
        super().__init__(url, timing or HTX_TIMING, clock, **knobs)
        self._ws: ClientConnection | None = None
        self._replies: set[asyncio.Task[None]] = set()

    async def on_open(self, ws: ClientConnection) -> None:
        self._ws = ws
        topic = "public.*.liquidation_orders"
        await ws.send(json.dumps({"op": "sub", "cid": "liqbot", "topic": topic}))

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        msg = load_json(htx_text(frame))
        ts = htx_ping(msg)
        if ts is not None and self._ws is not None:
            task = asyncio.get_running_loop().create_task(self._pong(self._ws, ts))
            self._replies.add(task)  # keep a reference until it is sent
            task.add_done_callback(self._replies.discard)
        return parse_htx_message(msg)

    @staticmethod
    async def _pong(ws: ClientConnection, ts: object) -> None:
        with contextlib.suppress(ConnectionClosed):  # the read loop reports the closure
            await ws.send(json.dumps({"op": "pong", "ts": ts}))
