"""Binance USDⓈ-M (or COIN-M) all-market liquidation stream `!forceOrder@arr`; no key needed.

Binance pushes at most one liquidation per symbol per second, so its sums are a floor. The
server pings every 3 minutes and websockets answers by itself; connections live at most 24 h.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.models import Liquidation
from bot.domain.venues import parse_binance
from bot.sources.connection import Clock, Timing, WebSocketSource

BINANCE_URL = "wss://fstream.binance.com/market/ws/!forceOrder@arr"
# A quiet market can leave the all-market stream silent for a while: be patient before
# calling it dead (protocol pings still catch a dead TCP link sooner).
BINANCE_TIMING = Timing(ping_interval_s=60.0, silence_s=600.0)


class BinanceSource(WebSocketSource):
    name = "binance"
    up_on_open = True  # no ack to wait for; a quiet market may send nothing for minutes

    def __init__(
        self,
        url: str = BINANCE_URL,
        timing: Timing | None = None,
        clock: Clock | None = None,
        contract_usd: Mapping[str, float] | None = None,  # COIN-M contract sizes by coin
        **knobs: float | None,  # ping_interval_s, watchdog_s, max_age_s, backoff_*_s
    ) -> None:
        super().__init__(url, timing or BINANCE_TIMING, clock, **knobs)
        self.contract_usd = contract_usd

    def parse(self, frame: str | bytes) -> list[Liquidation]:
        return parse_binance(frame, self.contract_usd)
