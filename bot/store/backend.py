"""The engine under Database: the Backend port, and its SQLite implementation.

Database's queries are written once, in the SQL both engines speak (`?` placeholders, `INSERT ...
ON CONFLICT`, `RETURNING`); a backend runs them. Inside `transaction()` the connection has the
aiosqlite calls the queries use: `execute(sql, params)` (awaited, or `async with` for a cursor
with fetchone/fetchall/rowcount) and `executemany(sql, rows)`. The PostgreSQL backend
(bot/store/postgres.py) provides the same calls over asyncpg.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import aiosqlite

from bot.store.file_lock import ServiceLock
from bot.store.location import StoreUnavailableError
from bot.store.migrations import migrate
from bot.store.wal_checkpoint import BACKSTOP_PAGES, SideCheckpoint


class Backend(Protocol):
    dialect: str  # "sqlite" | "postgresql"

    def transaction(self) -> AbstractAsyncContextManager[Any]: ...
    async def one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
    async def write(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    async def schema_version(self) -> int: ...
    def platform_of(self, column: str) -> str: ...
    def indexed_by(self, index: str) -> str: ...
    def key_share_lock(self) -> str: ...
    async def side_reader(self) -> Backend | None: ...
    async def close(self) -> None: ...


class SqliteBackend:
    """One aiosqlite connection (one worker thread) in autocommit mode; every call holds an
    asyncio.Lock so a multi-statement transaction never interleaves with another coroutine's
    statements on the same connection."""

    dialect = "sqlite"

    def __init__(
        self,
        conn: aiosqlite.Connection,
        path: str = ":memory:",
        held: ServiceLock | None = None,
        checkpoint: SideCheckpoint | None = None,
    ) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._path = path
        self._held = held  # the service's lock on the file (bot/store/file_lock.py), if taken
        self._checkpoint = checkpoint  # the writer's WAL checkpoints, run beside it

    @staticmethod
    async def _connect(path: str) -> aiosqlite.Connection:
        pending = aiosqlite.connect(path, isolation_level=None)  # we issue BEGIN ourselves
        # A connection someone forgot to close (a crash path, a failed test) must not keep the
        # process alive forever: its worker thread is a daemon. close() still flushes as usual.
        thread = getattr(pending, "_thread", None)
        if thread is not None:
            thread.daemon = True
        return await pending

    @classmethod
    async def open(cls, path: str, *, exclusive: bool = False) -> SqliteBackend:
        """Open (creating and migrating as needed). Raises SchemaTooNewError for newer files.

        `exclusive`: the running service's store; holds the file's lock until `close()`, and
        raises StoreInUseError while another process holds it."""
        held = ServiceLock.take(path) if exclusive and _is_file(path) else None
        try:
            conn = await cls._connect(path)
        except BaseException as e:
            if held is not None:
                held.release()
            if isinstance(e, sqlite3.DatabaseError):
                raise StoreUnavailableError(unreadable(path, e)) from None
            raise
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL: durable across a process crash; a power cut may lose the last commit
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute("PRAGMA busy_timeout = 5000")
            if _is_file(path):  # checkpointed beside the writer, not in its commits
                await conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
            await migrate(conn)
        except BaseException as e:
            await conn.close()
            if held is not None:
                held.release()
            if isinstance(e, sqlite3.DatabaseError):  # a foreign or damaged file: one line
                raise StoreUnavailableError(unreadable(path, e)) from None
            raise
        checkpoint = SideCheckpoint(path, cls._connect) if _is_file(path) else None
        return cls(conn, path, held, checkpoint)

    async def side_reader(self) -> SqliteBackend | None:
        """A second, read-only connection to the same file, for a long read beside this one's
        statements: its own worker thread, and SQLite leaves the lock while it steps through a
        query, so the two run on two cores (WAL: it reads while this one writes). None for an
        in-memory database, which a second connection would not see."""
        if not _is_file(self._path):
            return None
        conn = await self._connect(self._path)
        try:
            await conn.execute("PRAGMA query_only = ON")
            await conn.execute("PRAGMA busy_timeout = 5000")
        except BaseException:
            await conn.close()
            raise
        return SqliteBackend(conn, self._path)

    async def close(self) -> None:
        async with self._lock:
            if self._checkpoint is not None:  # first: the writer, closing last, ends the WAL
                await self._checkpoint.close()
            await self._conn.close()
            if self._held is not None:  # last: the file is closed before another may open it
                self._held.release()
                self._held = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT under the lock; ROLLBACK on any error (or cancellation)."""
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                await self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    await self._conn.execute("ROLLBACK")
                raise
        self._committed()

    def _committed(self) -> None:
        if self._checkpoint is not None:
            self._checkpoint.committed()

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        async with self._lock, self._conn.execute(sql, params) as cur:
            return await cur.fetchone()

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self._lock, self._conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement (atomic by itself); returns the number of rows changed."""
        async with self._lock, self._conn.execute(sql, params) as cur:
            changed = cur.rowcount
        self._committed()
        return changed

    async def schema_version(self) -> int:
        row = await self.one("PRAGMA user_version")
        return int(row[0])

    def platform_of(self, column: str) -> str:
        """SQL for the part of a chat key before its first colon ("telegram")."""
        return f"substr({column}, 1, instr({column}, ':') - 1)"

    def indexed_by(self, index: str) -> str:
        """SQLite's index hint, for a query whose plan must walk that index."""
        return f"INDEXED BY {index}"

    def key_share_lock(self) -> str:
        """Nothing: the one connection's transactions never overlap."""
        return ""


def _is_file(path: str) -> bool:
    """A file on disk (not an in-memory database or a `file:` URI)."""
    return path not in ("", ":memory:") and not path.startswith("file:")


_DAMAGED = ("SQLITE_NOTADB", "SQLITE_CORRUPT")


def unreadable(path: str, e: sqlite3.DatabaseError) -> str:
    """One line for an SQLite file that cannot be used, and what to do about it."""
    reason = str(e).splitlines()[0] if str(e) else type(e).__name__
    if getattr(e, "sqlite_errorname", "").startswith(_DAMAGED):
        reason += (
            ": the file is damaged or not a liqbot store; restore it from a backup, or move it "
            "aside to start with an empty one"
        )
    return f"cannot use the SQLite file {path}: {reason}"
