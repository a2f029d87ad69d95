"""`sources:`: the streamed venues, CoinGlass and the replay."""

from __future__ import annotations

from pathlib import Path

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
)

from bot.config.base import Duration, Strict
from bot.domain.event_checks import DEFAULT_MAX_EVENT_USD


class StreamSource(Strict):
    enabled: bool = True
    url: str
    rest_url: str = ""
    watchdog: Duration = 90  # an open connection silent this long is reconnected
    max_age: Duration = 23 * 3600  # reconnect before the venue's 24 h limit


class BinanceConfig(StreamSource):
    url: str = "wss://fstream.binance.com/market/ws/!forceOrder@arr"
    rest_url: str = "https://fapi.binance.com"  # exchangeInfo: the coins listed
    watchdog: Duration = 600  # no keep-alive frames: a quiet market is silence, not an outage


class BinanceCoinMConfig(StreamSource):
    enabled: bool = False  # COIN-M (coin-margined) contracts: optional
    url: str = "wss://dstream.binance.com/ws/!forceOrder@arr"
    rest_url: str = "https://dapi.binance.com"  # exchangeInfo: contract sizes
    watchdog: Duration = 600


class BybitConfig(StreamSource):
    url: str = "wss://stream.bybit.com/v5/public/linear"
    rest_url: str = "https://api.bybit.com"


class BybitInverseConfig(StreamSource):
    # inverse contracts (BTCUSD, ETHUSD, BTCUSDH25): sized in 1-USD contracts; counts as bybit
    url: str = "wss://stream.bybit.com/v5/public/inverse"
    rest_url: str = "https://api.bybit.com"  # instruments-info?category=inverse


class OkxConfig(StreamSource):
    url: str = "wss://ws.okx.com:8443/ws/v5/public"
    rest_url: str = "https://www.okx.com"


class GateConfig(StreamSource):
    # `size` is the liquidation order's signed quantity (Gate's docs, 2026-08-20; docs/sources.md)
    url: str = "wss://fx-ws.gateio.ws/v4/ws/usdt"
    rest_url: str = "https://api.gateio.ws"  # contracts: quanto_multiplier


class BitgetConfig(StreamSource):
    url: str = "wss://ws.bitget.com/v3/ws/public"


class BitmexConfig(StreamSource):
    url: str = "wss://ws.bitmex.com/realtime"
    rest_url: str = "https://www.bitmex.com"  # instrument/active: contract values


class HtxConfig(StreamSource):
    url: str = "wss://api.hbdm.com/linear-swap-notification"


class DeribitConfig(StreamSource):
    url: str = "wss://www.deribit.com/ws/api/v2"


class CoinGlassSource(Strict):
    enabled: bool = True  # still off without COINGLASS_API_KEY
    url: str = "https://open-api-v4.coinglass.com"
    base_url: str = ""  # alias of url, the name used in DESIGN.md
    poll: Duration = 60
    coins: tuple[str, ...] = ("BTC", "ETH", "SOL", "XRP", "DOGE", "BNB")
    # the exchanges coin-list is asked for (one call each per poll): list more to compare the
    # streams against more of the market (/liqs compare); CoinGlass's own exchange names
    exchanges: tuple[str, ...] = Field(("Binance", "OKX", "Bybit"), min_length=1)

    @property
    def endpoint(self) -> str:
        return self.base_url or self.url


class ReplaySource(Strict):
    enabled: bool = False
    url: str = "demo"  # a JSONL file of events, or "demo" for the bundled synthetic cascade
    speed: float = Field(60, gt=0, le=100_000)  # market seconds per real second

    @field_validator("url")
    @classmethod
    def _file_exists(cls, v: str, info: ValidationInfo) -> str:
        # checked here, with every other error, rather than as a crash once the service runs
        if info.data.get("enabled") and v != "demo" and not Path(v).expanduser().is_file():
            raise ValueError(f"replay file not found: {v}")
        return v


class SourcesConfig(Strict):
    binance: BinanceConfig = BinanceConfig()
    binance_coinm: BinanceCoinMConfig = BinanceCoinMConfig()
    bybit: BybitConfig = BybitConfig()
    bybit_inverse: BybitInverseConfig = BybitInverseConfig()
    okx: OkxConfig = OkxConfig()
    gate: GateConfig = GateConfig()
    bitget: BitgetConfig = BitgetConfig()
    bitmex: BitmexConfig = BitmexConfig()
    htx: HtxConfig = HtxConfig()
    deribit: DeribitConfig = DeribitConfig()
    coinglass: CoinGlassSource = CoinGlassSource()
    replay: ReplaySource = ReplaySource()
    # an event above this USD amount is rejected and counted (bot.domain.event_checks says why
    # this default: 5x the largest single liquidation reported, far below the record day)
    max_event_usd: float = Field(DEFAULT_MAX_EVENT_USD, gt=0)
    # coins no instrument list names: a bounded budget (bot.domain.unknown_coins says why)
    unknown_coins_max: int = Field(500, ge=0)
    unknown_coin_quiet: Duration = 25 * 3600  # longer than the longest window (24 h)
