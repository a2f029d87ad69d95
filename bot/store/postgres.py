"""The PostgreSQL backend: an asyncpg pool running Database's queries.

The queries are written with `?` (and `?1` for a repeated value); `numbered()` rewrites them to
asyncpg's `$1, $2 ...` once per distinct statement. Inside a transaction the connection offers
the aiosqlite calls the queries use (`execute` as an awaitable or `async with`, `executemany`),
so one body of SQL serves both engines. Transactions run at READ COMMITTED: what a single
SQLite writer got by serialising, the queries get from row locks, `ON CONFLICT` and
`WHERE EXISTS` (see docs/ARCHITECTURE.md, Store).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import asyncpg

from bot.store.location import StoreUnavailableError, redact
from bot.store.pg_migrations import migrate_pg, read_version

_PARAM = re.compile(r"'(?:[^']|'')*'|\?(\d*)")
_RETURNS_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES|SHOW)\b|\bRETURNING\b", re.I)


@lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """`?` -> `$n` in order, `?n` -> `$n`; string literals are left alone."""
    counter = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal counter
        if m.group(0).startswith("'"):
            return m.group(0)
        if m.group(1):
            return "$" + m.group(1)
        counter += 1
        return f"${counter}"

    return _PARAM.sub(sub, sql)


def _rowcount(status: str) -> int:
    """asyncpg's command tag ("UPDATE 3", "INSERT 0 1") -> rows changed; -1 when it has none."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


class PgCursor:
    """The part of an aiosqlite cursor the queries read."""

    def __init__(self, rows: list[asyncpg.Record], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    async def fetchone(self) -> asyncpg.Record | None:
        return self._rows[0] if self._rows else None

    async def fetchall(self) -> list[asyncpg.Record]:
        return list(self._rows)


class _Pending:
    """`await c.execute(...)` and `async with c.execute(...) as cur`, as aiosqlite allows."""

    def __init__(self, conn: PgConnection, sql: str, params: Sequence[Any]) -> None:
        self._run = conn.run(sql, params)

    def __await__(self) -> Any:
        return self._run.__await__()

    async def __aenter__(self) -> PgCursor:
        return await self._run

    async def __aexit__(self, *exc: object) -> None:
        return None


class PgConnection:
    """An asyncpg connection that speaks the calls Database's queries make."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.raw = conn

    async def run(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        q = numbered(sql)
        if _RETURNS_ROWS.search(q):
            rows = await self.raw.fetch(q, *params)
            return PgCursor(rows, len(rows))
        return PgCursor([], _rowcount(await self.raw.execute(q, *params)))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Pending:
        return _Pending(self, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = list(rows)
        if batch:
            await self.raw.executemany(numbered(sql), batch)


class PgBackend:
    dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self._url = url  # holds the password: never log it (`shown` is the printable form)
        self.shown = redact(url)

    @classmethod
    async def open(cls, url: str, max_connections: int = 4) -> PgBackend:
        """Connect, create/migrate the schema. Errors name the server, never its password."""
        shown = redact(url)
        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=max_connections, command_timeout=60
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as e:
            detail = redact(str(e)).replace(url, shown)
            raise StoreUnavailableError(
                f"cannot connect to PostgreSQL at {shown}: {type(e).__name__}: {detail}"
            ) from None
        assert pool is not None
        try:
            async with pool.acquire() as conn:
                await migrate_pg(conn)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, url)

    async def close(self) -> None:
        await self._pool.close()

    async def side_reader(self) -> None:
        """None: the pool already runs a long read beside other statements."""
        return None

    async def dedicated_connection(self) -> asyncpg.Connection:
        """A connection of its own, outside the pool (an advisory lock, LISTEN)."""
        return await asyncpg.connect(self._url)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgConnection]:
        """One pooled connection in one transaction: COMMIT at the end, ROLLBACK on any error."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield PgConnection(conn)

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return await self._pool.fetchrow(numbered(sql), *params)

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await self._pool.fetch(numbered(sql), *params))

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        q = numbered(sql)
        if _RETURNS_ROWS.search(q):
            return len(await self._pool.fetch(q, *params))
        return _rowcount(await self._pool.execute(q, *params))

    async def schema_version(self) -> int:
        async with self._pool.acquire() as conn:
            return await read_version(conn)

    def platform_of(self, column: str) -> str:
        """SQL for the part of a chat key before its first colon ("telegram")."""
        return f"split_part({column}, ':', 1)"

    def indexed_by(self, index: str) -> str:
        """No hints in PostgreSQL: its planner picks the index from the statistics."""
        return ""

    def key_share_lock(self) -> str:
        """For the row a foreign key will point at: a concurrent DELETE is waited for, and the
        row then re-read (gone: the statement skips it instead of failing the foreign key)."""
        return " FOR KEY SHARE"
