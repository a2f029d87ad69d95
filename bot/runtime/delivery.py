"""Delivery of outbox messages to the platforms: the Sender port and its outcomes.

The Delivery loop (draining the outbox) lives below these types.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from bot.domain.message import Message

if TYPE_CHECKING:
    from bot.store import Database, OutboxRow


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # transient: network, 5xx, 429; try again after `retry_after` seconds
    PERMANENT = "permanent"  # blocked, kicked, chat gone: pause the chat
    MIGRATED = "migrated"  # the chat has a new key (Telegram group -> supergroup)


@dataclass(frozen=True, slots=True)
class SendOutcome:
    outcome: Outcome
    retry_after: float = 0.0
    reason: str = ""
    new_chat_key: str = ""

    @classmethod
    def sent(cls) -> SendOutcome:
        return cls(Outcome.SENT)

    @classmethod
    def retry(cls, after_s: float = 0.0, reason: str = "") -> SendOutcome:
        return cls(Outcome.RETRY, retry_after=after_s, reason=reason)

    @classmethod
    def permanent(cls, reason: str) -> SendOutcome:
        return cls(Outcome.PERMANENT, reason=reason)

    @classmethod
    def migrated(cls, new_chat_key: str, reason: str = "") -> SendOutcome:
        return cls(Outcome.MIGRATED, new_chat_key=new_chat_key, reason=reason)


class Sender(Protocol):
    platform: str

    async def send(self, chat_key: str, message: Message, *, delivery_id: str = "") -> SendOutcome:
        """Deliver one message; never raises: every failure is an outcome. `delivery_id` is the
        outbox row's id, the same on every retry (the webhook sender's webhook-id)."""
        ...


def platform_of(chat_key: str) -> str:
    return chat_key.split(":", 1)[0]


# ---- the outbox drain ------------------------------------------------------------------------

log = logging.getLogger(__name__)

# Telegram bot tokens ("123456:AA..."), Discord tokens and anything long and opaque.
_SECRETISH = re.compile(r"\d{5,}:[\w-]{20,}|[\w-]{24,}\.[\w-]{6}\.[\w-]{20,}|[A-Za-z0-9_\-]{40,}")


def redact(text: str, limit: int = 300) -> str:
    """A reason fit for a log line or the database: no token-looking strings, bounded length."""
    return _SECRETISH.sub("<redacted>", text)[:limit]


@dataclass
class DrainStats:
    fetched: int = 0  # due rows taken in this pass
    sent: int = 0
    retried: int = 0
    dead: int = 0
    paused: int = 0  # chats paused in this pass
    migrated: int = 0
    expired: int = 0  # alerts dropped unsent: older than their own window


PREFETCH_MAX_AGE_MS = 1_000  # a prefetched batch older than this is read again


class _Pass:
    """One drain pass's progress, for the prefetch: when every chat has started sending, which
    chat keys are still sending, and every key a chat moved to during the pass."""

    def __init__(self, chats: int) -> None:
        self._waiting = chats
        self.all_started = asyncio.Event()
        self.busy: Counter[str] = Counter()  # tasks sending to each key (a move may share one)
        self.moved: set[str] = set()
        if chats == 0:
            self.all_started.set()

    def started(self) -> None:
        self._waiting -= 1
        if self._waiting <= 0:
            self.all_started.set()

    def sending(self) -> set[str]:
        return {k for k, n in self.busy.items() if n > 0}


class Delivery:
    """Drains the outbox: per-chat order, chats concurrently, retries with backoff.

    The store hands out channels and the freshest alerts first; an alert older than its own
    window is dropped (and counted for /status) rather than sent late.

    `clock` returns milliseconds; tests inject one so no real time passes.
    """

    def __init__(
        self,
        db: Database,
        senders: Mapping[str, Sender],
        clock: Callable[[], int],
        max_concurrency: int = 64,
        max_attempts: int = 12,
        max_age_ms: int = 6 * 3_600_000,  # an alert hours late is noise
        batch: int = 500,
        base_backoff_s: float = 1.0,
        max_backoff_s: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        self._db = db
        self._senders = dict(senders)
        self._clock = clock
        self._sem = asyncio.Semaphore(max_concurrency)
        self._max_attempts = max_attempts
        self._max_age_ms = max_age_ms
        self._batch = batch
        self._base_s = base_backoff_s
        self._cap_s = max_backoff_s
        self._rng = rng or random.Random()
        self._drain_lock = asyncio.Lock()
        self._warned_platforms: set[str] = set()
        self._platforms_checked_ms: int | None = None
        # (platform, outcome, reason) after every send decision: metrics and delivery health
        self.on_outcome: Callable[[str, str, str], None] = lambda p, o, r: None
        # (chat key, message) -> the message to send: draws an alert's chart (the app sets it)
        self.prepare: Callable[[str, Message], Awaitable[Message]] | None = None
        # replicas: False once this process no longer leads (checked before every send)
        self.may_send: Callable[[], bool] = lambda: True
        # group commit of sent marks: (row id, sent ms, the sender waiting for it)
        self._marks: list[tuple[int, int, asyncio.Future[None]]] = []
        self._marker: asyncio.Task[None] | None = None
        # (read at ms, rows): the next pass's rows, read during this one's tail (_prefetch)
        self._prefetched: tuple[int, list[OutboxRow], _Pass] | None = None

    def backoff_ms(self, attempts: int, retry_after_s: float = 0.0) -> int:
        """Jittered exponential delay (half to all of base * 2**attempts, capped), never less
        than what the platform asked for."""
        exp = min(self._cap_s, self._base_s * 2 ** min(attempts, 30))
        delay = exp * self._rng.uniform(0.5, 1.0)
        return int(max(retry_after_s, delay) * 1000)

    async def drain(self) -> DrainStats:
        """One pass over the due rows. Passes never overlap (a second caller waits)."""
        async with self._drain_lock:
            stats = DrainStats()
            await self._note_platforms_off()
            now = self._clock()
            stats.expired = await self._db.expire_outbox(now)
            if stats.expired:
                log.warning("%d alert(s) dropped unsent: older than their window", stats.expired)
            rows = self._take_prefetched(now)  # taken either way: it is for this pass only
            if rows is None or stats.expired:  # rows read ahead may just have expired
                rows = await self._db.due_outbox(now, self._batch, platforms=self._senders)
            stats.fetched = len(rows)
            by_chat: dict[str, list[OutboxRow]] = {}
            for row in rows:  # chats freshest first, each chat's rows in order
                by_chat.setdefault(row.chat_key, []).append(row)
            run = _Pass(len(by_chat))
            async with asyncio.TaskGroup() as tg:
                for chat_rows in by_chat.values():
                    tg.create_task(self._drain_chat(chat_rows, stats, run))
                if len(rows) >= self._batch:  # a full batch: more are likely due
                    tg.create_task(self._prefetch(run))
            return stats

    async def _prefetch(self, run: _Pass) -> None:
        """The next pass's rows, read while this pass's last sends are in flight.

        Between passes the sends stopped for the fetch (~50 ms each: a 100,000-chat fan-out made
        200 passes, 10% of its time). Read once every chat of this pass has started, leaving out
        the chats still sending (and the keys they moved to): their rows are pending until their
        task ends, and only their own task may send them. Used by the next pass if it comes
        within PREFETCH_MAX_AGE_MS; otherwise dropped, and the rows stay pending."""
        try:
            await run.all_started.wait()
            busy = run.sending()
            at = self._clock()
            rows = await self._db.due_outbox(at, self._batch + len(busy), platforms=self._senders)
        except Exception:  # the next pass reads them itself; never fail this pass's sends
            log.exception("outbox prefetch failed")
            return
        self._prefetched = (at, [r for r in rows if r.chat_key not in busy], run)

    def _take_prefetched(self, now: int) -> list[OutboxRow] | None:
        got, self._prefetched = self._prefetched, None
        if got is None or not 0 <= now - got[0] <= PREFETCH_MAX_AGE_MS:
            return None
        _, rows, run = got
        # a chat that moved after the read: its rows there were its old task's to send
        rows = [r for r in rows if r.chat_key not in run.moved][: self._batch]
        # none left (the tail's chats had them all): read afresh, so that a pass finding
        # nothing always means nothing is due
        return rows or None

    async def run_forever(self, wake: asyncio.Event, interval_s: float = 1.0) -> None:
        """Drain when `wake` is set (a tick enqueued alerts) and every `interval_s` (retries
        coming due). Returns only by cancellation."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval_s)
            wake.clear()
            try:
                stats = await self.drain()
                # a full batch that made progress: more rows may be due right now
                while stats.fetched >= self._batch and stats.sent + stats.dead > 0:
                    stats = await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox drain failed; trying again later")

    async def _note_platforms_off(self) -> None:
        # a scan of every pending row: once a minute, not every pass (a 100,000-chat fan-out
        # makes 200 passes, and the scan held each one up by 16 ms)
        now = self._clock()
        if self._platforms_checked_ms is not None and now - self._platforms_checked_ms < 60_000:
            return
        self._platforms_checked_ms = now
        off = await self._db.pending_platforms() - self._senders.keys()
        for platform in sorted(off - self._warned_platforms):
            log.warning("outbox holds messages for %s, which is off; they stay queued", platform)
        self._warned_platforms |= off

    async def _drain_chat(self, rows: list[OutboxRow], stats: DrainStats, run: _Pass) -> None:
        key = rows[0].chat_key  # follows a migration for the rest of the chat's rows
        keys = {key}  # every key this task sends to (the prefetch leaves their rows alone)
        run.busy[key] += 1
        try:
            async with self._sem:
                run.started()
                for row in rows:
                    go_on, key = await self._deliver(row, key, stats)
                    if key not in keys:  # moved: the new key is this task's too
                        keys.add(key)
                        run.busy[key] += 1
                        run.moved.add(key)
                    if not go_on:
                        return  # backing off or paused: the rest wait, in order
        finally:
            run.busy.subtract(keys)

    async def _deliver(self, row: OutboxRow, key: str, stats: DrainStats) -> tuple[bool, str]:
        """Send one row to `key`; returns (may the chat's next row follow now, the chat key)."""
        now = self._clock()
        if now - row.created_ms > self._max_age_ms:
            await self._db.mark_dead(row.id, "too old to deliver")
            self.on_outcome(platform_of(key), "expired", "too old to deliver")
            log.warning(
                "outbox row %d to %s dropped: older than %d min",
                row.id,
                key,
                self._max_age_ms // 60_000,
            )
            stats.dead += 1
            return True, key
        migrated = False
        while True:
            if not self.may_send():
                return False, key  # the leader sends it (this row is still pending)
            outcome = await self._send(key, row)
            now = self._clock()
            self.on_outcome(platform_of(key), outcome.outcome.value, redact(outcome.reason))
            if outcome.outcome is Outcome.SENT:
                await self._mark_sent(row.id, now)
                stats.sent += 1
                return True, key
            if outcome.outcome is Outcome.MIGRATED and outcome.new_chat_key and not migrated:
                await self._db.migrate_chat(key, outcome.new_chat_key, now, as_leader=True)
                log.info("chat %s moved to %s; resending", key, outcome.new_chat_key)
                stats.migrated += 1
                key, migrated = outcome.new_chat_key, True
                continue
            if outcome.outcome is Outcome.PERMANENT:
                reason = redact(outcome.reason or "permanent failure")
                await self._db.mark_dead(row.id, reason)
                stats.dead += 1
                if await self._db.pause_chat(key, reason, now, as_leader=True):
                    stats.paused += 1
                    log.warning("chat %s paused (resume with /start): %s", key, reason)
                return False, key
            # RETRY, or a migration we will not follow twice in a row
            reason = redact(outcome.reason or outcome.outcome.value)
            attempts = row.attempts + 1
            if attempts >= self._max_attempts:
                await self._db.mark_dead(row.id, f"gave up after {attempts} attempts: {reason}")
                log.warning(
                    "outbox row %d to %s dropped after %d attempts: %s",
                    row.id,
                    key,
                    attempts,
                    reason,
                )
                stats.dead += 1
                return True, key  # the next row gets its own chance
            next_ms = now + self.backoff_ms(row.attempts, outcome.retry_after)
            await self._db.mark_retry(row.id, next_ms, reason)
            stats.retried += 1
            return False, key

    async def _mark_sent(self, row_id: int, now: int) -> None:
        """Mark a row sent; returns once it is stored, as a write of its own would. Marks that
        arrive while one transaction is being written go together in the next (group commit):
        at 1,000 sends a second one transaction per mark was the drain's largest database
        cost, and a kill still loses only what was in flight (no mark waits for a batch)."""
        done = asyncio.get_running_loop().create_future()
        self._marks.append((row_id, now, done))
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._write_marks())
        await done

    async def _write_marks(self) -> None:
        while self._marks:
            batch, self._marks = self._marks, []
            try:
                await self._db.mark_sent_many([(row_id, ms) for row_id, ms, _ in batch])
            except Exception as exc:  # each sender sees the failure, as with a write of its own
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            except BaseException:  # cancelled (shutdown): nobody learns the rows were stored
                for *_, done in batch + self._marks:
                    done.cancel()
                raise
            for *_, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _send(self, key: str, row: OutboxRow) -> SendOutcome:
        sender = self._senders.get(platform_of(key))
        if sender is None:  # only after a migration across platforms; fetches filter by sender
            return SendOutcome.retry(0.0, f"no sender for {platform_of(key)}")
        message = row.message
        if message.chart is not None and self.prepare is not None:
            try:
                message = await self.prepare(key, message)
            except asyncio.CancelledError:
                raise
            except Exception:  # the alert matters more than its picture: send the text
                log.exception("preparing row %d for %s failed; sending it as it is", row.id, key)
        try:
            return await sender.send(key, message, delivery_id=str(row.id))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the port says it never raises; a bug there must not stop us
            log.error("sender %s raised %s on row %d", sender.platform, type(exc).__name__, row.id)
            return SendOutcome.retry(0.0, f"sender raised {type(exc).__name__}")
