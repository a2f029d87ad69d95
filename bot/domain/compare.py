"""Our streams' totals beside CoinGlass's for the same windows (`/liqs compare`).

The free venue streams are a floor: they see the venues we read, and Binance's stream is a
sample. CoinGlass aggregates about twenty venues. Coverage is our total as a share of theirs, so a
user learns how much of the market the streams see. Pure data; bot.runtime.market_view fills it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.models import WindowTotals

COMPARE_WINDOWS = (60, 240, 720, 1440)  # the windows CoinGlass serves


@dataclass(frozen=True, slots=True)
class CompareRow:
    window: int  # minutes
    streams: WindowTotals | None  # None: no stream serves this window now (unknown, not zero)
    coinglass: WindowTotals | None  # None: no fresh CoinGlass figure for it
    streams_complete: bool = True  # False: a stream had a gap inside the window

    @property
    def coverage(self) -> float | None:
        """Our total over CoinGlass's; None when either is unknown or CoinGlass saw nothing."""
        if self.streams is None or self.coinglass is None or self.coinglass.total <= 0:
            return None
        return self.streams.total / self.coinglass.total


@dataclass(frozen=True, slots=True)
class VenueRow:
    """One venue in one window: what our stream of it saw beside what CoinGlass counts there."""

    venue: str  # "binance" ...
    streams: float | None  # None: we do not stream this venue
    coinglass: float | None  # None: CoinGlass's answer does not name it

    @property
    def coverage(self) -> float | None:
        if self.streams is None or self.coinglass is None or self.coinglass <= 0:
            return None
        return self.streams / self.coinglass


@dataclass(frozen=True, slots=True)
class Comparison:
    coin: str  # "BTC" ... or ALL
    as_of_ms: int
    rows: tuple[CompareRow, ...]
    stream_sources: tuple[str, ...]  # the venues whose events the streams' figures hold
    # "off": no key configured; "waiting": no answer yet; "stale": its last answer is too old;
    # "up": its figures are current
    coinglass: str
    coinglass_as_of_ms: int | None = None
    # CoinGlass without coin-list sums only the configured coins: ALL then compares those coins
    only_coins: tuple[str, ...] = ()
    # per venue, over `venue_window` (the longest window both sides know): Binance's stream is
    # sampled, so its own share tells the sampling apart from the venues we do not read
    venue_window: int | None = None
    venues: tuple[VenueRow, ...] = ()
