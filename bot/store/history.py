"""History half of Database: buckets, gaps, charts (database.py: chats, subs, states, outbox)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from bot.domain.models import ALL
from bot.store.rows import BucketRow, GapRow


class HistoryQueries:
    """Mixin of Database: the minute buckets and gaps tables, through Database's helpers."""

    if TYPE_CHECKING:  # provided by Database

        def _tx(self) -> AbstractAsyncContextManager[Any]: ...
        def _leader_tx(self) -> AbstractAsyncContextManager[Any]: ...
        async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
        async def _write(self, sql: str, params: Sequence[Any] = ()) -> int: ...
        async def _leader_write(self, sql: str, params: Sequence[Any]) -> int: ...

    # ---- buckets -----------------------------------------------------------------------------

    async def upsert_buckets(self, rows: Iterable[BucketRow]) -> int:
        """REPLACE the values of each (minute, coin, venue): the aggregator sends full sums.

        Sums are kept to the whole dollar: SQLite then stores them as 1-4 byte integers instead of
        8-byte floats, which shrinks 7 days of 500 coins by a third; a dollar is far below any
        threshold or figure the bot shows.
        """
        params = [(r.minute_ms, r.coin, r.venue, round(r.longs), round(r.shorts)) for r in rows]
        if not params:
            return 0
        async with self._leader_tx() as c:  # the leader's (fenced when replicas share it)
            await c.executemany(
                "INSERT INTO buckets (minute_ms, coin, venue, longs, shorts) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(minute_ms, coin, venue) "
                "DO UPDATE SET longs = excluded.longs, shorts = excluded.shorts",
                params,
            )
        return len(params)

    async def load_buckets(self, since_ms: int, until_ms: int | None = None) -> list[BucketRow]:
        """Buckets with since_ms <= minute_ms (< until_ms), oldest first."""
        sql = "SELECT minute_ms, coin, venue, longs, shorts FROM buckets WHERE minute_ms >= ?"
        params: tuple[int, ...] = (since_ms,)
        if until_ms is not None:
            sql += " AND minute_ms < ?"
            params = (since_ms, until_ms)
        rows = await self._all(sql + " ORDER BY minute_ms, coin, venue", params)
        return [BucketRow(*r) for r in rows]

    async def chart_buckets(self, coin: str, since_ms: int) -> list[tuple[int, float, float]]:
        """(minute_ms, longs, shorts) per minute since `since_ms`, summed across venues (and,
        for ALL, across coins) by SQLite itself, oldest first. Minutes without data are absent.

        The rows are what the persist job last wrote: the newest ~10 s may not be in yet.
        """
        if coin == ALL:
            sql = (
                "SELECT minute_ms, SUM(longs), SUM(shorts) FROM buckets WHERE minute_ms >= ? "
                "GROUP BY minute_ms ORDER BY minute_ms"
            )
            params: tuple[Any, ...] = (since_ms,)
        else:
            sql = (
                "SELECT minute_ms, SUM(longs), SUM(shorts) FROM buckets "
                "WHERE minute_ms >= ? AND coin = ? GROUP BY minute_ms ORDER BY minute_ms"
            )
            params = (since_ms, coin)
        rows = await self._all(sql, params)
        return [(int(m), float(lg), float(sh)) for m, lg, sh in rows]

    async def minute_sums(
        self, coin: str, since_ms: int, venue: str | None = None
    ) -> list[tuple[int, float, float]]:
        """Like chart_buckets, optionally for one venue: the history backtests and baselines read."""
        if venue is None:
            return await self.chart_buckets(coin, since_ms)
        where = "minute_ms >= ? AND venue = ?" + ("" if coin == ALL else " AND coin = ?")
        params: tuple[Any, ...] = (since_ms, venue) if coin == ALL else (since_ms, venue, coin)
        rows = await self._all(
            f"SELECT minute_ms, SUM(longs), SUM(shorts) FROM buckets WHERE {where} "
            "GROUP BY minute_ms ORDER BY minute_ms",
            params,
        )
        return [(int(m), float(lg), float(sh)) for m, lg, sh in rows]

    async def prune_buckets(self, before_ms: int) -> int:
        return await self._write("DELETE FROM buckets WHERE minute_ms < ?", (before_ms,))

    async def first_bucket_ms(self) -> int | None:
        """The oldest minute held for any coin (the primary key's first column: one seek)."""
        row = await self._one("SELECT min(minute_ms) FROM buckets")
        return None if row is None or row[0] is None else int(row[0])

    # ---- gaps --------------------------------------------------------------------------------

    async def record_gap(self, source: str, start_ms: int, end_ms: int) -> None:
        """An outage of a source, beside the buckets it left empty: the leader's (fenced)."""
        await self._leader_write(
            "INSERT INTO gaps (source, start_ms, end_ms) VALUES (?, ?, ?)",
            (source, start_ms, end_ms),
        )

    async def recent_gaps(self, since_ms: int) -> list[GapRow]:
        """Gaps that ended at or after `since_ms` (so an overlapping one counts), oldest first."""
        rows = await self._all(
            "SELECT source, start_ms, end_ms FROM gaps WHERE end_ms >= ? ORDER BY start_ms, id",
            (since_ms,),
        )
        return [GapRow(*r) for r in rows]

    async def prune_gaps(self, before_ms: int) -> int:
        return await self._write("DELETE FROM gaps WHERE end_ms < ?", (before_ms,))
