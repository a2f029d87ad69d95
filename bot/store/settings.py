"""Database mixins: a small key/value table, and the expiry of alerts that are no longer news."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

EXPIRED = "expired: older than its window"  # outbox.last_error of a dropped stale alert


class Settings:
    """Mixin of Database: `kv`, for small facts the service keeps across restarts
    (such as the hash of the Discord command set last synced)."""

    if TYPE_CHECKING:  # provided by Database

        async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
        async def _write(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    async def get_setting(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM kv WHERE key = ?", (key,))
        return row[0] if row else None

    async def set_setting(self, key: str, value: str) -> None:
        await self._write(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


class OutboxExpiry:
    """Mixin of Database: alerts older than their own window are dropped, and counted."""

    if TYPE_CHECKING:  # provided by Database

        async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
        async def _leader_write(self, sql: str, params: Sequence[Any]) -> int: ...

    async def expire_outbox(self, now_ms: int) -> int:
        """Mark pending rows past their expiry dead (never sent late); returns how many.
        Delivery's, so the leader's: fenced when replicas share the store."""
        return await self._leader_write(
            "UPDATE outbox SET status = 'dead', last_error = ? "
            "WHERE status = 'pending' AND expires_ms IS NOT NULL AND expires_ms <= ?",
            (EXPIRED, now_ms),
        )

    async def count_expired(self, since_ms: int) -> int:
        """Alerts created since `since_ms` that were dropped as stale (for /status)."""
        row = await self._one(
            "SELECT count(*) FROM outbox WHERE status = 'dead' AND last_error = ? "
            "AND created_ms >= ?",
            (EXPIRED, since_ms),
        )
        return int(row[0])
