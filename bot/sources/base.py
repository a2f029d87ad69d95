"""The port between data sources and the rest: a Sink that sources push into."""

from __future__ import annotations

from typing import Protocol

from bot.domain.models import Liquidation, VenueSplit, WindowTotals
from bot.domain.source_fault import DownReason


class Sink(Protocol):
    def events(self, source: str, events: list[Liquidation]) -> None:
        """Normalized liquidations from a stream or a replay."""

    def totals(
        self,
        source: str,
        as_of_ms: int,
        totals: dict[tuple[str, int], WindowTotals],
        venues: dict[tuple[str, int], tuple[VenueSplit, ...]],
        coverage: str = "",
    ) -> None:
        """Window totals from an aggregator (CoinGlass): (coin, window minutes) -> sums.

        `coverage` says what ALL covers when it is not the whole market (shown with the source).
        """

    def up(self, source: str, now_ms: int) -> None:
        """The source is connected and delivering (or confirmed alive)."""

    def down(self, source: str, now_ms: int, reason: DownReason) -> None:
        """The source stopped delivering: its data is missing from now on, not zero. The
        source classifies the failure (`reason.fault`); everything downstream renders that."""

    def skipped(self, source: str, count: int) -> None:
        """`count` frames (or details) the source received but could not use."""


class Source(Protocol):
    name: str

    async def run(self, sink: Sink) -> None:
        """Run until cancelled, reconnecting by itself; never raises."""
