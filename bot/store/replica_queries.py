"""The store's part in running replicas (docs/scaling.md): fencing, rule-change notices and
Telegram updates handled once. A mixin of Database, like HistoryQueries.

Fencing: when replicas share a PostgreSQL database, `Database.fencing` returns the epoch this
replica leads under (None while it does not lead). Every write only the leader makes (alert
states with their outbox rows, enqueued notices, outbox marks and expiry, buckets and source
gaps, delivery's pause and migration of a chat) runs in `_leader_tx()`, whose first
statement takes a share lock on the one `leadership` row and checks its epoch. A takeover
increments the epoch with an UPDATE of that row, so the two serialise: a write either commits
before the takeover (and the new leader reads it) or sees the new epoch and is refused
(NotLeaderError). An old leader frozen for a minute can never write after it was replaced.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from bot.domain.models import AlertState, Status

RULES_CHANNEL = "liqbot_rules"  # NOTIFY payload: the chat key whose subscriptions changed

# The leader's write transactions are short; one left open by a frozen process must not hold
# the leadership row (and so the next takeover) for longer than this.
_FENCED_TX_IDLE_LIMIT = "5s"


class NotLeaderError(RuntimeError):
    """A write only the leader may make, by a replica that does not (or no longer) lead."""


class ReplicaQueries:
    if TYPE_CHECKING:
        fencing: Callable[[], int | None] | None

        @property
        def dialect(self) -> str: ...
        def _tx(self) -> AbstractAsyncContextManager[Any]: ...
        async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
        async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
        async def _write(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    @asynccontextmanager
    async def _leader_tx(self) -> AsyncIterator[Any]:
        """A transaction for a leader-only write: checks the epoch first when fenced."""
        async with self._tx() as c:
            if self.fencing is not None:
                epoch = self.fencing()
                if epoch is None:
                    raise NotLeaderError("this replica does not lead")
                async with c.execute(
                    "SELECT epoch, set_config('idle_in_transaction_session_timeout', ?, true) "
                    "FROM leadership WHERE id = 1 FOR SHARE",
                    (_FENCED_TX_IDLE_LIMIT,),
                ) as cur:
                    row = await cur.fetchone()
                if row is None or int(row[0]) != epoch:
                    now = None if row is None else int(row[0])
                    raise NotLeaderError(f"leadership moved on (epoch {now}, ours {epoch})")
            yield c

    async def _rules_changed(self, c: Any, chat_key: str) -> None:
        """Tell the leader (LISTEN) that a chat's subscriptions changed, on commit of `c`."""
        if self.dialect == "postgresql":
            await c.execute("SELECT pg_notify(?, ?)", (RULES_CHANNEL, chat_key))

    async def states_of(self, sub_ids: Sequence[int]) -> dict[int, AlertState]:
        """The stored alert states of these subscriptions (a standby's /list: the leader's
        book is the one that moves them)."""
        if not sub_ids:
            return {}
        marks = ",".join("?" * len(sub_ids))
        rows = await self._all(
            "SELECT sub_id, status, level, episode, fired_ms, last_alert_ms FROM alert_states "
            f"WHERE sub_id IN ({marks})",
            list(sub_ids),
        )
        return {r[0]: AlertState(r[0], Status(r[1]), r[2], r[3], r[4], r[5]) for r in rows}

    async def leader_row(self) -> tuple[int, str, int]:
        """(epoch, leader's replica id, since when in ms): who leads, as last recorded."""
        row = await self._one("SELECT epoch, leader, since_ms FROM leadership WHERE id = 1")
        return (int(row[0]), str(row[1]), int(row[2])) if row else (0, "", 0)

    async def claim_update(self, update_id: int, now_ms: int, *, bot_id: int) -> bool:
        """True for the first replica to record this Telegram update of this bot; False for a
        repeat. Update ids count per bot: another bot token on the same store has its own."""
        n = await self._write(
            "INSERT INTO telegram_updates (bot_id, update_id, seen_ms) VALUES (?, ?, ?) "
            "ON CONFLICT(bot_id, update_id) DO NOTHING",
            (int(bot_id), int(update_id), now_ms),
        )
        return n > 0

    async def prune_updates(self, before_ms: int) -> int:
        """Forget handled update ids older than this (Telegram redelivers for 24 h at most)."""
        return await self._write("DELETE FROM telegram_updates WHERE seen_ms < ?", (before_ms,))
