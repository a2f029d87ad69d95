"""The leadership parts on a real PostgreSQL, in-process: the lock, the lease the server enforces
(idle_session_timeout), the epoch fence of the leader's writes, LISTEN/NOTIFY into the rule book
and Telegram updates claimed once. SQLite: the process leads and nothing is fenced."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.config import ReplicaConfig, Secrets, parse_config
from bot.domain.message import Message
from bot.domain.models import AlertState, Side, Status, Transition
from bot.domain.rules import RuleBook
from bot.ops.leadership import LEADER_LOCK, PgLeadership, SoleLeader
from bot.ops.replicas import RulesSync, build_leadership, leader_only
from bot.runtime import app
from bot.store import BucketRow, Database, OutboxItem
from bot.store.replica_queries import NotLeaderError
from tests.offline import sources_off


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    database = await Database.open(pg_url)
    yield database
    await database.close()


class Clock:
    """A monotonic clock the test moves: a frozen process sees time jump when it thaws."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def leading(lead: PgLeadership) -> int:
    """Run until `lead` took over and made itself ready (as the app does after loading)."""
    gained: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_gain(epoch: int) -> None:
        lead.ready(epoch)
        gained.set_result(epoch)

    lead.on_gain = on_gain
    return await asyncio.wait_for(gained, 20)


