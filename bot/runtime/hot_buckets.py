"""Start-up's read of the minute buckets the windows need, from the store into the aggregator."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any

from bot.domain.aggregate import Aggregator
from bot.store import Database

HOT_MINUTES = 26 * 60  # the longest window (24 h) and the aggregator's hour of slack
LOAD_SLICE_MS = 3600_000  # buckets are loaded at start an hour at a time (bounded memory)
READ_AHEAD = 4  # hours of buckets read ahead of the one being loaded (while the rules load)


async def load_hot_buckets(db: Database, agg: Aggregator, now: int) -> int | None:
    """The minute buckets the windows read (the last HOT_MINUTES) into `agg`, an hour at a time
    as minute columns (no object per bucket), through a side reader (SQLite: a connection and a
    thread of its own) up to READ_AHEAD hours ahead of the one being filled in (bounded memory).
    Returns the end of the newest minute loaded (None: none)."""
    last_seen = None
    starts = range(now - HOT_MINUTES * 60_000, now, LOAD_SLICE_MS)
    async with db.side_reader() as reader:

        def read(i: int) -> asyncio.Future[list[Any]]:
            until = starts[i] + LOAD_SLICE_MS if i != len(starts) - 1 else None  # last: open
            return asyncio.ensure_future(reader.bucket_minutes(starts[i], until))

        ahead = collections.deque(read(i) for i in range(min(READ_AHEAD, len(starts))))
        try:
            for i in range(len(starts)):
                minutes = await ahead.popleft()
                if i + READ_AHEAD < len(starts):
                    ahead.append(read(i + READ_AHEAD))
                agg.load_minutes(minutes)
                if minutes:
                    last_seen = minutes[-1][0] + 60_000
                del minutes
        finally:
            for pending in ahead:  # something failed: stop reading
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
    return last_seen
