"""The sources the config asks for: the venue streams (each off by its `enabled`), CoinGlass
when its key is set, or the replay standing for the whole market."""

from __future__ import annotations

from typing import Any

from bot.config import Config, Secrets
from bot.domain.universe import CoinUniverse
from bot.runtime.clock import Clock
from bot.sources.binance import BinanceSource
from bot.sources.binance_coinm import BinanceCoinMSource
from bot.sources.bitget import BitgetSource
from bot.sources.bitmex import BitmexSource
from bot.sources.bybit import BybitInverseSource, BybitSource
from bot.sources.coinglass import CoinGlassSource
from bot.sources.deribit import DeribitSource
from bot.sources.gate import GateSource
from bot.sources.htx import HtxSource
from bot.sources.okx import OkxSource
from bot.sources.replay import ReplaySource


def build_sources(
    config: Config, secrets: Secrets, clock: Clock, universe: CoinUniverse | None = None
) -> list[Any]:
    src = config.sources
    if src.replay.enabled:  # a replay stands for the market: live feeds stay off
        return [ReplaySource(src.replay.url, clock)]
    out: list[Any] = []
    common: dict[str, Any] = {"clock": clock.now_ms}
    streams = (
        (BinanceSource, src.binance),
        (BinanceCoinMSource, src.binance_coinm),
        (BybitSource, src.bybit),
        (BybitInverseSource, src.bybit_inverse),
        (OkxSource, src.okx),
        (GateSource, src.gate),
        (BitgetSource, src.bitget),
        (BitmexSource, src.bitmex),
        (HtxSource, src.htx),
        (DeribitSource, src.deribit),
    )
    for cls, cfg in streams:
        if cfg.enabled:
            urls: dict[str, Any] = {"url": cfg.url} | (
                {"rest_url": cfg.rest_url} if cfg.rest_url else {}
            )
            out.append(
                cls(
                    **urls,
                    watchdog_s=cfg.watchdog,
                    max_age_s=cfg.max_age,
                    universe=universe,
                    **common,
                )
            )
    if src.coinglass.enabled and secrets.coinglass_key:
        out.append(
            CoinGlassSource(
                api_key=secrets.coinglass_key.get_secret_value(),
                base_url=src.coinglass.endpoint,
                coins=src.coinglass.coins,
                exchanges=src.coinglass.exchanges,
                poll_interval_s=src.coinglass.poll,
                **common,
            )
        )
    return out
