"""Start-up's read of the minute buckets the windows need, from the store into the aggregator."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from bot.domain.aggregate import Aggregator
from bot.runtime.hot_snapshot import read_snapshot, write_snapshot
from bot.store import Database

log = logging.getLogger(__name__)

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


async def load_hot(db: Database, agg: Aggregator, now: int, snapshot: Path | None) -> int | None:
    """The hot buckets into `agg`: from the snapshot written at the last clean stop when it
    matches the store (hot_snapshot.py), else from the store. Returns as load_hot_buckets."""
    if snapshot is not None:
        t0 = time.perf_counter()
        token = await db.bucket_token()
        columns, why = await asyncio.to_thread(read_snapshot, snapshot, token)
        if columns is not None:
            agg.load_minutes(columns)
            log.info(
                "hot buckets: %d minutes from the snapshot in %.2f s",
                len(columns),
                time.perf_counter() - t0,
            )
            return columns[-1][0] + 60_000 if columns else None
        log.info("hot buckets: read from the store (%s)", why)
    return await load_hot_buckets(db, agg, now)


async def save_hot(db: Database, agg: Aggregator, now: int, snapshot: Path) -> None:
    """At a clean stop, after the last persist: the snapshot of the hot buckets under the
    store's token. A failure is logged and costs only the next start's speed."""
    t0 = time.perf_counter()
    try:
        token = await db.bucket_token()
        columns = agg.minute_columns(now - HOT_MINUTES * 60_000)
        size = await asyncio.to_thread(write_snapshot, snapshot, token, now, columns)
    except Exception as e:
        log.warning("hot snapshot not written (%s): the next start reads the store", e)
        with contextlib.suppress(OSError):
            snapshot.unlink()  # never leave one that might not match
        return
    log.info(
        "hot snapshot written: %d minutes, %.1f MB in %.2f s",
        len(columns),
        size / 1e6,
        time.perf_counter() - t0,
    )
