"""The store: chats, subscriptions, alert states, mutes, outbox, buckets and gaps.

The queries are written once in SQL that SQLite and PostgreSQL both run (`?` placeholders,
`INSERT ... ON CONFLICT`, `RETURNING`); the backend (bot/store/backend.py, postgres.py) runs them.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from bot.domain.message import Message
from bot.domain.models import AlertState, Side, Status, Subscription, Transition
from bot.domain.moves import StateRow, Transitions
from bot.store.backend import Backend, SqliteBackend
from bot.store.digests import DigestQueries
from bot.store.history import HistoryQueries
from bot.store.location import parse_location
from bot.store.replica_queries import ReplicaQueries
from bot.store.rows import ChatRow, OutboxItem, OutboxRow
from bot.store.settings import OutboxExpiry, Settings

_WHOLE_CHAT = ""  # mutes.coin for "the whole chat"

_STATE_UPDATE = ", ".join(
    f"{c} = excluded.{c}" for c in ("status", "level", "episode", "fired_ms", "last_alert_ms")
)

_SUB_COLS = (
    "id, chat_key, coin, window_min, side, threshold, created_ms, origin, number, venue, kind, "
    "factor"
)


def _guess_kind(chat_key: str) -> str:
    """A chat kind from its key, for chats first seen outside an adapter (config, migration)."""
    if chat_key.startswith("telegram:-"):
        return "group"
    if chat_key.startswith("discord:channel:"):
        return "channel"
    return "private"


def _now_ms(now_ms: int | None) -> int:
    return int(time.time() * 1000) if now_ms is None else now_ms


_SIDES = {s.value: s for s in Side}  # a dict lookup: Side(value) is the slow part at 1M rows


def _sub(row: Any) -> Subscription:
    # positional, in _SUB_COLS order: half the time of keywords and Side() at start-up
    (sub_id, chat_key, coin, window, side, threshold, created_ms, origin, number,
     venue, kind, factor) = row  # fmt: skip
    return Subscription(
        sub_id,
        chat_key,
        coin,
        window,
        _SIDES[side],
        threshold,
        created_ms,
        origin,
        number or 0,
        venue,
        kind or "window",
        factor,
    )


def _message_json(message: Message) -> str:
    return json.dumps(message.to_dict(), separators=(",", ":"), ensure_ascii=False)


class Database(HistoryQueries, Settings, OutboxExpiry, DigestQueries, ReplicaQueries):
    """The store's one interface, over SQLite or PostgreSQL (bot/store/backend.py)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
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

    # ---- chats -------------------------------------------------------------------------------

    async def ensure_chat(
        self, chat_key: str, kind: str = "private", now_ms: int | None = None
    ) -> None:
        # The adapter knows the kind best: the latest one it reports wins.
        await self._write(
            "INSERT INTO chats (chat_key, kind, created_ms) VALUES (?, ?, ?) "
            "ON CONFLICT(chat_key) DO UPDATE SET kind = excluded.kind",
            (chat_key, kind, _now_ms(now_ms)),
        )

    async def get_chat(self, chat_key: str) -> ChatRow | None:
        row = await self._one(
            "SELECT chat_key, kind, paused_reason, created_ms, paused_ms FROM chats "
            "WHERE chat_key = ?",
            (chat_key,),
        )
        return ChatRow(*row) if row else None

    async def pause_chat(
        self, chat_key: str, reason: str, now_ms: int | None = None, *, as_leader: bool = False
    ) -> bool:
        """Stop delivering to (and evaluating for) a chat. True only the first time.

        `as_leader`: delivery's pause after a permanent failure, a leader-only write, fenced
        when replicas share the store (NotLeaderError after a takeover). Without it: a chat
        adapter's pause (blocked, kicked), which any replica serving a webhook may make.
        """
        now_ms = _now_ms(now_ms)
        async with self._leader_tx() if as_leader else self._tx() as c:
            await c.execute(
                "INSERT INTO chats (chat_key, kind, created_ms) VALUES (?, ?, ?) "
                "ON CONFLICT(chat_key) DO NOTHING",
                (chat_key, _guess_kind(chat_key), now_ms),
            )
            cur = await c.execute(
                "UPDATE chats SET paused_reason = ?, paused_ms = ? "
                "WHERE chat_key = ? AND paused_reason IS NULL",
                (reason or "paused", now_ms, chat_key),
            )
            return cur.rowcount > 0

    async def resume_chat(self, chat_key: str) -> bool:
        n = await self._write(
            "UPDATE chats SET paused_reason = NULL, paused_ms = NULL "
            "WHERE chat_key = ? AND paused_reason IS NOT NULL",
            (chat_key,),
        )
        return n > 0

    async def migrate_chat(
        self, old_key: str, new_key: str, now_ms: int | None = None, *, as_leader: bool = False
    ) -> None:
        """A chat got a new key (Telegram group -> supergroup): move what belongs to it.

        `as_leader` as for pause_chat: delivery's move (fenced) or the adapter's (any replica).
        """
        if old_key == new_key:
            return
        now_ms = _now_ms(now_ms)
        async with self._leader_tx() if as_leader else self._tx() as c:
            async with c.execute("SELECT kind FROM chats WHERE chat_key = ?", (old_key,)) as cur:
                row = await cur.fetchone()
            kind = row[0] if row else _guess_kind(new_key)
            await c.execute(
                "INSERT INTO chats (chat_key, kind, created_ms) VALUES (?, ?, ?) "
                "ON CONFLICT(chat_key) DO UPDATE SET paused_reason = NULL, paused_ms = NULL",
                (new_key, kind, now_ms),
            )
            # numbers move along, after the new chat's own (usually none): none collide
            async with c.execute(
                "SELECT chat_key, last_number FROM chats WHERE chat_key IN (?, ?)",
                (old_key, new_key),
            ) as cur:
                last = {r[0]: r[1] for r in await cur.fetchall()}
            await c.execute(
                "UPDATE subscriptions SET chat_key = ?, number = number + ? WHERE chat_key = ?",
                (new_key, last.get(new_key, 0), old_key),
            )
            await c.execute(
                "UPDATE chats SET last_number = ? WHERE chat_key = ?",
                (last.get(new_key, 0) + last.get(old_key, 0), new_key),
            )
            # a mute already on the new key for the same coin gives way to the moving one
            await c.execute(
                "DELETE FROM mutes WHERE chat_key = ? "
                "AND coin IN (SELECT coin FROM mutes WHERE chat_key = ?)",
                (new_key, old_key),
            )
            await c.execute("UPDATE mutes SET chat_key = ? WHERE chat_key = ?", (new_key, old_key))
            await c.execute(
                "UPDATE outbox SET chat_key = ? WHERE chat_key = ? AND status = 'pending'",
                (new_key, old_key),
            )
            # the digest follows unless the new chat has its own
            await c.execute(
                "UPDATE digests SET chat_key = ? WHERE chat_key = ? "
                "AND NOT EXISTS (SELECT 1 FROM digests d WHERE d.chat_key = ?)",
                (new_key, old_key, new_key),
            )
            await c.execute(
                "UPDATE chats SET paused_reason = ?, paused_ms = ? WHERE chat_key = ?",
                (f"migrated to {new_key}", now_ms, old_key),
            )
            await self._rules_changed(c, old_key)
            await self._rules_changed(c, new_key)
        for listener in self.on_chat_migrated:
            listener(old_key, new_key)

    # ---- subscriptions -----------------------------------------------------------------------

    async def add_subscription(
        self,
        chat_key: str,
        coin: str,
        window: int,
        side: Side,
        threshold: float,
        now_ms: int,
        origin: str = "user",
        *,
        venue: str | None = None,
        kind: str = "window",
        factor: float | None = None,
    ) -> Subscription:
        async with self._tx() as c:
            await c.execute(
                "INSERT INTO chats (chat_key, kind, created_ms) VALUES (?, ?, ?) "
                "ON CONFLICT(chat_key) DO NOTHING",
                (chat_key, _guess_kind(chat_key), now_ms),
            )
            number = None
            if origin != "config":  # the operator's rules take none of the chat's numbers
                async with c.execute(
                    "UPDATE chats SET last_number = last_number + 1 WHERE chat_key = ? "
                    "RETURNING last_number",
                    (chat_key,),
                ) as cur:
                    row = await cur.fetchone()
                assert row is not None
                number = int(row[0])
            async with c.execute(
                "INSERT INTO subscriptions "
                "(chat_key, coin, window_min, side, threshold, origin, created_ms, number, "
                "venue, kind, factor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    chat_key,
                    coin,
                    int(window),
                    Side(side).value,
                    float(threshold),
                    origin,
                    now_ms,
                    number,
                    venue,
                    kind,
                    factor,
                ),
            ) as cur:
                row = await cur.fetchone()
            assert row is not None
            sub_id = int(row[0])
            await self._rules_changed(c, chat_key)
        return Subscription(
            id=sub_id,
            chat_key=chat_key,
            coin=coin,
            window=int(window),
            side=Side(side),
            threshold=float(threshold),
            created_ms=now_ms,
            origin=origin,
            number=number or 0,
            venue=venue,
            kind=kind,
            factor=factor,
        )

    async def remove_subscription(self, chat_key: str, sub_id: int) -> bool:
        # chat_key in the WHERE: a chat can only remove its own (its state goes by cascade)
        async with self._tx() as c:
            cur = await c.execute(
                "DELETE FROM subscriptions WHERE id = ? AND chat_key = ?", (sub_id, chat_key)
            )
            if cur.rowcount > 0:
                await self._rules_changed(c, chat_key)
            return bool(cur.rowcount > 0)

    async def remove_all_subscriptions(self, chat_key: str) -> int:
        async with self._tx() as c:
            cur = await c.execute("DELETE FROM subscriptions WHERE chat_key = ?", (chat_key,))
            if cur.rowcount > 0:
                await self._rules_changed(c, chat_key)
            return int(cur.rowcount)

    async def list_subscriptions(self, chat_key: str) -> list[Subscription]:
        rows = await self._all(
            f"SELECT {_SUB_COLS} FROM subscriptions WHERE chat_key = ? ORDER BY id", (chat_key,)
        )
        return [_sub(r) for r in rows]

    async def count_subscriptions(self, chat_key: str) -> int:
        row = await self._one("SELECT count(*) FROM subscriptions WHERE chat_key = ?", (chat_key,))
        return int(row[0])

    async def count_active_subscriptions(self) -> int:
        row = await self._one(
            "SELECT count(*) FROM subscriptions s LEFT JOIN chats c ON c.chat_key = s.chat_key "
            "WHERE c.paused_reason IS NULL"
        )
        return int(row[0])

    async def active_subscriptions(self) -> list[Subscription]:
        """Every subscription whose chat is not paused (a chat with no row is not paused)."""
        rows = await self._all(
            f"SELECT {', '.join('s.' + c.strip() for c in _SUB_COLS.split(','))} "
            "FROM subscriptions s LEFT JOIN chats c ON c.chat_key = s.chat_key "
            "WHERE c.paused_reason IS NULL ORDER BY s.id"
        )
        return [_sub(r) for r in rows]

    async def all_subscriptions(self) -> list[Subscription]:
        """Every subscription, paused chats included (the engine silences those)."""
        rows = await self._all(f"SELECT {_SUB_COLS} FROM subscriptions ORDER BY id")
        return [_sub(r) for r in rows]

    async def subscription_keys(self) -> list[tuple[int, str, int]]:
        """(id, chat_key, number) of every subscription: a takeover compares its book with
        these. A row changes in place only when its chat moves (migrate_chat), so with the id
        they tell every added, removed or moved subscription."""
        rows = await self._all("SELECT id, chat_key, number FROM subscriptions ORDER BY id")
        # number is NULL for the operator's broadcasts (origin config): 0, as _sub reads it
        return [(int(r[0]), str(r[1]), int(r[2] or 0)) for r in rows]

    async def subscriptions_by_id(self, ids: Iterable[int]) -> list[Subscription]:
        out: list[Subscription] = []
        wanted = sorted(set(ids))
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ", ".join("?" * len(part))
            rows = await self._all(
                f"SELECT {_SUB_COLS} FROM subscriptions WHERE id IN ({marks}) ORDER BY id",
                tuple(part),
            )
            out.extend(_sub(r) for r in rows)
        return out

    async def paused_chats(self) -> set[str]:
        rows = await self._all("SELECT chat_key FROM chats WHERE paused_reason IS NOT NULL")
        return {r[0] for r in rows}

    async def chats_with_origin(self, origin: str) -> set[str]:
        """Chats holding subscriptions of this origin ("config": declared broadcasts)."""
        rows = await self._all(
            "SELECT DISTINCT chat_key FROM subscriptions WHERE origin = ?", (origin,)
        )
        return {r[0] for r in rows}

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

    async def commit_transitions(
        self,
        transitions: Sequence[Transition] | Transitions,
        outbox: Sequence[OutboxItem],
        also: Sequence[Transition] = (),
    ) -> None:
        """Every new state and every outbox row in ONE transaction, or nothing at all.

        One executemany per table: a crash tick writes hundreds of thousands of states, and a
        round trip to the database thread per row took seconds.
        """
        if isinstance(transitions, Transitions):
            rows: Iterable[StateRow] = transitions.state_rows()
        else:
            rows = [
                (t.sub_id, Status(t.new.status).value, t.new.level, t.new.episode,
                 t.new.fired_ms, t.new.last_alert_ms)
                for t in transitions
            ]  # fmt: skip
        if also:  # the other rule kinds' moves (bot.domain.extra_rules), in the same transaction
            rows = [*rows, *(
                (t.sub_id, Status(t.new.status).value, t.new.level, t.new.episode,
                 t.new.fired_ms, t.new.last_alert_ms)
                for t in also
            )]  # fmt: skip
        async with self._leader_tx() as c:  # fenced when replicas share the store
            # WHERE EXISTS: a subscription removed since the tick evaluated is skipped
            # instead of failing the foreign key and losing everyone else's alerts.
            await c.executemany(
                "INSERT INTO alert_states "
                "(sub_id, status, level, episode, fired_ms, last_alert_ms) "
                "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS "
                f"(SELECT 1 FROM subscriptions WHERE id = ?1{self._backend.key_share_lock()}) "
                f"ON CONFLICT(sub_id) DO UPDATE SET {_STATE_UPDATE}",
                rows,  # read in the database thread: the event loop does not wait for it
            )
            # ON CONFLICT(dedupe_key), not OR IGNORE: that would also swallow NOT NULL and
            # CHECK failures, silently dropping a broken alert instead of failing the tick.
            await c.executemany(
                "INSERT INTO outbox (chat_key, message, dedupe_key, created_ms, next_ms) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING",
                [
                    (i.chat_key, _message_json(i.message), i.dedupe_key, i.created_ms, i.created_ms)
                    for i in outbox
                ],
            )

    async def _insert_outbox(self, c: Any, item: OutboxItem) -> int:
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
        out: list[OutboxRow] = []
        for key in picked:
            for r in by_chat[key]:
                if len(out) >= limit:
                    return out
                out.append(
                    OutboxRow(
                        id=r[0],
                        chat_key=r[1],
                        message=Message.from_dict(json.loads(r[2])),
                        attempts=r[3],
                        created_ms=r[4],
                    )
                )
        return out

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
        """Drop delivered and dead rows created before `before_ms` (pending rows are kept)."""
        return await self._write(
            "DELETE FROM outbox WHERE status != 'pending' AND created_ms < ?", (before_ms,)
        )

    # ---- mutes -------------------------------------------------------------------------------

    async def set_mute(self, chat_key: str, coin: str | None, until_ms: int) -> None:
        await self._write(
            "INSERT INTO mutes (chat_key, coin, until_ms) VALUES (?, ?, ?) "
            "ON CONFLICT(chat_key, coin) DO UPDATE SET until_ms = excluded.until_ms",
            (chat_key, coin or _WHOLE_CHAT, until_ms),
        )

    async def clear_mutes(self, chat_key: str, coin: str | None = None) -> int:
        if coin is None:
            return await self._write("DELETE FROM mutes WHERE chat_key = ?", (chat_key,))
        return await self._write(
            "DELETE FROM mutes WHERE chat_key = ? AND coin = ?", (chat_key, coin)
        )

    async def active_mutes(self, now_ms: int) -> dict[str, dict[str | None, int]]:
        rows = await self._all(
            "SELECT chat_key, coin, until_ms FROM mutes WHERE until_ms > ?", (now_ms,)
        )
        out: dict[str, dict[str | None, int]] = {}
        for chat_key, coin, until_ms in rows:
            out.setdefault(chat_key, {})[coin or None] = until_ms
        return out

    async def prune_mutes(self, now_ms: int) -> int:
        return await self._write("DELETE FROM mutes WHERE until_ms <= ?", (now_ms,))