@contextlib.asynccontextmanager
async def running(lead: PgLeadership) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(lead.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _lead(db: Database, name: str, **kw: float) -> PgLeadership:
    backend = db.backend
    return PgLeadership(backend.dedicated_connection, name, poll_s=0.2, lease_s=1.0, **kw)  # type: ignore[attr-defined]


async def test_sqlite_process_always_leads_unfenced(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite")
    try:
        lead = build_leadership(ReplicaConfig(id="solo"), db)
        assert isinstance(lead, SoleLeader) and lead.acting()
        assert db.fencing is None  # nothing changes for the embedded default
        assert await db.leader_row() == (0, "", 0)
    finally:
        await db.close()


async def test_one_leader_and_the_standby_takes_over_when_it_goes(db: Database) -> None:
    a, b = _lead(db, "a"), _lead(db, "b")
    async with running(a) as task_a:
        assert await leading(a) == 1
        b_gained = asyncio.ensure_future(leading(b))
        async with running(b):
            await asyncio.sleep(0.6)  # b polls the lock three times while a holds it
            assert not b_gained.done() and not b.acting()
            assert b.leader_id == "a"  # the standby knows who leads
            task_a.cancel()  # a stops: its lock connection closes
            with contextlib.suppress(asyncio.CancelledError):
                await task_a
            assert await b_gained == 2
            assert b.acting() and (await db.leader_row())[:2] == (2, "b")


async def test_the_server_frees_a_silent_holders_lock(db: Database, pg_url: str) -> None:
    """A frozen leader cannot speak: PostgreSQL ends its session after the lease, so the lock
    (which lives and dies with the session) is free for the standby."""
    frozen = await asyncpg.connect(pg_url)
    await frozen.execute("SET idle_session_timeout = 1000")
    assert await frozen.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK)
    b = _lead(db, "b")
    async with running(b):
        assert await leading(b) == 1  # within about a second of silence
    assert frozen.is_closed() or not await _alive(frozen)


async def _alive(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
        return True
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return False


async def test_lapsed_lease_stops_acting_without_any_io(db: Database) -> None:
    mono = Clock()
    a = _lead(db, "a", monotonic=mono)
    async with running(a):
        await leading(a)
        assert a.acting() and a.fence() == 1
        mono.t += 60  # frozen for a minute: on waking, before any heartbeat runs
        assert not a.acting() and a.fence() is None


async def test_writes_of_a_replaced_leader_are_refused(db: Database, pg_url: str) -> None:
    sub = await db.add_subscription("telegram:1", "BTC", 60, Side.LONG, 1e6, 0)
    rows = await _outbox_row(db)
    db.fencing = lambda: 0  # the old leader's belief (epoch 0), were its lease check wrong
    await db.mark_retry(rows, 5, "try later")  # epoch 0 is current: allowed
    other = await asyncpg.connect(pg_url)  # the takeover of another replica
    await other.execute("UPDATE leadership SET epoch = 1, leader = 'b' WHERE id = 1")
    await other.close()
    fired = AlertState(sub.id, Status.FIRED, 1, 1, 10, 10)
    item = OutboxItem("telegram:1", Message(title="x"), "k2", 10)
    with pytest.raises(NotLeaderError, match="moved on"):
        await db.commit_transitions([Transition(sub.id, AlertState(sub.id), fired)], [item])
    for write in (
        db.mark_sent(rows, 20),
        db.mark_retry(rows, 20, "x"),
        db.mark_dead(rows, "x"),
        db.enqueue([item]),
        db.upsert_buckets([BucketRow(60_000, "BTC", "binance", 1.0, 2.0)]),
    ):
        with pytest.raises(NotLeaderError):
            await write
    assert await db.load_states() == {}
    assert await db.outbox_status(rows) == ("pending", 1, 5, "try later")
    assert await db.load_buckets(0) == []
    db.fencing = lambda: None  # a standby
    with pytest.raises(NotLeaderError, match="does not lead"):
        await db.mark_sent(rows, 30)


async def _outbox_row(db: Database) -> int:
    await db.enqueue([OutboxItem("telegram:1", Message(title="hi"), "k1", 0)])
    (row,) = await db.due_outbox(0, 10)
    return row.id


async def test_a_fenced_write_in_progress_holds_the_takeover_back(
    db: Database, pg_url: str
) -> None:
    """The share lock: a takeover waits for the old leader's write to commit, so the new
    leader reads it (it never commits after the takeover)."""
    row = await _outbox_row(db)
    db.fencing = lambda: 0
    other = await asyncpg.connect(pg_url)
    async with db._leader_tx() as c:  # the old leader, mid-write
        await c.execute("UPDATE outbox SET attempts = 7 WHERE id = ?", (row,))
        takeover = asyncio.ensure_future(
            other.fetchval("UPDATE leadership SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch")
        )
        await asyncio.sleep(0.3)
        assert not takeover.done()  # blocked behind the write
    assert await takeover == 1
    assert await other.fetchval("SELECT attempts FROM outbox WHERE id = $1", row) == 7
    await other.close()


async def test_subscription_changes_reach_the_leaders_book(db: Database, pg_url: str) -> None:
    """NOTIFY in the transaction of the change; the leader syncs that chat's rules."""
    book = RuleBook()
    sync = RulesSync(db, book)
    a = _lead(db, "a")
    a.on_rules_changed = sync.notice
    worker = asyncio.create_task(sync.run())
    try:
        async with running(a):
            await leading(a)
            other = await Database.open(pg_url)  # another replica answering a command
            try:
                sub = await other.add_subscription("telegram:5", "ETH", 60, Side.SHORT, 2e6, 0)
                await _until(lambda: book.subscription(sub.id) == sub)
                await other.remove_subscription("telegram:5", sub.id)
                await _until(lambda: book.subscription(sub.id) is None)
                kept = await other.add_subscription("telegram:6", "BTC", 5, Side.LONG, 1e6, 0)
                await _until(lambda: book.subscription(kept.id) is not None)
                await other.migrate_chat("telegram:6", "telegram:-1006")
                await _until(lambda: book.subscription(kept.id).chat_key == "telegram:-1006")  # type: ignore[union-attr]
            finally:
                await other.close()
    finally:
        worker.cancel()


async def _until(pred: object, timeout: float = 10.0) -> None:
    """Poll the book (NOTIFY arrives on its own time) until the predicate holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():  # type: ignore[operator]
        assert loop.time() < end, "the change never reached the leader's book"
        await asyncio.sleep(0.02)


async def test_an_update_delivered_twice_is_claimed_once(db: Database, pg_url: str) -> None:
    other = await Database.open(pg_url)
    try:
        first = await asyncio.gather(
            db.claim_update(424242, 1, bot_id=7),
            other.claim_update(424242, 1, bot_id=7),
            db.claim_update(424242, 2, bot_id=7),
        )
        assert sorted(first) == [False, False, True]
        assert await other.claim_update(424242, 2, bot_id=8)  # another bot's update 424242
        assert await other.prune_updates(before_ms=3) == 2
        assert await db.claim_update(424242, 3, bot_id=7)  # forgotten after the day
    finally:
        await other.close()


async def test_replicas_starting_together_write_the_broadcasts_once(pg_url: str) -> None:
    """Replicas write the declared broadcasts at start in turn (an advisory lock), so two
    started at the same moment do not both add them."""

    def config(name: str) -> Any:
        return parse_config(
            {
                "storage": {"url": pg_url},
                "replica": {"id": name, "poll": 0.2, "lease": 1},
                "sources": sources_off(),
                "console": {"enabled": "off"},
                "broadcasts": [{"chat": str(c), "rule": "btc 1h 100m"} for c in (11, 12, 13)],
            }
        )

    rts = await asyncio.gather(*(app.build(config(n), Secrets()) for n in ("a", "b")))
    try:
        await asyncio.gather(*(app.start(rt) for rt in rts))
        loop = asyncio.get_running_loop()
        end = loop.time() + 20
        while not any(rt.leadership.acting() for rt in rts):  # type: ignore[union-attr]
            assert loop.time() < end, "nobody took the lead"
            await asyncio.sleep(0.05)
        assert sum(rt.leadership.acting() for rt in rts) == 1  # type: ignore[union-attr]
        leader = next(rt for rt in rts if rt.leadership.acting())  # type: ignore[union-attr]
        assert len(leader.book) == 3
        subs = await rts[0].db.all_subscriptions()
        assert sorted(s.chat_key for s in subs) == ["telegram:11", "telegram:12", "telegram:13"]
    finally:
        for rt in rts:
            await app.stop(rt)


async def test_leader_only_jobs_skip_on_a_standby_and_end_quietly_when_refused() -> None:
    class Standby(SoleLeader):
        def __init__(self, acting: bool) -> None:
            super().__init__("x")
            self._acting = acting

        def acting(self) -> bool:
            return self._acting

    ran: list[str] = []

    async def job() -> None:
        ran.append("job")

    await leader_only(Standby(False), job)()
    assert ran == []  # a standby does not run it

    async def drain_refused() -> None:  # the drain's task group: every chat refused
        async with asyncio.TaskGroup() as tg:
            for _ in range(3):
                tg.create_task(_refuse())

    await leader_only(Standby(True), drain_refused)()  # ends without an error to report

    async def drain_broken() -> None:  # chats that failed for different reasons
        raise ExceptionGroup("drain", [NotLeaderError("moved on"), ValueError("a real bug")])

    with pytest.raises(ExceptionGroup) as raised:
        await leader_only(Standby(True), drain_broken)()
    assert [type(e) for e in raised.value.exceptions] == [ValueError]  # real failures still count


async def _refuse() -> None:
    raise NotLeaderError("leadership moved on")
