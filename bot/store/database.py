"""The store: one Database over SQLite or PostgreSQL, its tables in mixins by group: chats.py (chats,
mutes), subscriptions.py, outbox.py (alert states and the outbox), history.py (buckets, gaps),
digests.py, settings.py, replica_queries.py.

The queries are written once in SQL that SQLite and PostgreSQL both run (`?` placeholders,
`INSERT ... ON CONFLICT`, `RETURNING`); the backend (bot/store/backend.py, postgres.py) runs them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from bot.store.backend import Backend, SqliteBackend
from bot.store.chats import ChatQueries
from bot.store.digests import DigestQueries
from bot.store.history import HistoryQueries
from bot.store.location import parse_location
from bot.store.outbox import OutboxQueries
from bot.store.outbox_parts import BodyCache
from bot.store.replica_queries import ReplicaQueries
from bot.store.settings import OutboxExpiry, Settings
from bot.store.subscriptions import SubscriptionQueries


class Database(
    ChatQueries,
    SubscriptionQueries,
    OutboxQueries,
    HistoryQueries,
    Settings,
    OutboxExpiry,
    DigestQueries,
    ReplicaQueries,
):
    """The store's one interface, over SQLite or PostgreSQL (bot/store/backend.py)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        # outbox bodies read and indexed once, not per drain pass (bot/store/outbox_parts.py)
        self.body_cache = BodyCache()
        # called with (old_key, new_key) after a chat moved, whoever moved it (delivery, adapter)
        self.on_chat_migrated: list[Callable[[str, str], object]] = []
        # replicas on PostgreSQL: the epoch this replica leads under, None while it does not;
        # leader-only writes check it (bot/store/replica_queries.py). None here: no fencing.
        self.fencing: Callable[[], int | None] | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    @classmethod
    async def open(cls, location: str | Path, *, exclusive: bool = False) -> Database:
        """Open (creating and migrating as needed) an SQLite file (a path or sqlite:///...) or a
        PostgreSQL database (postgresql://...). Raises SchemaTooNewError for a newer schema.

        `exclusive`: for the running service. On SQLite, one process at a time (a lock held
        until `close()`; StoreInUseError for a second); PostgreSQL's replicas elect a leader."""
        where = parse_location(location)
        if where.kind == "postgresql":
            from bot.store.postgres import PgBackend  # asyncpg only when it is used

            return cls(await PgBackend.open(where.target))
        return cls(await SqliteBackend.open(where.target, exclusive=exclusive))

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def dialect(self) -> str:
        return self._backend.dialect

    async def close(self) -> None:
        await self._backend.close()

    @asynccontextmanager
    async def side_reader(self) -> AsyncIterator[Database]:
        """The store for reads that run beside this one's statements (the hot buckets at start,
        read while the subscriptions load): on SQLite over a second, read-only connection,
        closed on leaving; on PostgreSQL (its pool) and in-memory SQLite, this one."""
        side = await self._backend.side_reader()
        if side is None:
            yield self
            return
        try:
            yield Database(side)
        finally:
            await side.close()

    def _tx(self) -> AbstractAsyncContextManager[Any]:
        """One transaction: every statement inside commits together or not at all."""
        return self._backend.transaction()

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return await self._backend.one(sql, params)

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self._backend.all(sql, params)

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement (atomic by itself); returns the number of rows changed."""
        return await self._backend.write(sql, params)

    async def schema_version(self) -> int:
        return await self._backend.schema_version()
