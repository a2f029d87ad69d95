"""Which replica leads: one process on SQLite always does; on PostgreSQL, the holder of an
advisory lock on a connection of its own (docs/scaling.md, "Replicas and failover").

The lock connection is also the leader's lease. It sets `idle_session_timeout` on itself, so
the server ends the session (and frees the lock) when the leader has not spoken for `lease_s`:
its process died (the socket closes: at once), its machine vanished or it was frozen (after
`lease_s`). The leader speaks every `poll_s` and trusts itself to lead only until `lease_s -
poll_s` after the last heartbeat it sent, which is before the server can free the lock; a
process frozen past that finds its lease lapsed the moment it runs again, before any timer or
socket wakes its other work. Every takeover increments the epoch in the `leadership` row, and
the leader's writes check it in their own transaction (bot/store/replica_queries.py): fencing
that holds even if the local lease were wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bot.store.replica_queries import RULES_CHANNEL

log = logging.getLogger(__name__)

LEADER_LOCK = 0x6C697162_6C656164  # "liqblead": any fixed number, the same in every replica


def default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Leadership(Protocol):
    replica_id: str
    leader_id: str  # who leads, as far as this replica knows ("" before anyone did)

    def acting(self) -> bool:
        """True while this replica leads and may evaluate, deliver and write as the leader."""
        ...

    def fence(self) -> int | None:
        """The epoch to fence the leader's writes with; None while not acting."""
        ...


class SoleLeader:
    """One process on its own store (SQLite): it always leads, nothing is fenced."""

    def __init__(self, replica_id: str) -> None:
        self.replica_id = self.leader_id = replica_id
        self.epoch: int | None = 0

    def acting(self) -> bool:
        return True

    def fence(self) -> int | None:
        return 0


Connect = Callable[[], Awaitable[Any]]  # -> a new asyncpg.Connection


class PgLeadership:
    """Standby until it takes the advisory lock; leader until its lock connection fails.

    `on_gain(epoch)` runs (as its own task) after a takeover; `ready()` tells that the replica
    has loaded what it needs, and only then does `acting()` turn true. `on_lose(reason)` runs
    once when leadership is lost; the app stops the process then (docs/scaling.md).
    `on_rules_changed(chat_key)` receives the LISTEN notices while leading.
    """

    def __init__(
        self,
        connect: Connect,
        replica_id: str,
        *,
        poll_s: float = 1.0,
        lease_s: float = 5.0,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if lease_s < 2 * poll_s:
            raise ValueError("the lease must be at least two polls long")
        self._connect = connect
        self.replica_id = replica_id
        self.leader_id = ""
        self.poll_s, self.lease_s = poll_s, lease_s
        self._now_ms, self._mono = now_ms, monotonic
        self.epoch: int | None = None
        self.since_ms: int | None = None
        self.took_over_in_ms: int | None = None  # from the first try to the takeover
        self._ready = False
        self._valid_until = 0.0
        self.on_gain: Callable[[int], Awaitable[None]] = _nothing
        self.on_lose: Callable[[str], Awaitable[None]] = _nothing
        self.on_rules_changed: Callable[[str], None] = lambda chat: None
        self._gain_task: asyncio.Task[None] | None = None
        self.lost = asyncio.Event()

    # ---- what the rest asks ----------------------------------------------------------------
    def acting(self) -> bool:
        return self._ready and self.epoch is not None and self._mono() < self._valid_until

    def fence(self) -> int | None:
        return self.epoch if self.acting() else None

    def ready(self, epoch: int) -> None:
        """The app loaded the store's truth for this epoch: the leader may act now."""
        if self.epoch == epoch:
            self._ready = True

    # ---- the loop ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Until cancelled, or until leadership is lost (then `on_lose` has run)."""
        started = self._mono()
        warned = False
        while not self.lost.is_set():
            try:
                conn = await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if not warned:
                    log.warning("leadership: cannot reach PostgreSQL (retrying): %s", _kind(e))
                    warned = True
                await asyncio.sleep(self.poll_s)
                continue
            warned = False
            try:
                await self._session(conn, started)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2)  # frees the lock at once
                raise
            except Exception as e:
                conn.terminate()
                if self.epoch is not None:
                    await self._step_down(f"lock connection lost: {_kind(e)}")
                    return
                await asyncio.sleep(self.poll_s)

    async def _session(self, conn: Any, started: float) -> None:
        lease_ms = int(self.lease_s * 1000)
        # the server frees our lock when we fall silent (process frozen, machine gone)
        await conn.execute(f"SET idle_session_timeout = {lease_ms}")
        await conn.execute(f"SET idle_in_transaction_session_timeout = {lease_ms}")
        timeout = self.lease_s
        while True:
            sent_at = self._mono()
            if self.epoch is None:
                row = await conn.fetchrow(
                    "SELECT pg_try_advisory_lock($1), (SELECT leader FROM leadership WHERE id = 1)",
                    LEADER_LOCK,
                    timeout=timeout,
                )
                self.leader_id = row[1] or ""
                if row[0]:
                    await self._take_over(conn, started)
            else:
                await conn.fetchval("SELECT 1", timeout=timeout)
                # the server's idle clock started after this statement; ours from before it
                self._valid_until = sent_at + self.lease_s - self.poll_s
            await asyncio.sleep(self.poll_s)

    async def _take_over(self, conn: Any, started: float) -> None:
        # LISTEN before the app reloads the book: no change between the two is missed
        await conn.add_listener(RULES_CHANNEL, self._notice)
        # waits (at most the old leader's idle-in-transaction limit) for a fenced write of a
        # frozen leader to end; then that leader's epoch is over
        now, sent_at = self._now_ms(), self._mono()
        epoch = await conn.fetchval(
            "UPDATE leadership SET epoch = epoch + 1, leader = $1, since_ms = $2 WHERE id = 1 "
            "RETURNING epoch",
            self.replica_id,
            now,
            timeout=2 * self.lease_s,
        )
        self.epoch, self.since_ms, self.leader_id = int(epoch), now, self.replica_id
        self._valid_until = sent_at + self.lease_s - self.poll_s  # that UPDATE spoke for us
        self.took_over_in_ms = int((self._mono() - started) * 1000)
        log.info("leadership: %s leads (epoch %d)", self.replica_id, self.epoch)
        self._gain_task = asyncio.create_task(self._gain(self.epoch), name="leadership:gain")

    async def _gain(self, epoch: int) -> None:
        try:
            await self.on_gain(epoch)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("leadership: taking over failed")
            await self._step_down("taking over failed")

    def _notice(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if self.epoch is not None:
            self.on_rules_changed(payload)

    async def _step_down(self, reason: str) -> None:
        if self.lost.is_set():
            return
        self._ready, self.epoch = False, None  # nothing acts as the leader from here on
        self.lost.set()
        if self._gain_task is not None and not self._gain_task.done():
            self._gain_task.cancel()
        log.warning("leadership: %s no longer leads: %s", self.replica_id, reason)
        await self.on_lose(reason)


async def _nothing(_: Any) -> None:
    return None


def _kind(e: BaseException) -> str:
    """An error's kind and first line: never the URL (which may hold the password)."""
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}"[:200] if text else type(e).__name__
