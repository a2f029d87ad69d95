"""History half of Database: buckets, gaps, charts (database.py: chats, subs, states, outbox)."""

from __future__ import annotations

import json
import secrets
from array import array
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from bot.domain.aggregate import MinuteColumns
from bot.domain.models import ALL
from bot.store.rows import BucketRow, GapRow

_SEP = "\x1e"  # between the names in bucket_minutes' text (SQLite's char(30))
_JSON = json.JSONDecoder()
# One row per minute, its buckets as text: SQLite walks the primary key (minute, coin, venue),
# so no sort, and a minute crosses into Python as 4 strings instead of 5 values a bucket. The
# sums are whole dollars (upsert_buckets rounds them), written as integers: exact for every
# integral value; a minute holding any other value (`inexact`) is read again as rows.
_SQLITE_MINUTES = (
    "SELECT minute_ms, count(*), "
    "sum(longs <> CAST(longs AS INTEGER) OR shorts <> CAST(shorts AS INTEGER)), "
    "group_concat(coin, char(30)), group_concat(venue, char(30)), "
    "group_concat(CAST(longs AS INTEGER)), group_concat(CAST(shorts AS INTEGER)) "
    "FROM buckets WHERE {where} GROUP BY minute_ms ORDER BY minute_ms"
)


def _numbers(text: str) -> array:
    """Integers as SQLite writes them ("12,0,5") -> array('d', [12.0, 0.0, 5.0]): exact, as the
    doubles they came from were integral (the nearest double to an integral one is itself)."""
    return array("d", _JSON.raw_decode("[" + text + "]")[0])


def _minute_columns(rows: Iterable[Sequence[Any]]) -> list[MinuteColumns]:
    """(minute_ms, coin, venue, longs, shorts) rows ordered by minute -> one item a minute;
    consecutive minutes with the same keys share one keys tuple."""
    out: list[MinuteColumns] = []
    last: tuple[tuple[str, str], ...] = ()
    for minute_ms, group in groupby(rows, key=itemgetter(0)):
        values = array("d")
        keys = []
        for r in group:
            keys.append((r[1], r[2]))
            values.append(r[3])
            values.append(r[4])
        same = tuple(keys)
        if same == last:
            same = last
        out.append((minute_ms, same, values))
        last = same
    return out


class HistoryQueries:
    """Mixin of Database: the minute buckets and gaps tables, through Database's helpers."""

    if TYPE_CHECKING:  # provided by Database

        @property
        def dialect(self) -> str: ...
        def _tx(self) -> AbstractAsyncContextManager[Any]: ...
        @asynccontextmanager  # the same type as ReplicaQueries' (Database has both bases)
        async def _leader_tx(self) -> AsyncIterator[Any]:
            yield

        async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
        async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
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
            await _new_bucket_token(c)
        return len(params)

    async def bucket_token(self) -> str:
        """The token of the buckets as they are now: it changes with every write of buckets
        (start-up's snapshot is used only under the token it was written with). Made on
        first use, so a store whose buckets were never written by this code gets one too."""
        row = await self._one("SELECT value FROM kv WHERE key = ?", (BUCKET_TOKEN,))
        if row is not None:
            return str(row[0])
        async with self._tx() as c:
            return await _new_bucket_token(c)

    async def load_buckets(self, since_ms: int, until_ms: int | None = None) -> list[BucketRow]:
        """Buckets with since_ms <= minute_ms (< until_ms), oldest first."""
        sql = "SELECT minute_ms, coin, venue, longs, shorts FROM buckets WHERE minute_ms >= ?"
        params: tuple[int, ...] = (since_ms,)
        if until_ms is not None:
            sql += " AND minute_ms < ?"
            params = (since_ms, until_ms)
        rows = await self._all(sql + " ORDER BY minute_ms, coin, venue", params)
        return [BucketRow(*r) for r in rows]

    async def bucket_minutes(
        self, since_ms: int, until_ms: int | None = None
    ) -> list[MinuteColumns]:
        """The buckets of load_buckets, one item a minute for Aggregator.load_minutes:
        (minute_ms, ((coin, venue), ...), array('d') of [longs, shorts] pairs in that order),
        oldest minute first, each minute's buckets in (coin, venue) order as load_buckets
        orders them. Consecutive minutes holding the same (coin, venue) list share one tuple.
        The values are the stored doubles, bit for bit."""
        where = "minute_ms >= ?" + ("" if until_ms is None else " AND minute_ms < ?")
        params: tuple[int, ...] = (since_ms,) if until_ms is None else (since_ms, until_ms)
        if self.dialect != "sqlite":
            return _minute_columns(
                await self._all(
                    "SELECT minute_ms, coin, venue, longs, shorts FROM buckets "
                    f"WHERE {where} ORDER BY minute_ms, coin, venue",
                    params,
                )
            )
        out: list[MinuteColumns] = []
        last: tuple[str, str] | None = None
        keys: tuple[tuple[str, str], ...] = ()
        plain = False
        rows = await self._all(_SQLITE_MINUTES.format(where=where), params)
        for minute_ms, n, inexact, coins, venues, longs, shorts in rows:
            if (coins, venues) != last:
                last = (coins, venues)
                names = coins.split(_SEP), venues.split(_SEP)
                keys = tuple(zip(*names, strict=False))
                # names holding the separator, or an order other than the key's: read as rows
                plain = len(names[0]) == len(names[1]) == n and list(keys) == sorted(keys)
            values = array("d", bytes(16 * n))
            if plain and not inexact:
                ls, ss = _numbers(longs), _numbers(shorts)
                if len(ls) == len(ss) == n:
                    values[0::2] = ls
                    values[1::2] = ss
                    out.append((minute_ms, keys, values))
                    continue
            out += _minute_columns(
                await self._all(
                    "SELECT minute_ms, coin, venue, longs, shorts FROM buckets "
                    "WHERE minute_ms = ? ORDER BY coin, venue",
                    (minute_ms,),
                )
            )
        return out

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
        async with self._tx() as c:
            n = int(
                (await c.execute("DELETE FROM buckets WHERE minute_ms < ?", (before_ms,))).rowcount
            )
            if n:
                await _new_bucket_token(c)
        return n

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


BUCKET_TOKEN = "buckets_token"  # kv: changes with every write of buckets (see bucket_token)


async def _new_bucket_token(c: Any) -> str:
    token = secrets.token_hex(16)
    await c.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (BUCKET_TOKEN, token),
    )
    return token
