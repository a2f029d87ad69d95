"""Binance USDⓈ-M all-market liquidation stream `!forceOrder@arr`; no key needed.

Binance pushes at most one liquidation per symbol per second, so its sums are a floor. The
server pings every 3 minutes and websockets answers by itself; connections live at most 24 h.
The stream says which market it is: every frame here is USDⓈ-M (USD = z × ap), whatever fields
it carries (`ps`, `st`) and whatever its symbol looks like (`BTCUSDT_210924`). COIN-M is its
own source (bot.sources.binance_coinm). Coins come from `GET /fapi/v1/exchangeInfo` (baseAsset),
refreshed hourly; the stream does not need it, so a failed refresh only logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from bot.domain.models import Liquidation
from bot.domain.universe import CoinUniverse
from bot.domain.venues import Instruments, binance_instruments, parse_binance
from bot.sources.connection import Clock, Timing, WebSocketSource
from bot.sources.instruments import REFRESH_ERRORS, get_json, refresh_forever

log = logging.getLogger(__name__)

BINANCE_URL = "wss://fstream.binance.com/market/ws/!forceOrder@arr"
BINANCE_REST_URL = "https://fapi.binance.com"
# A quiet market can leave the all-market stream silent for a while: be patient before
# calling it dead (protocol pings still catch a dead TCP link sooner).
BINANCE_TIMING = Timing(ping_interval_s=60.0, silence_s=600.0)


class BinanceSource(WebSocketSource):
    name = "binance"
    venue = "binance"  # the venue its liquidations count for in the aggregates
    up_on_open = True  # no ack to wait for; a quiet market may send nothing for minutes
    exchange_info_path = "/fapi/v1/exchangeInfo"
    default_url, default_rest_url = BINANCE_URL, BINANCE_REST_URL

    def __init__(
        self,
        url: str | None = None,
        rest_url: str | None = None,
        timing: Timing | None = None,
        clock: Clock | None = None,
        universe: CoinUniverse | None = None,
        refresh_s: float = 3600.0,
        http_timeout_s: float = 10.0,
        **knobs: float | None,  # ping_interval_s, watchdog_s, max_age_s, backoff_*_s
    ) -> None:
        super().__init__(url or self.default_url, timing or BINANCE_TIMING, clock, **knobs)
        self.rest_url = (rest_url or self.default_rest_url).rstrip("/")
        self.universe = universe
        self.refresh_s = refresh_s
        self.http_timeout_s = http_timeout_s
        self.instruments = Instruments()
        self.unknown: Counter[str] = Counter()  # symbol -> frames skipped (COIN-M: no size)
        self._refresh_wanted = asyncio.Event()
        self._info_failing = False

    async def prepare(self) -> None:
        try:
            await self.refresh_instruments()
        except REFRESH_ERRORS as e:
            # once per failing spell, not once per reconnect attempt while offline
            level = logging.DEBUG if self._info_failing else logging.WARNING
            self._info_failing = True
            log.log(
                level,
                "%s: exchangeInfo failed (%s); coins from symbol names until it answers",
                self.name,
                e,
            )
            return
        if self._info_failing:
            self._info_failing = False
            log.info("%s: exchangeInfo answers again", self.name)

    async def refresh_instruments(self) -> None:
        body = await get_json(self.rest_url + self.exchange_info_path, None, self.http_timeout_s)
        self.instruments = binance_instruments(body)
        if self.universe is not None:
            self.universe.update(self.name, self.instruments.listed_coins())

    async def background(self) -> None:
        await refresh_forever(
            self.name, self.refresh_instruments, self.refresh_s, self._refresh_wanted
        )

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        return parse_binance(frame, self.instruments.coins or None)
