"""The store's alert states and outbox: a tick's transitions and messages commit together; delivery
reads the due rows and marks them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from bot.domain.message import Message
from bot.domain.models import AlertState, Status, Transition
from bot.domain.moves import Transitions
from bot.store.outbox_parts import decode, message_json, whole
from bot.store.queries import QueryHelpers
from bot.store.rows import OutboxItem, OutboxRow
from bot.store.tick_commit import TickCommit


def _message_json(message: Message) -> str:
    return message_json(message)


class OutboxQueries(QueryHelpers):
    """Mixin of Database: the alert_states and outbox tables."""

    # ---- alert states + outbox ---------------------------------------------------------------

    async def load_states(self) -> dict[int, AlertState]:
        rows = await self._all(
            "SELECT sub_id, status, level, episode, fired_ms, last_alert_ms FROM alert_states"
        )
        return {
            r[0]: AlertState(
                sub_id=r[0],
                status=Status(r[1]),
                level=r[2],
                episode=r[3],
                fired_ms=r[4],
                last_alert_ms=r[5],
            )
            for r in rows
        }

    @asynccontextmanager
    async def tick_commit(
        self,
        transitions: Sequence[Transition] | Transitions,
        also: Sequence[Transition] = (),
    ) -> AsyncIterator[TickCommit]:
        """One transaction for a tick's new states and the outbox items `add`ed inside: all of
        it commits on leaving, or nothing at all (an error inside, or in a write, rolls it back).

        The states are written from the start and the items as they come (bot/store/
        tick_commit.py), while the caller renders the next ones. The store is the tick's until
        then: other statements wait, so render between opening it and leaving it, no more.
        """
        async with self._leader_tx() as c:  # fenced when replicas share the store
            commit = TickCommit(
                c, self.dialect, self._backend.key_share_lock(), await self._next_body_id(c)
            )
            commit.states(transitions, also)
            try:
                await asyncio.sleep(0)  # the states' write is handed over before the caller renders
                yield commit
                await commit.finish()
            except BaseException:
                await commit.abandon()
                raise

    async def commit_transitions(
        self,
        transitions: Sequence[Transition] | Transitions,
        outbox: Sequence[OutboxItem],
        also: Sequence[Transition] = (),
    ) -> None:
        """Every new state and every outbox row in ONE transaction, or nothing at all (a tick
        that has rendered everything already; `tick_commit` writes while it renders)."""
        async with self.tick_commit(transitions, also) as commit:
            commit.add(outbox)

    async def _next_body_id(self, c: Any) -> int:
        """The first free body id. Read inside the tick's transaction: only the leader writes
        bodies, one tick at a time (a clash would fail the tick, never mix two ticks' words)."""
        async with c.execute("SELECT coalesce(max(id), 0) FROM outbox_bodies") as cur:
            row = await cur.fetchone()
        return int(row[0]) + 1

    async def _insert_outbox(self, c: Any, item: OutboxItem) -> int:
        item = whole(item)  # one message at a time: nothing to share, no bodies to store
        assert isinstance(item.message, Message)
        cur = await c.execute(
            # ON CONFLICT(dedupe_key), not OR IGNORE: that would also swallow NOT NULL and
            # CHECK failures, silently dropping a broken alert instead of failing the tick.
            "INSERT INTO outbox (chat_key, message, dedupe_key, created_ms, next_ms, expires_ms) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING",
            (
                item.chat_key,
                _message_json(item.message),
                item.dedupe_key,
                item.created_ms,
                item.created_ms,
                item.expires_ms,
            ),
        )
        return cur.rowcount

    async def enqueue(self, items: Iterable[OutboxItem], *, as_leader: bool = True) -> int:
        """Enqueue outside a transition; returns how many were new (duplicates are ignored).

        The leader's notices (operators, digests) are fenced; `as_leader=False` for a command's
        own message (/test), which any replica answering a webhook may queue.
        """
        async with self._leader_tx() if as_leader else self._tx() as c:
            n = 0
            for item in items:
                n += await self._insert_outbox(c, item)
            return n

    async def due_outbox(
        self, now_ms: int, limit: int, platforms: Collection[str] | None = None
    ) -> list[OutboxRow]:
        """Pending rows due by now, of chats that are not paused, the freshest news first.

        Chats are picked by their queue's head (oldest pending row): channels first (one
        message, many readers), then the freshest heads, so a fresh alert is not queued behind
        an old burst. Each picked chat then gives its due rows oldest first, up to the first
        one backing off (a chat's messages never overtake each other). Picking walks an index
        newest first and stops at `limit` chats: no sort of the whole backlog per pass.
        `platforms` limits rows to those platforms (the rest stay pending).
        """
        plat_sql, plat_params = "", []
        if platforms is not None:
            plats = list(platforms)
            if not plats:
                return []
            marks = ",".join("?" * len(plats))
            plat_sql = f" AND {self._backend.platform_of('o.chat_key')} IN ({marks})"
            plat_params = plats
        heads = (
            "SELECT o.chat_key FROM outbox o {join} "
            "WHERE o.status = 'pending' AND o.next_ms <= ? AND c.paused_reason IS NULL {kind} "
            "AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.status = 'pending' "
            "  AND p.chat_key = o.chat_key AND p.id < o.id)" + plat_sql + " "
            "ORDER BY o.created_ms DESC, o.id LIMIT ?"
        )
        # channels: few, so driven from the chats table (by kind), each by its queue's head
        channels = await self._all(
            f"SELECT c.chat_key FROM chats c {self._backend.indexed_by('chats_kind')} "
            "JOIN outbox o ON o.id = "
            "  (SELECT min(p.id) FROM outbox p WHERE p.status = 'pending' "
            "   AND p.chat_key = c.chat_key) "
            "WHERE c.kind = 'channel' AND c.paused_reason IS NULL AND o.next_ms <= ?"
            + plat_sql
            + " ORDER BY o.created_ms DESC LIMIT ?",
            [now_ms, *plat_params, limit],
        )
        picked = [r[0] for r in channels]
        if len(picked) < limit:
            others = await self._all(
                heads.format(
                    join=f"{self._backend.indexed_by('outbox_fresh')} "
                    "LEFT JOIN chats c ON c.chat_key = o.chat_key",
                    kind="AND (c.kind IS NULL OR c.kind != 'channel')",
                ),
                [now_ms, *plat_params, limit - len(picked)],
            )
            picked += [r[0] for r in others]
        if not picked:
            return []
        marks = ",".join("?" * len(picked))
        rows = await self._all(
            "SELECT id, chat_key, message, attempts, created_ms, next_ms FROM outbox "
            f"WHERE status = 'pending' AND chat_key IN ({marks}) ORDER BY id",
            picked,
        )
        by_chat: dict[str, list[Any]] = {k: [] for k in picked}
        blocked: set[str] = set()
        for r in rows:
            if r[1] in blocked:
                continue
            if r[5] > now_ms:
                blocked.add(r[1])  # backing off: the rest of this chat waits behind it
                continue
            by_chat[r[1]].append(r)
        taken = [r for key in picked for r in by_chat[key]][:limit]
        messages = await decode([r[2] for r in taken], self._all, self.body_cache)
        return [
            OutboxRow(id=r[0], chat_key=r[1], message=m, attempts=r[3], created_ms=r[4])
            for r, m in zip(taken, messages, strict=True)
        ]

    async def outbox_backlog(
        self, now_ms: int, platforms: Collection[str]
    ) -> tuple[int, int | None]:
        """(pending rows, since when the longest-waiting head of a chat's queue has been due).

        Only the head (oldest pending row) of each chat counts, of chats that are not paused on
        platforms that are on: what the drain takes next. Health reads it: a head due long ago
        means delivery is stuck. (One group index scan, not a check per row.)
        """
        plats = list(platforms) or [""]
        marks = ",".join("?" * len(plats))
        pending = await self._one("SELECT count(*) FROM outbox WHERE status = 'pending'")
        head = await self._one(
            "SELECT min(o.next_ms) FROM (SELECT min(id) AS id FROM outbox "
            "  WHERE status = 'pending' GROUP BY chat_key) h "
            "JOIN outbox o ON o.id = h.id LEFT JOIN chats c ON c.chat_key = o.chat_key "
            "WHERE o.next_ms <= ? AND c.paused_reason IS NULL "
            f"AND {self._backend.platform_of('o.chat_key')} IN ({marks})",
            [now_ms, *plats],
        )
        return int(pending[0]), (None if head[0] is None else int(head[0]))

    async def pending_platforms(self) -> set[str]:
        """Platforms that have pending rows (to notice rows no sender will ever take)."""
        rows = await self._all(
            f"SELECT DISTINCT {self._backend.platform_of('chat_key')} FROM outbox "
            "WHERE status = 'pending'"
        )
        return {r[0] for r in rows}

    async def _leader_write(self, sql: str, params: Sequence[Any]) -> int:
        """One leader-only statement: checked against the epoch when replicas share the store."""
        if self.fencing is None:
            return await self._write(sql, params)
        async with self._leader_tx() as c:
            return int((await c.execute(sql, params)).rowcount)

    async def mark_sent(self, row_id: int, now_ms: int) -> None:
        await self._leader_write(
            "UPDATE outbox SET status = 'sent', sent_ms = ?, attempts = attempts + 1 WHERE id = ?",
            (now_ms, row_id),
        )

    async def mark_sent_many(self, marks: Sequence[tuple[int, int]]) -> None:
        """(row id, sent ms) of many sent rows in one transaction: Delivery's group commit."""
        if not marks:
            return
        async with self._leader_tx() as c:  # the leader's (fenced when replicas share it)
            await c.executemany(
                "UPDATE outbox SET status = 'sent', sent_ms = ?, attempts = attempts + 1 "
                "WHERE id = ?",
                [(ms, row_id) for row_id, ms in marks],
            )

    async def mark_retry(self, row_id: int, next_ms: int, error: str) -> None:
        await self._leader_write(
            "UPDATE outbox SET next_ms = ?, last_error = ?, attempts = attempts + 1 WHERE id = ?",
            (next_ms, error, row_id),
        )

    async def mark_dead(self, row_id: int, reason: str) -> None:
        await self._leader_write(
            "UPDATE outbox SET status = 'dead', last_error = ? WHERE id = ?", (reason, row_id)
        )

    async def outbox_status(self, row_id: int) -> tuple[str, int, int, str | None] | None:
        """(status, attempts, next_ms, last_error) of one row: for diagnostics and tests."""
        row = await self._one(
            "SELECT status, attempts, next_ms, last_error FROM outbox WHERE id = ?", (row_id,)
        )
        return tuple(row) if row else None

    async def prune_outbox(self, before_ms: int) -> int:
        """Drop delivered and dead rows created before `before_ms` (pending rows are kept), and
        the shared bodies of ticks no row is left of."""
        n = await self._write(
            "DELETE FROM outbox WHERE status != 'pending' AND created_ms < ?", (before_ms,)
        )
        # status IN (every status): the outbox_fresh index (status, created_ms) answers it
        await self._write(
            "DELETE FROM outbox_bodies WHERE created_ms < ? AND NOT EXISTS (SELECT 1 FROM "
            "outbox o WHERE o.status IN ('pending', 'sent', 'dead') "
            "AND o.created_ms = outbox_bodies.created_ms)",
            (before_ms,),
        )
        return n
