"""Pure parsers of CoinGlass v4 REST payloads (split from venues.py, which keeps the streams).

CoinGlass answers in an envelope {"code": "0", "msg": ..., "data": ...}; an error envelope raises
CoinGlassError, anything malformed FrameError. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.frames import FrameError, load_json, non_negative, timestamp_ms
from bot.domain.models import ALL, VenueSplit, WindowTotals


class CoinGlassError(FrameError):
    """A CoinGlass error envelope (`code` other than "0")."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"CoinGlass error {code}: {msg}")
        self.code = code
        self.msg = msg


# ---- CoinGlass v4 ----------------------------------------------------------------------------

COINGLASS_WINDOWS: dict[str, int] = {"1h": 60, "4h": 240, "12h": 720, "24h": 1440}


def coinglass_data(payload: str | bytes | Any) -> Any:
    """The `data` of a CoinGlass envelope; CoinGlassError for an error envelope."""
    msg = load_json(payload) if isinstance(payload, (str, bytes)) else payload
    if not isinstance(msg, dict) or "code" not in msg:
        raise FrameError("not a CoinGlass envelope")
    code = str(msg["code"])
    if code != "0":
        raise CoinGlassError(code, str(msg.get("msg", "")))
    if "data" not in msg:
        raise FrameError("CoinGlass envelope without data")
    return msg["data"]


def coinglass_coin_list(payload: str | bytes | Any) -> dict[tuple[str, int], WindowTotals]:
    """coin-list (one exchange): (coin, window minutes) -> totals, for 1h/4h/12h/24h."""
    data = coinglass_data(payload)
    if not isinstance(data, list):
        raise FrameError("CoinGlass coin-list: data is not a list")
    out: dict[tuple[str, int], WindowTotals] = {}
    for row in data:
        if not isinstance(row, dict) or not isinstance(row.get("symbol"), str):
            raise FrameError("CoinGlass coin-list: bad row")
        coin = row["symbol"].upper()
        for label, minutes in COINGLASS_WINDOWS.items():
            longs = non_negative(row.get(f"long_liquidation_usd_{label}"), "long USD")
            shorts = non_negative(row.get(f"short_liquidation_usd_{label}"), "short USD")
            out[(coin, minutes)] = WindowTotals(longs, shorts)
    return out


def coinglass_exchange_list(
    payload: str | bytes | Any,
) -> tuple[WindowTotals, tuple[VenueSplit, ...]]:
    """exchange-list (one coin, one range): the All row and per-venue splits, biggest first."""
    data = coinglass_data(payload)
    if not isinstance(data, list):
        raise FrameError("CoinGlass exchange-list: data is not a list")
    all_row: WindowTotals | None = None
    venues: list[VenueSplit] = []
    for row in data:
        if not isinstance(row, dict) or not isinstance(row.get("exchange"), str):
            raise FrameError("CoinGlass exchange-list: bad row")
        longs = non_negative(row.get("long_liquidation_usd"), "long USD")
        shorts = non_negative(row.get("short_liquidation_usd"), "short USD")
        name = row["exchange"]
        if name.upper() == ALL:
            all_row = WindowTotals(longs, shorts)
        else:
            venues.append(VenueSplit(name.lower(), longs, shorts))
    venues.sort(key=lambda v: v.total, reverse=True)
    if all_row is None:  # no All row: the venues are the whole answer
        all_row = WindowTotals(sum(v.longs for v in venues), sum(v.shorts for v in venues))
    return all_row, tuple(venues)


# ---- CoinGlass v4 history (charts and backtests) --------------------------------------------


@dataclass(frozen=True)
class HistoryPoint:
    """One CoinGlass history bucket: its start (ms, UTC) and the long/short USD liquidated."""

    time_ms: int
    longs: float
    shorts: float

    @property
    def total(self) -> float:
        return self.longs + self.shorts


def _coinglass_history(
    payload: str | bytes | Any, long_key: str, short_key: str, what: str
) -> list[HistoryPoint]:
    data = coinglass_data(payload)
    if not isinstance(data, list):
        raise FrameError(f"CoinGlass {what}: data is not a list")
    out: list[HistoryPoint] = []
    for row in data:
        if not isinstance(row, dict):
            raise FrameError(f"CoinGlass {what}: bad row")
        out.append(
            HistoryPoint(
                timestamp_ms(row.get("time")),
                non_negative(row.get(long_key), "long USD"),
                non_negative(row.get(short_key), "short USD"),
            )
        )
    out.sort(key=lambda p: p.time_ms)
    return out


def coinglass_aggregated_history(payload: str | bytes | Any) -> list[HistoryPoint]:
    """aggregated-history (one coin over an exchange list): buckets sorted by time.

    `time` in ms; `aggregated_long_liquidation_usd` / `aggregated_short_liquidation_usd` numbers.
    """
    return _coinglass_history(
        payload,
        "aggregated_long_liquidation_usd",
        "aggregated_short_liquidation_usd",
        "aggregated-history",
    )


def coinglass_pair_history(payload: str | bytes | Any) -> list[HistoryPoint]:
    """history (one pair on one exchange): buckets sorted by time; the USD values are strings."""
    return _coinglass_history(
        payload, "long_liquidation_usd", "short_liquidation_usd", "pair history"
    )
