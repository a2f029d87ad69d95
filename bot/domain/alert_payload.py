"""The machine-readable side of an alert message: what a webhook receiver gets as JSON.

Pure: Alerts in, plain JSON values out (strings, numbers, lists, dicts). The rendered text goes
beside it (bot/features/webhooks.py), so a receiver can both act on the numbers and show the words.
"""

from __future__ import annotations

import datetime as dtm
from collections.abc import Sequence
from typing import Any

from bot.domain.market import window_label
from bot.domain.models import Alert

PAYLOAD_VERSION = 1


def iso_utc(ms: int) -> str:
    """`2026-01-14T15:20:00Z`: what a receiver parses without guessing a time zone."""
    t = dtm.datetime.fromtimestamp(ms / 1000, dtm.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def alert_fields(a: Alert) -> dict[str, Any]:
    s = a.sub
    return {
        "subscription": s.number or s.id,
        "kind": a.kind.value,  # "fired" or "escalated"
        "coin": s.coin,  # "BTC" ... or "ALL" (the whole market)
        "window": window_label(s.window),  # "1h"
        "window_minutes": s.window,
        "side": s.side.value,  # "long", "short" or "total"
        "value": round(a.value, 2),  # USD, the window sum on that side
        "threshold": s.threshold,
        "level": a.level,
        "longs": round(a.longs, 2),
        "shorts": round(a.shorts, 2),
        "venues": [
            {"venue": v.venue, "longs": round(v.longs, 2), "shorts": round(v.shorts, 2)}
            for v in a.venues
        ],
        "sources": list(a.sources),
        "sampled": a.sampled,  # exchange streams: the value is a floor, not the full total
        "as_of": iso_utc(a.as_of_ms),
        "as_of_ms": a.as_of_ms,
    }


def alerts_payload(alerts: Sequence[Alert]) -> dict[str, Any]:
    """One message's alerts (several when a tick grouped them for the chat)."""
    return {
        "type": "alert",
        "version": PAYLOAD_VERSION,
        "alerts": [alert_fields(a) for a in alerts],
    }
