"""One evaluation step: snapshot -> rules -> (states + outbox in one transaction) -> wake delivery."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

from bot.clock import Clock
from bot.domain.extra_rules import ExtraRules
from bot.domain.models import Alert, Snapshot, Subscription, Transition
from bot.domain.render import render_alerts
from bot.domain.render_alerts import AlertContext
from bot.domain.rules import Policy, RuleBook
from bot.insight import SingleOutbox
from bot.market_view import LiveMarket
from bot.store import Database, OutboxItem

log = logging.getLogger(__name__)


def group_alerts(
    transitions: list[Transition],
    now_ms: int,
    snapshot: Snapshot | None = None,
    policy: Policy | None = None,
) -> list[OutboxItem]:
    """Alerts for one chat in one tick become one message; the key makes a retried tick harmless."""
    ctx = AlertContext(snapshot, policy or Policy())  # one per tick: coin rankings computed once
    by_chat: dict[str, list[Alert]] = defaultdict(list)
    for t in transitions:
        if t.alert is not None:
            by_chat[t.alert.sub.chat_key].append(t.alert)
    items = []
    for chat_key, alerts in by_chat.items():
        alerts.sort(key=lambda a: a.sub.id)
        key = "alert:" + ",".join(f"{a.sub.id}.{a.episode}.{a.level}" for a in alerts)
        items.append(OutboxItem(chat_key, render_alerts(alerts, ctx), key, now_ms))
    return items


class Engine:
    def __init__(
        self,
        db: Database,
        book: RuleBook,
        market: LiveMarket,
        clock: Clock,
        on_enqueued: Callable[[], None] = lambda: None,
        extras: ExtraRules | None = None,
    ) -> None:
        self.db, self.book, self.market, self.clock = db, book, market, clock
        self.extras = extras  # venue, relative and single-liquidation rules (issue 14)
        self.singles = SingleOutbox()
        self.on_enqueued = on_enqueued
        self.on_transitions: Callable[[list[Transition]], None] = lambda ts: None  # metrics
        self._lock = asyncio.Lock()
        self.ticks = 0
        self.alerts = 0

    async def tick(self) -> int:
        """Evaluate every subscription once; returns how many messages were enqueued."""
        async with self._lock:  # the scheduled tick and a data-triggered one never overlap
            now = self.clock.now_ms()
            snapshot = self.market.snapshot(now)
            mutes = await self.db.active_mutes(now)
            paused = await self.db.paused_chats()

            def muted(sub: Subscription) -> bool:
                if sub.chat_key in paused:
                    return True
                m = mutes.get(sub.chat_key)
                return bool(m) and (None in m or sub.coin in m)

            transitions = self.book.evaluate(snapshot, now, muted)
            extra: list[Transition] = []
            singles = []
            if self.extras is not None:
                extra = self.extras.evaluate(snapshot, now, muted)
                extras = self.extras
                hits = extras.take_singles()
                singles = self.singles.items(hits, now, muted, extras.singles.__contains__)
            self.ticks += 1
            if not transitions and not extra and not singles:
                return 0
            items = group_alerts(transitions + extra, now, snapshot, self.book.policy) + singles
            await self.db.commit_transitions(transitions + extra, items)
            self.book.apply(transitions)
            if self.extras is not None:
                self.extras.apply(extra)
            transitions = transitions + extra
            self.on_transitions(transitions)
            self.alerts += sum(1 for t in transitions if t.alert is not None)
            if items:
                log.info("enqueued %d alert message(s)", len(items))
                self.on_enqueued()
            return len(items)
