"""One venue's share of a Snapshot: what venue-filtered rules and `/liqs ... on bybit` read.

The aggregator already keeps per-venue splits (Snapshot.venues); this view only re-labels them
as the totals, so the rules code and the /liqs renderer run on it unchanged.
"""

from __future__ import annotations

from dataclasses import replace

from bot.domain.models import Snapshot, VenueSplit, WindowTotals


def venue_snapshot(snap: Snapshot, venue: str) -> Snapshot:
    """The snapshot as if `venue` were the only source (windows served and gaps unchanged)."""
    totals: dict[tuple[str, int], WindowTotals] = {}
    venues: dict[tuple[str, int], tuple[VenueSplit, ...]] = {}
    for key, splits in snap.venues.items():
        for v in splits:
            if v.venue == venue:
                totals[key] = WindowTotals(v.longs, v.shorts)
                venues[key] = (v,)
                break
    return replace(snap, totals=totals, venues=venues)
