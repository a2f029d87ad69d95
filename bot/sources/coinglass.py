"""CoinGlass v4 REST (keyed): liquidation totals per coin and venue for 1h/4h/12h/24h.

Polled by the scheduler (`await poll_once(sink)`). coin-list (Startup plan and up) gives every
coin of one exchange in one call; where the plan refuses it, exchange-list (every plan) is asked
per configured coin and range. exchange-list has no market-wide row, so ALL is then the sum of
the configured coins, pushed with a coverage note that every answer shows beside the source
("All coins = BTC+ETH+… only"): never a market-wide $0. A poll pushes totals only when every
request of it succeeded: missing data must never look like zero. The API key travels in a
header and is never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from bot.domain.coinglass_payloads import (
    COINGLASS_WINDOWS,
    CoinGlassError,
    HistoryPoint,
    coinglass_aggregated_history,
    coinglass_coin_list,
    coinglass_data,
    coinglass_exchange_list,
)
from bot.domain.frames import FrameError
from bot.domain.models import ALL, VenueSplit, WindowTotals
from bot.domain.source_fault import Fault
from bot.sources.base import Sink
from bot.sources.connection import Clock, HealthReporter, wall_clock_ms

log = logging.getLogger(__name__)

COINGLASS_URL = "https://open-api-v4.coinglass.com"
_PLAN_WORDS = re.compile(r"plan|upgrade|permission|not available|subscri", re.I)


# history intervals CoinGlass accepts (smaller plans refuse the short ones: Hobbyist >= 4h,
# Startup >= 30m; that refusal comes back as an error envelope)
HISTORY_INTERVALS: tuple[str, ...] = (
    "1m", "3m", "5m", "15m", "30m", "1h", "4h", "6h", "8h", "12h", "1d", "1w",
)  # fmt: skip
HISTORY_MAX_LIMIT = 1000


class CoinGlassAPIError(Exception):
    """A CoinGlass request that gave no usable data; the message names the cause, never the key."""


class AuthError(CoinGlassAPIError):
    def __init__(
        self, reason: str = "CoinGlass rejected the API key (401); check COINGLASS_API_KEY"
    ) -> None:
        super().__init__(reason)


class RateLimited(CoinGlassAPIError):
    def __init__(
        self, retry_after_s: float | None, reason: str = "rate limited by CoinGlass (429)"
    ) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class HistoryError(CoinGlassAPIError):
    """History could not be fetched: error envelope, malformed answer, HTTP or network failure."""


class CoinGlassSource:
    name = "coinglass"

    def __init__(
        self,
        api_key: str,
        base_url: str = COINGLASS_URL,
        coins: Iterable[str] = ("BTC", "ETH", "SOL", "XRP", "DOGE"),
        exchanges: Iterable[str] = ("Binance", "OKX", "Bybit"),
        clock: Clock | None = None,
        timeout_s: float = 10.0,
        poll_interval_s: float = 60.0,
        auth_pause_s: float = 900.0,  # a rejected key is re-tried this rarely
        rate_pause_s: float = 60.0,  # after a 429 without Retry-After
        budget_ratio: float = 0.8,  # pause once this share of the per-minute budget is used
        use_coin_list: bool = True,
    ) -> None:
        self._key = api_key
        self.base_url = base_url.rstrip("/")
        self.coins = tuple(c.upper() for c in coins)
        self.exchanges = tuple(exchanges)
        self.clock = clock or wall_clock_ms
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self.auth_pause_s = auth_pause_s
        self.rate_pause_s = rate_pause_s
        self.budget_ratio = budget_ratio
        self.use_coin_list = use_coin_list
        self.health = HealthReporter(self.name, self.clock)
        self.paused_until_ms = 0
        self.requests = 0
        self.max_limit: int | None = None  # API-KEY-MAX-LIMIT, per minute
        self.use_limit: int | None = None  # API-KEY-USE-LIMIT
        self._auth_logged = False
        self._client: httpx.AsyncClient | None = None
        # sees every accepted answer (path, params, decoded body): the recorder of
        # bench/compare_coinglass.py keeps them to replay CoinGlass beside the streams
        self.on_answer: Callable[[str, dict[str, str], Any], None] | None = None

    async def run(self, sink: Sink) -> None:
        """Poll forever on our own timer (the scheduler may call poll_once instead)."""
        try:
            while True:
                await self.poll_once(sink)
                await asyncio.sleep(self.poll_interval_s)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def poll_once(self, sink: Sink) -> bool:
        """One poll; True when totals were pushed. Never raises (except cancellation)."""
        now = self.clock()
        if now < self.paused_until_ms:
            return False  # backing off (bad key or rate limit): the outage is already reported
        try:
            totals, venues = await self._fetch()
        except asyncio.CancelledError:
            raise
        except AuthError:
            if not self._auth_logged:
                log.error("CoinGlass rejected the API key (401); check COINGLASS_API_KEY")
                self._auth_logged = True
            self.paused_until_ms = now + int(self.auth_pause_s * 1000)
            self.health.down(sink, Fault.AUTH_REJECTED, "CoinGlass rejected the API key")
            return False
        except RateLimited as e:
            pause = e.retry_after_s if e.retry_after_s is not None else self.rate_pause_s
            self.paused_until_ms = now + int(pause * 1000)
            self.health.down(sink, Fault.RATE_LIMITED, str(e))
            log.debug("coinglass: 429, pausing %.0fs", pause)  # the outage is logged once, as down
            return False
        except CoinGlassError as e:
            self.health.down(
                sink, Fault.API_ERROR, self._clean(f"CoinGlass error {e.code}: {e.msg}")
            )
            return False
        except FrameError as e:
            self.health.skipped += 1
            self.health.report_skipped(sink)
            self.health.down(sink, Fault.BAD_DATA, self._clean(f"malformed CoinGlass answer: {e}"))
            return False
        except httpx.TimeoutException:
            self.health.down(sink, Fault.TIMEOUT, "CoinGlass timed out")
            return False
        except httpx.HTTPStatusError as e:
            self.health.down(sink, Fault.HTTP_ERROR, f"CoinGlass HTTP {e.response.status_code}")
            return False
        except (httpx.HTTPError, OSError) as e:
            self.health.down(
                sink,
                Fault.CANNOT_CONNECT,
                self._clean(f"cannot reach CoinGlass: {type(e).__name__}"),
            )
            return False
        self._auth_logged = False
        self.health.up(sink)
        sink.totals(self.name, self.clock(), totals, venues, coverage=self.coverage())
        return True

    def coverage(self) -> str:
        """What ALL covers: the whole market with coin-list, else only the configured coins."""
        if self.use_coin_list:
            return ""
        return (
            f"All coins = {'+'.join(self.coins)} only: market-wide totals need CoinGlass coin-list"
        )

    # ---- history (charts and backtests) -------------------------------------------------------

    async def history(
        self,
        coin: str,
        interval: str = "1h",
        limit: int = 168,
        exchanges: Iterable[str] | None = None,
    ) -> list[HistoryPoint]:
        """Liquidation history of one coin aggregated over `exchanges`, oldest bucket first.

        ValueError for a bad interval, limit or coin (before any request). AuthError (401),
        RateLimited (429 or our own budget pause) or HistoryError otherwise: all or nothing.
        """
        if interval not in HISTORY_INTERVALS:
            raise ValueError(
                f"interval {interval!r} is not one CoinGlass serves; use one of "
                + " ".join(HISTORY_INTERVALS)
            )
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise ValueError(f"limit must be a whole number, not {limit!r}")
        if not 1 <= limit <= HISTORY_MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {HISTORY_MAX_LIMIT}, not {limit}")
        symbol = coin.strip().upper()
        if not symbol or symbol == ALL:
            raise ValueError("history needs one coin (like BTC), not all coins")
        venues = tuple(exchanges) if exchanges is not None else self.exchanges
        if not venues:
            raise ValueError("history needs at least one exchange")
        params = {
            "exchange_list": ",".join(venues),
            "symbol": symbol,
            "interval": interval,
            "limit": str(limit),
        }
        try:
            body = await self._get("/api/futures/liquidation/aggregated-history", params)
            return coinglass_aggregated_history(body)
        except (AuthError, RateLimited):
            raise
        except CoinGlassError as e:
            raise HistoryError(self._clean(f"CoinGlass error {e.code}: {e.msg}")) from None
        except FrameError as e:
            raise HistoryError(self._clean(f"malformed CoinGlass answer: {e}")) from None
        except httpx.TimeoutException:
            raise HistoryError("CoinGlass timed out") from None
        except httpx.HTTPStatusError as e:
            raise HistoryError(f"CoinGlass HTTP {e.response.status_code}") from None
        except (httpx.HTTPError, OSError) as e:
            raise HistoryError(self._clean(f"cannot reach CoinGlass: {type(e).__name__}")) from None

    # ---- fetching ----------------------------------------------------------------------------

    async def _fetch(
        self,
    ) -> tuple[dict[tuple[str, int], WindowTotals], dict[tuple[str, int], tuple[VenueSplit, ...]]]:
        if self.use_coin_list:
            try:
                return await self._fetch_coin_lists()
            except CoinGlassError as e:
                if e.code != "403" and not _PLAN_WORDS.search(e.msg):
                    raise
                log.warning(
                    "coinglass: coin-list not in this plan (%s); using exchange-list", e.msg
                )
                self.use_coin_list = False
        return await self._fetch_exchange_lists()

    async def _fetch_coin_lists(self):
        per_venue: dict[tuple[str, int], list[VenueSplit]] = {}
        totals: dict[tuple[str, int], WindowTotals] = {}
        for exchange in self.exchanges:
            body = await self._get("/api/futures/liquidation/coin-list", {"exchange": exchange})
            for key, t in coinglass_coin_list(body).items():
                per_venue.setdefault(key, []).append(
                    VenueSplit(exchange.lower(), t.longs, t.shorts)
                )
        for w in COINGLASS_WINDOWS.values():  # ALL: the sum of every coin listed
            per_venue.setdefault((ALL, w), [])
        for key, splits in per_venue.items():
            if key[0] != ALL:
                for s in splits:
                    all_splits = per_venue[(ALL, key[1])]
                    _add_split(all_splits, s)
        venues: dict[tuple[str, int], tuple[VenueSplit, ...]] = {}
        for key, splits in per_venue.items():
            splits.sort(key=lambda v: v.total, reverse=True)
            venues[key] = tuple(splits)
            totals[key] = WindowTotals(sum(s.longs for s in splits), sum(s.shorts for s in splits))
        return totals, venues

    async def _fetch_exchange_lists(self):
        """Per configured coin and range; ALL is their sum (labelled by coverage())."""
        totals: dict[tuple[str, int], WindowTotals] = {}
        venues: dict[tuple[str, int], tuple[VenueSplit, ...]] = {}
        for coin in self.coins:
            for label, minutes in COINGLASS_WINDOWS.items():
                body = await self._get(
                    "/api/futures/liquidation/exchange-list", {"symbol": coin, "range": label}
                )
                totals[(coin, minutes)], venues[(coin, minutes)] = coinglass_exchange_list(body)
        for minutes in COINGLASS_WINDOWS.values():
            rows = [totals[(c, minutes)] for c in self.coins if c != ALL]
            totals[(ALL, minutes)] = WindowTotals(
                sum(t.longs for t in rows), sum(t.shorts for t in rows)
            )
            splits: list[VenueSplit] = []
            for c in self.coins:
                for v in venues.get((c, minutes), ()):
                    _add_split(splits, v)
            splits.sort(key=lambda v: v.total, reverse=True)
            venues[(ALL, minutes)] = tuple(splits)
        return totals, venues

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        if self.clock() < self.paused_until_ms:  # the budget ran out mid-poll
            raise RateLimited(
                (self.paused_until_ms - self.clock()) / 1000, "paused to stay under the API budget"
            )
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=self.timeout_s,
                headers={"CG-API-KEY": self._key, "accept": "application/json"},
            )
        r = await self._client.get(path, params=params)
        self.requests += 1
        self._track_budget(r.headers)
        if r.status_code == 401:
            raise AuthError()
        if r.status_code == 429:
            raise RateLimited(_float(r.headers.get("Retry-After")))
        r.raise_for_status()
        try:
            payload = json.loads(r.content)
        except ValueError:
            raise FrameError("body is not JSON") from None
        try:
            coinglass_data(payload)  # the envelope check
        except CoinGlassError as e:
            if e.code == "401":
                raise AuthError() from None
            if e.code == "429":
                raise RateLimited(None) from None
            raise
        if self.on_answer is not None:
            self.on_answer(path, dict(params), payload)
        return payload

    def _track_budget(self, headers: httpx.Headers) -> None:
        """Honour API-KEY-MAX-LIMIT / API-KEY-USE-LIMIT: pause before the plan's budget is gone."""
        max_limit = _float(headers.get("API-KEY-MAX-LIMIT"))
        use_limit = _float(headers.get("API-KEY-USE-LIMIT"))
        if max_limit is None or use_limit is None or max_limit <= 0:
            return
        self.max_limit, self.use_limit = int(max_limit), int(use_limit)
        if use_limit >= self.budget_ratio * max_limit:
            self.paused_until_ms = max(
                self.paused_until_ms, self.clock() + int(self.rate_pause_s * 1000)
            )

    def _clean(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


def _add_split(into: list[VenueSplit], s: VenueSplit) -> None:
    for i, v in enumerate(into):
        if v.venue == s.venue:
            into[i] = VenueSplit(v.venue, v.longs + s.longs, v.shorts + s.shorts)
            return
    into.append(s)


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None
