"""Daily digests: a sweep, once a minute on the scheduler, enqueues every digest that is due.

Why a sweep fed by the one clock rather than one APScheduler cron trigger per chat:
- the one clock: APScheduler's triggers run on the wall clock, while replays, the demo and tests
  run the service on an injected or accelerated clock; "is it 08:00 in Berlin yet" must read the
  same clock as every window, mute and quiet time;
- exactly once across restarts: the outbox's dedupe key (chat + local date) decides, not a
  trigger's memory, so a restart at 08:00:30 neither loses nor repeats the day's digest, and a
  bot that was down at 08:00 still sends it when it comes back (within CATCH_UP_MS);
- thousands of chats with /digest would be thousands of jobs to keep in step with the table;
  one sweep reads the table (one indexed scan a minute);
- daylight saving: the fire instant comes from zoneinfo for each local date (bot.domain.digest),
  which is what a CronTrigger with that timezone computes too, minus the wall clock.
"""

from __future__ import annotations

import datetime as dtm
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from bot.config import Config
from bot.domain.digest import (
    DAY_MS,
    DigestSpec,
    dedupe_key,
    due,
    parse_local_time,
    render_digest,
)
from bot.domain.models import ALL, Snapshot, SourceStatus
from bot.locale import get_lang
from bot.store import Database, OutboxItem

log = logging.getLogger(__name__)


class Market(Protocol):
    def snapshot(self, now_ms: int) -> Snapshot: ...
    def status(self, now_ms: int) -> list[SourceStatus]: ...


def declared_digests(config: Config) -> list[DigestSpec]:
    """The config's digests (validated at load)."""
    return [DigestSpec(d.chat, parse_local_time(d.at), d.tz, "config") for d in config.digests]


class Digests:
    def __init__(
        self,
        db: Database,
        market: Market,
        clock: Callable[[], int],
        declared: Sequence[DigestSpec] = (),
        on_enqueued: Callable[[], None] = lambda: None,
    ) -> None:
        self.db, self.market, self.clock = db, market, clock
        self.declared = tuple(declared)  # from the config: not stored, read at each start
        self.on_enqueued = on_enqueued
        # saves the newest minute buckets before the store is read (the app sets it)
        self.before: Callable[[], Awaitable[None]] | None = None
        self._done: set[str] = set()  # keys known to be enqueued: no query for them again

    async def specs(self) -> list[DigestSpec]:
        return [*self.declared, *await self.db.all_digests()]

    async def run_due(self) -> int:
        """Enqueue the digests due now; returns how many were new."""
        now = self.clock()
        todo: list[tuple[DigestSpec, str, dtm.date]] = []
        paused = await self.db.paused_chats()
        for spec in await self.specs():
            day = due(spec, now)
            if day is None or spec.chat_key in paused:
                continue
            key = dedupe_key(spec.chat_key, day)
            if key in self._done:
                continue
            if await self.db.outbox_has(key):
                self._done.add(key)
                continue
            todo.append((spec, key, day))
        if not todo:
            return 0
        if self.before is not None:
            await self.before()
        snapshot = self.market.snapshot(now)
        statuses = self.market.status(now)
        minutes = await self.db.chart_buckets(ALL, now - DAY_MS)
        items = []
        try:
            langs = await self.db.chat_langs()
        except Exception:  # a failing lookup: the digests in English rather than none
            log.warning("reading the chats' languages failed; digests in English", exc_info=True)
            langs = {}
        for spec, key, day in todo:
            titles = await self.db.alert_titles(spec.chat_key, now - DAY_MS)
            lang = get_lang(langs.get(spec.chat_key))
            msg = render_digest(spec, day, snapshot, statuses, minutes, titles, lang)
            items.append(OutboxItem(spec.chat_key, msg, key, now))
        n = await self.db.enqueue(items)
        if len(self._done) > 100_000:  # keys of past days: the outbox still knows them
            self._done.clear()
        self._done.update(key for _, key, _ in todo)
        if n:
            log.info("enqueued %d daily digest(s)", n)
            self.on_enqueued()
        return n
