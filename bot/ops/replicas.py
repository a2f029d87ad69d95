"""The app's side of running replicas: which leadership a store gets, the gate of leader-only
jobs, and the rule book following subscription changes made on other replicas (LISTEN)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.config import ReplicaConfig
from bot.domain.extra_rules import ExtraRules, is_extra
from bot.domain.rules import RuleBook
from bot.ops.leadership import Leadership, PgLeadership, SoleLeader, default_replica_id
from bot.store import Database
from bot.store.replica_queries import NotLeaderError

log = logging.getLogger(__name__)


def build_leadership(cfg: ReplicaConfig, db: Database) -> Leadership:
    """SQLite: this process leads, unfenced. PostgreSQL: the advisory lock decides, and the
    leader's writes are fenced by its epoch."""
    replica_id = cfg.id or default_replica_id()
    if db.dialect != "postgresql":
        return SoleLeader(replica_id)
    backend: Any = db.backend
    lead = PgLeadership(
        backend.dedicated_connection, replica_id, poll_s=cfg.poll, lease_s=cfg.lease
    )
    db.fencing = lead.fence
    return lead


@contextlib.asynccontextmanager
async def one_at_a_time(db: Database, what: str) -> AsyncIterator[None]:
    """Replicas on PostgreSQL take turns (a session advisory lock on a connection of its own,
    freed if we die); SQLite: one process, nothing to wait for."""
    if db.dialect != "postgresql":
        yield
        return
    backend: Any = db.backend
    conn = await backend.dedicated_connection()
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"liqbot:{what}")
        yield
    finally:
        conn.terminate()  # the lock goes with the session


def leader_only(lead: Leadership, job: Callable[[], Awaitable[object]]) -> Callable[[], Any]:
    """A scheduled job that only the acting leader runs; a standby's run is a quiet no-op.

    A write refused by the fence means leadership moved on: the leadership loop notices and
    stops the process; the job itself just ends, without a failure to report.
    """

    async def gated() -> None:
        if not lead.acting():
            return
        try:
            await job()
        except NotLeaderError as e:
            log.warning("leader-only work refused: %s", e)
        except BaseExceptionGroup as eg:  # the drain's task group, one error per chat
            refused, rest = eg.split(NotLeaderError)
            if rest is not None:
                raise rest from None
            assert refused is not None
            first = refused.exceptions[0]
            log.warning("leader-only work refused (%d): %s", len(refused.exceptions), first)

    return gated


class RulesSync:
    """Applies `NOTIFY liqbot_rules '<chat key>'` to the leader's rule book: the chat's
    subscriptions are read from the store and the book made to match (states kept)."""

    def __init__(self, db: Database, book: RuleBook, extras: ExtraRules | None = None) -> None:
        self.db, self.book, self.extras = db, book, extras
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self.applied = 0  # chats synced (for tests and logs)

    def notice(self, chat_key: str) -> None:
        self._pending.add(chat_key)
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            chats, self._pending = self._pending, set()
            try:
                await self.sync(chats)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the next notice, or the next takeover, tries again
                log.warning("rule book sync of %d chat(s) failed: %s", len(chats), e)
                self._pending |= chats

    async def sync(self, chats: set[str]) -> None:
        stored = {}
        for chat in chats:
            stored.update({s.id: s for s in await self.db.list_subscriptions(chat)})
        # one pass over the book for the whole batch of chats
        held = {s.id for s in self.book.subscriptions() if s.chat_key in chats}
        for sub_id in held:
            if sub_id not in stored:
                self.book.remove(sub_id)
        extras = self.extras
        if extras is not None:  # venue, single and relative rules live beside the plain book
            for sub in extras.all():
                if sub.chat_key in chats and stored.get(sub.id) != sub:
                    extras.remove(sub.id)
        for sub in stored.values():
            if is_extra(sub):
                if extras is not None and extras.subscription(sub.id) is None:
                    extras.add(sub, None)
            elif self.book.subscription(sub.id) != sub:
                self.book.add(sub, self.book.state(sub.id) if sub.id in held else None)
        self.applied += len(chats)


@dataclass(frozen=True)
class CaughtUp:
    removed: int
    added: int  # new, or moved to another chat (migrate_chat)
    states_moved: int


async def catch_up(db: Database, book: RuleBook, extras: ExtraRules | None = None) -> CaughtUp:
    """Make a standby's rule book the store's truth at a takeover, without rebuilding it.

    The standby loaded every subscription at start and has kept its own chats' changes since;
    the store's (id, chat_key, number) triples tell what else changed (other replicas' commands,
    chat migrations), and only those rows are read and re-indexed. The states are then set to
    the old leader's. The result is what loading everything again would give (tested), for a
    fraction of the time at a million subscriptions: the full load builds a million objects.
    """
    stored = {i: (chat, number) for i, chat, number in await db.subscription_keys()}
    held = {s.id: s for s in book.subscriptions()}
    if extras is not None:
        held.update((s.id, s) for s in extras.all())

    def drop(sub_id: int) -> None:
        if not book.remove(sub_id) and extras is not None:
            extras.remove(sub_id)

    gone = [i for i in held if i not in stored]
    for sub_id in gone:
        drop(sub_id)
    fresh = [
        i
        for i, key in stored.items()
        if (h := held.get(i)) is None or (h.chat_key, h.number) != key
    ]
    rows = await db.subscriptions_by_id(fresh)
    for sub in rows:
        drop(sub.id)
        if extras is not None and is_extra(sub):  # each rule kind to its own book, as at start
            extras.add(sub, None)
        else:
            book.add(sub, None)
    states = await db.load_states()
    moved = book.sync_states(states) + (extras.sync_states(states) if extras is not None else 0)
    return CaughtUp(len(gone), len(rows), moved)
