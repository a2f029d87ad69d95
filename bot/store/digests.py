"""Digest half of Database: the daily digests set with /digest, and what a digest reads back
from the outbox (the chat's alerts of the day). Plain SQL, portable to PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.domain.digest import DigestSpec
from bot.store.outbox_parts import BodyCache, decode


class DigestQueries:
    """Mixin of Database, through its helpers."""

    if TYPE_CHECKING:  # provided by Database
        body_cache: BodyCache

        async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
        async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
        async def _write(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    async def set_digest(self, chat_key: str, at_min: int, tz: str, now_ms: int) -> None:
        """One digest per chat: a new time replaces the old one."""
        await self._write(
            "INSERT INTO digests (chat_key, at_min, tz, created_ms) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(chat_key) DO UPDATE SET at_min = excluded.at_min, tz = excluded.tz",
            (chat_key, at_min, tz, now_ms),
        )

    async def remove_digest(self, chat_key: str) -> bool:
        return await self._write("DELETE FROM digests WHERE chat_key = ?", (chat_key,)) > 0

    async def get_digest(self, chat_key: str) -> DigestSpec | None:
        row = await self._one("SELECT at_min, tz FROM digests WHERE chat_key = ?", (chat_key,))
        return DigestSpec(chat_key, int(row[0]), str(row[1])) if row else None

    async def all_digests(self) -> list[DigestSpec]:
        rows = await self._all("SELECT chat_key, at_min, tz FROM digests ORDER BY chat_key")
        return [DigestSpec(r[0], int(r[1]), str(r[2])) for r in rows]

    async def outbox_has(self, dedupe_key: str) -> bool:
        """Whether a message with this key was ever enqueued (and not pruned yet)."""
        return (
            await self._one("SELECT 1 FROM outbox WHERE dedupe_key = ?", (dedupe_key,)) is not None
        )

    async def alert_titles(self, chat_key: str, since_ms: int) -> list[tuple[int, str]]:
        """(created_ms, title) of the alerts enqueued for a chat since `since_ms`: window
        alerts (`alert:`) and single-liquidation alerts (`single:`); not tests or digests."""
        rows = await self._all(
            "SELECT created_ms, message FROM outbox WHERE chat_key = ? AND created_ms >= ? "
            "AND (dedupe_key LIKE 'alert:%' OR dedupe_key LIKE 'single:%') "
            "AND status != 'dead' ORDER BY id",
            (chat_key, since_ms),
        )
        messages = await decode([r[1] for r in rows], self._all, self.body_cache)
        return [(int(r[0]), m.title) for r, m in zip(rows, messages, strict=True)]
