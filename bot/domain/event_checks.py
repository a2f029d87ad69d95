"""The one sanity check every liquidation passes before it is counted (LiveMarket.events).

A frame can be well formed and still absurd: a size of 1e15, a price that overflows to inf, a
zero or negative amount. One such event would sit in the stored minute buckets for the whole
retention (7 days) and dominate every total, so it is rejected here, once, for every venue.
"""

from __future__ import annotations

import math

# The largest single liquidation reported is about $200M (an ETH long on Hyperliquid, 2025);
# the largest liquidation DAY on record, all venues together, is about $19B (2025-10-10/11,
# /work/shared/reference/market-events.md). $1B per event is 5x the first and far below the second.
DEFAULT_MAX_EVENT_USD = 1e9

NOT_FINITE = "not a finite number"
NOT_POSITIVE = "zero or negative"
TOO_LARGE = "above max_event_usd"


def reject_reason(usd: object, max_usd: float = DEFAULT_MAX_EVENT_USD) -> str | None:
    """Why an event's USD amount cannot be counted, or None when it is fine."""
    if type(usd) is bool or not isinstance(usd, (int, float)):  # JSON true is not the number 1
        return NOT_FINITE
    if not math.isfinite(usd):
        return NOT_FINITE
    if usd <= 0:
        return NOT_POSITIVE
    if usd > max_usd:
        return TOO_LARGE
    return None
