"""Binance COIN-M (dapi) all-market liquidation stream `!forceOrder@arr`; optional, no key.

Every frame of this stream is COIN-M: `z` counts contracts, USD = contracts × contractSize,
the size of each symbol from `GET /dapi/v1/exchangeInfo` (BTCUSD_PERP: 100, most others 10),
refreshed hourly and soon after an unknown symbol appears; until its size is known a symbol's
events are skipped and counted, never guessed. Its liquidations count as venue "binance".
"""

from __future__ import annotations

import logging

from bot.domain.models import Liquidation
from bot.domain.venues import parse_binance
from bot.sources.binance import BinanceSource
from bot.sources.instruments import REFRESH_ERRORS

log = logging.getLogger(__name__)

# The /public, /market, /private split is documented for USDⓈ-M (fstream); dstream keeps /ws.
BINANCE_COINM_URL = "wss://dstream.binance.com/ws/!forceOrder@arr"
BINANCE_COINM_REST_URL = "https://dapi.binance.com"


class BinanceCoinMSource(BinanceSource):
    name = "binance_coinm"
    venue = "binance"
    exchange_info_path = "/dapi/v1/exchangeInfo"
    default_url, default_rest_url = BINANCE_COINM_URL, BINANCE_COINM_REST_URL

    async def prepare(self) -> None:
        """Contract sizes are needed to count anything: without any, this is an outage."""
        try:
            await self.refresh_instruments()
        except REFRESH_ERRORS as e:
            if not self.instruments.sizes:
                raise OSError(f"cannot list COIN-M contracts: {type(e).__name__}") from e
            level = logging.DEBUG if self._info_failing else logging.WARNING  # once per spell
            self._info_failing = True
            log.log(
                level, "%s: exchangeInfo refresh failed (%s); keeping the last sizes", self.name, e
            )
        else:
            self._info_failing = False
        if not self.instruments.sizes:
            raise OSError("COIN-M exchangeInfo listed no contract sizes")

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        before = self.unknown.total()
        try:
            events = parse_binance(
                frame,
                self.instruments.coins or None,
                contract_usd=self.instruments.sizes,
                unknown=self.unknown,
            )
        finally:
            skipped = self.unknown.total() - before
            if skipped:
                self.health.skipped += skipped
                self._refresh_wanted.set()
        return events
