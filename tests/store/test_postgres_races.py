"""What SQLite's single writer gave for free, PostgreSQL's concurrent sessions must not break: a
subscription deleted (by a command, on any replica) while a tick commits its state."""

from __future__ import annotations

import asyncio

import asyncpg

from bot.domain.message import Message
from bot.domain.models import AlertState, Side, Status, Transition
from bot.store import Database, OutboxItem
from tests.pg import PgServer

T = 1_800_000_000_000


async def waiting_for_a_lock(conn: asyncpg.Connection, task: asyncio.Task[None]) -> None:
    """Until another session waits on a row lock (polled: PostgreSQL sends no event for it)."""
    for _ in range(500):
        assert not task.done(), "the tick did not wait for the deleting session"
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND pid != pg_backend_pid()"
        )
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the tick never reached the locked row")


async def test_a_tick_racing_a_deletion_skips_that_state_and_keeps_the_rest(
    pg_server: PgServer,
) -> None:
    url = await pg_server.create_schema()
    db = await Database.open(url)
    other = await asyncpg.connect(url)  # another session: a command elsewhere
    try:
        gone = await db.add_subscription("telegram:1", "BTC", 60, Side.TOTAL, 1e8, T)
        kept = await db.add_subscription("telegram:2", "BTC", 60, Side.TOTAL, 1e8, T)
        moves = [
            Transition(s.id, AlertState(s.id), AlertState(s.id, Status.FIRED, 1, 1, T, T))
            for s in (gone, kept)
        ]
        items = [OutboxItem("telegram:2", Message("alert"), "k", T)]
        tx = other.transaction()
        await tx.start()
        await other.execute("DELETE FROM subscriptions WHERE id = $1", gone.id)  # not committed
        tick = asyncio.create_task(db.commit_transitions(moves, items))
        await waiting_for_a_lock(other, tick)  # it reached the row the deletion holds
        await tx.commit()
        await asyncio.wait_for(tick, 10)  # no foreign-key failure: the tick went through
        assert set(await db.load_states()) == {kept.id}
        assert [r.message.title for r in await db.due_outbox(T + 1, 10)] == ["alert"]
    finally:
        await other.close()
        await db.close()
