"""Bybit v5 public streams: `allLiquidation.{symbol}` for every trading symbol; no key.

Two books, two sources: `bybit` reads `/v5/public/linear` (USDT and USDC contracts) and
`bybit_inverse` reads `/v5/public/inverse` (BTCUSD, ETHUSD, inverse futures like BTCUSDH25);
both count as venue "bybit", each with its own health record. The stream decides how a frame is
sized (linear: v coins × p; inverse: v contracts of 1 USD), never the symbol.

There is no wildcard topic, so the symbols come from the REST instruments list of the source's
category (paginated), subscribed in batches on every (re)connect; the list is refreshed hourly
(new listings are subscribed on the open connection) and feeds the coin universe (baseCoin:
SHIB1000 → SHIB). Bybit wants `{"op":"ping"}` every 20 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bot.domain.models import Liquidation
from bot.domain.universe import CoinUniverse
from bot.domain.venues import FrameError, Instruments, bybit_instruments, parse_bybit
from bot.sources.connection import Clock, Timing, WebSocketSource
from bot.sources.instruments import REFRESH_ERRORS, refresh_forever

log = logging.getLogger(__name__)

BYBIT_URL = "wss://stream.bybit.com/v5/public/linear"
BYBIT_INVERSE_URL = "wss://stream.bybit.com/v5/public/inverse"
BYBIT_REST_URL = "https://api.bybit.com"
BYBIT_TIMING = Timing(ping_interval_s=20.0, silence_s=60.0)


class BybitSource(WebSocketSource):
    name = "bybit"
    venue = "bybit"  # the venue its liquidations count for in the aggregates
    category = "linear"  # instruments-info `category`: the book this stream carries
    inverse = False  # how its frames are sized: the stream decides, never the symbol
    default_url = BYBIT_URL

    def __init__(
        self,
        url: str | None = None,
        rest_url: str = BYBIT_REST_URL,
        timing: Timing | None = None,
        clock: Clock | None = None,
        batch_size: int = 10,
        symbols: list[str] | None = None,  # a fixed list skips discovery
        http_timeout_s: float = 10.0,
        universe: CoinUniverse | None = None,
        refresh_s: float = 3600.0,
        **knobs: float | None,  # ping_interval_s, watchdog_s, max_age_s, backoff_*_s
    ) -> None:
        super().__init__(url or self.default_url, timing or BYBIT_TIMING, clock, **knobs)
        self.rest_url = rest_url.rstrip("/")
        self.batch_size = batch_size
        self.fixed = symbols is not None
        self.symbols: list[str] = list(symbols or [])
        self.http_timeout_s = http_timeout_s
        self.universe = universe
        self.refresh_s = refresh_s
        self.coins: dict[str, str] = {}  # symbol -> coin from baseCoin
        self._ws: ClientConnection | None = None
        self._subscribed: set[str] = set()

    async def prepare(self) -> None:
        """Refresh the symbol list; on failure keep the last one, or fail if there is none."""
        if self.fixed:
            return
        try:
            await self.refresh_instruments()
        except REFRESH_ERRORS as e:
            if not self.symbols:
                raise OSError(f"cannot list Bybit instruments: {type(e).__name__}") from e
            log.warning(
                "%s: instrument refresh failed (%s); keeping %d", self.name, e, len(self.symbols)
            )

    async def refresh_instruments(self) -> None:
        found = await self._discover()
        self.symbols = sorted(found.trading)
        self.coins = found.coins
        if self.universe is not None:
            self.universe.update(self.name, found.listed_coins())
        ws = self._ws
        new = [s for s in self.symbols if s not in self._subscribed]
        if ws is not None and new:  # a listing since we connected: subscribe it now
            with contextlib.suppress(ConnectionClosed):  # the read loop reports the closure
                await self._subscribe(ws, new)

    async def background(self) -> None:
        """Lives as long as one connection: refresh the instruments hourly."""
        try:
            if self.fixed:
                await asyncio.Event().wait()
            await refresh_forever(
                self.name, self.refresh_instruments, self.refresh_s, asyncio.Event()
            )
        finally:
            self._ws = None  # the next refresh must not send on a closed connection

    async def _discover(self) -> Instruments:
        found = Instruments()
        cursor = ""
        async with httpx.AsyncClient(timeout=self.http_timeout_s) as client:
            for _ in range(100):  # pages; a cursor that never ends must not loop forever
                params = {"category": self.category, "limit": "1000"}
                if cursor:
                    params["cursor"] = cursor
                r = await client.get(f"{self.rest_url}/v5/market/instruments-info", params=params)
                r.raise_for_status()
                page, cursor = bybit_instruments(r.json())
                found = found.merged(page)
                if not cursor:
                    break
        if not found.trading:
            raise FrameError(f"Bybit listed no trading {self.category} symbols")
        return found

    async def on_open(self, ws: ClientConnection) -> None:
        self._ws, self._subscribed = ws, set()
        await self._subscribe(ws, self.symbols)

    async def _subscribe(self, ws: ClientConnection, symbols: list[str]) -> None:
        topics = [f"allLiquidation.{s}" for s in symbols]
        for i in range(0, len(topics), self.batch_size):
            args = topics[i : i + self.batch_size]
            await ws.send(json.dumps({"op": "subscribe", "args": args}))
        self._subscribed.update(symbols)

    def ping_text(self) -> str | None:
        return '{"op":"ping"}'

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        return parse_bybit(frame, self.coins or None, inverse=self.inverse)


class BybitInverseSource(BybitSource):
    """`/v5/public/inverse`: every frame is inverse, sized in 1-USD contracts (USD = v)."""

    name = "bybit_inverse"
    venue = "bybit"
    category = "inverse"
    inverse = True
    default_url = BYBIT_INVERSE_URL
