"""One evaluation step: snapshot -> rules -> (states + outbox in one transaction) -> wake delivery.

`tick` evaluates every series (time moves windows, sources come and go); `evaluate_new_data`
only the series the data since the last evaluation touched, so an alert follows its frame
within milliseconds. The two never overlap.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

from bot.domain.extra_rules import ExtraRules
from bot.domain.i18n import Lang
from bot.domain.models import Alert, Snapshot, Subscription, Transition
from bot.domain.moves import Transitions, paused_gc
from bot.domain.quiet import QuietHours, load_quiet
from bot.domain.render_alerts import AlertContext
from bot.domain.rules import Policy, RuleBook, SeriesKey
from bot.features.insight import SingleOutbox
from bot.locale import get_lang
from bot.runtime.clock import Clock
from bot.runtime.market_view import LiveMarket
from bot.runtime.tick_items import Contexts, Row, TickItems, by_thread, whole_item
from bot.store import Database, OutboxItem

log = logging.getLogger(__name__)

RENDER_SLICE = 500  # messages rendered between two yields to the event loop in a big tick


def alerts_by_chat(transitions: Sequence[Transition]) -> dict[str, list[Alert]]:
    """The alerts of one tick, one list per chat, sorted by sub id."""
    if isinstance(transitions, Transitions):
        return transitions.alerts_by_chat()  # made from the compact form, no Transition objects
    by_chat: dict[str, list[Alert]] = defaultdict(list)
    for t in transitions:
        if t.alert is not None:
            by_chat[t.alert.sub.chat_key].append(t.alert)
    for alerts in by_chat.values():
        alerts.sort(key=lambda a: a.sub.id)
    return by_chat


def outbox_items(
    by_chat: dict[str, list[Alert]],
    now_ms: int,
    ctx: AlertContext,
    attach_chart: bool = False,
    zones: Mapping[str, ZoneInfo] | None = None,
    quiet: Mapping[str, QuietHours] | None = None,
    langs: Mapping[str, Lang] | None = None,
) -> Iterator[OutboxItem]:
    """Alerts for one chat (one topic of it) in one tick become one message; the key makes a
    retried tick harmless.

    A webhook's message carries its alerts as data (the JSON it POSTs); with `attach_chart`, a
    ChartRef to the first alert's coin and window that delivery draws when it sends.
    `zones`: the chats' time zones (/tz) by chat key; a chat not in it reads UTC.
    `quiet`: the chats' quiet hours (/quiet). Whether a message goes without sound is decided
    here, when it is rendered, from the tick's own time: the outbox row then says it for good,
    so a retry, a restart or another replica sends it the same way, and the tick's result is
    deterministic (tests give the time); the cost is that a row sent late (a backoff across the
    window's edge) keeps the choice made when it was news.
    `langs`: the chats' languages (/lang, a private chat's app language); others read English.
    One context per language: each memoizes its own words, shared by that language's chats.
    (The engine's own ticks go through `TickItems`, which keeps shared messages as parts.)
    """
    contexts = Contexts(ctx, langs)
    for chat_key, chat_alerts in by_chat.items():
        zone = zones.get(chat_key) if zones else None
        hours = quiet.get(chat_key) if quiet else None
        chat_ctx = contexts.of(chat_key)
        for thread, alerts in by_thread(chat_alerts):
            yield whole_item(chat_key, alerts, now_ms, chat_ctx, attach_chart, zone, thread, hours)


def group_alerts(
    transitions: Sequence[Transition],
    now_ms: int,
    snapshot: Snapshot | None = None,
    policy: Policy | None = None,
    attach_chart: bool = False,
) -> list[OutboxItem]:
    ctx = AlertContext(snapshot, policy or Policy())  # one per tick: coin rankings computed once
    return list(outbox_items(alerts_by_chat(transitions), now_ms, ctx, attach_chart))


class Engine:
    def __init__(
        self,
        db: Database,
        book: RuleBook,
        market: LiveMarket,
        clock: Clock,
        on_enqueued: Callable[[], None] = lambda: None,
        attach_chart: bool = False,
        extras: ExtraRules | None = None,
    ) -> None:
        self.db, self.book, self.market, self.clock = db, book, market, clock
        self.attach_chart = attach_chart
        self.extras = extras  # venue, relative and single-liquidation rules (issue 14)
        self.singles = SingleOutbox()
        self.on_enqueued = on_enqueued
        # metrics: a tick's alerts by kind ("fired", "escalated")
        self.on_alerts: Callable[[Mapping[str, int]], None] = lambda kinds: None
        self._lock = asyncio.Lock()
        self.ticks = 0
        self.data_runs = 0  # evaluations triggered by new data (a subset of `ticks`)
        self.alerts = 0

    async def _zones(self) -> dict[str, ZoneInfo]:
        """The chats' time zones (/tz); a failing lookup or an unknown name reads UTC."""
        try:
            names = await self.db.chat_zones()
        except Exception:
            log.warning("reading the chats' time zones failed; alerts in UTC", exc_info=True)
            return {}
        zones: dict[str, ZoneInfo] = {}
        for chat_key, name in names.items():
            try:
                zones[chat_key] = ZoneInfo(name)
            except Exception:  # tzdata lost the name: UTC rather than no alert
                log.warning("unknown time zone %r of %s; UTC", name, chat_key)
        return zones

    async def _quiet(self) -> dict[str, QuietHours]:
        """The chats' quiet hours (/quiet); a failing lookup reads none (alerts ring)."""
        try:
            stored = await self.db.chats_quiet()
        except Exception:
            log.warning("reading the chats' quiet hours failed; alerts ring", exc_info=True)
            return {}
        return {k: q for k, text in stored.items() if (q := load_quiet(text)) is not None}

    async def _langs(self) -> dict[str, Lang]:
        """The chats' languages other than English; a failing lookup reads English."""
        try:
            codes = await self.db.chat_langs()
        except Exception:
            log.warning("reading the chats' languages failed; alerts in English", exc_info=True)
            return {}
        return {chat_key: get_lang(code) for chat_key, code in codes.items()}

    async def tick(self) -> int:
        """Evaluate every subscription once; returns how many messages were enqueued."""
        return await self._evaluate(only_new_data=False)

    async def evaluate_new_data(self) -> int:
        """Evaluate the series that data since the last evaluation touched (all of them after a
        CoinGlass poll); returns how many messages were enqueued."""
        return await self._evaluate(only_new_data=True)

    async def _evaluate(self, only_new_data: bool) -> int:
        async with self._lock:  # the scheduled tick and a data-triggered one never overlap
            now = self.clock.now_ms()
            # the snapshot and the touched series are taken together (no await between): data
            # arriving from here on is in neither and pokes a follow-up evaluation
            snapshot = self.market.snapshot(now)
            touched = self.market.take_touched()
            only: list[SeriesKey] | None = None
            if only_new_data:
                self.data_runs += 1
                if touched is not None:
                    only = self.book.series_of(touched)
                    if not only and not self.extras:  # extras: single rules need every run
                        self.ticks += 1
                        return 0
            # One pause of the collector for the whole tick, and the tick's objects (moves,
            # items, messages: a crash tick's millions) are `_run`'s locals, gone before it
            # ends: collecting them instead, once it was back on, rescanned them all in each
            # generation (measured: ~0.5-0.9 s of a crash tick).
            with paused_gc():
                return await self._run(now, snapshot, only)

    async def _run(self, now: int, snapshot: Snapshot, only: list[SeriesKey] | None) -> int:
        """One evaluation (under `_evaluate`'s lock, the collector paused): commit and apply."""
        mutes = await self.db.active_mutes(now)
        paused = await self.db.paused_chats()

        def muted(sub: Subscription) -> bool:
            if sub.chat_key in paused:
                return True
            m = mutes.get(sub.chat_key)
            return m is not None and (None in m or sub.coin in m)

        if mutes or paused:
            transitions = self.book.evaluate(snapshot, now, muted, only)
        else:
            transitions = self.book.evaluate(snapshot, now, only=only)
        extra: list[Transition] = []
        singles: list[OutboxItem] = []
        zones: dict[str, ZoneInfo] | None = None
        quiet: dict[str, QuietHours] = {}
        if self.extras is not None:
            extras = self.extras
            extra = extras.evaluate(snapshot, now, muted)
            hits = extras.take_singles()
            if hits or self.singles.holding():
                zones, quiet = await self._zones(), await self._quiet()
            # None (not {}) when nothing was held, so the alerts below still read the zones
            singles = self.singles.items(
                hits,
                now,
                muted,
                extras.singles.__contains__,
                zones or {},
                quiet,
                await self._langs() if hits or self.singles.holding() else None,
            )
        self.ticks += 1
        if not transitions and not extra and not singles:
            return 0
        ctx = AlertContext(snapshot, self.book.policy)  # coin rankings computed once
        if zones is None:
            zones, quiet = await self._zones(), await self._quiet()
        langs = await self._langs()
        made = TickItems(now, ctx, self.attach_chart, zones, quiet, langs)
        # The commit is written while the tick renders (bot/store/tick_commit.py): its states
        # from here on, each slice of messages while the next renders; all or nothing. The book
        # applies the moves while the last writes run, and takes them back if the commit fails.
        enqueued = len(singles)
        applied = False
        try:
            async with self.db.tick_commit(transitions, also=extra) as commit:
                made.add_series(transitions)  # the book's alerts, a series at a time
                for chat_key, more in alerts_by_chat(extra).items():  # one message per chat
                    made.add(chat_key, more)
                # the shared words first, written while the rows are grouped and encoded (the
                # store's thread waited ~0.3 s for the first slice)
                for body in made.shared_bodies():
                    commit.body_id(body, now)
                commit.flush()
                await asyncio.sleep(0)
                items: list[OutboxItem | Row] = []
                for item in made.rows(commit.body_id):  # shared messages come encoded
                    items.append(item)
                    if len(items) == RENDER_SLICE:  # a crash tick renders a while: let chats in
                        commit.add(items)
                        enqueued += len(items)
                        items = []
                        await asyncio.sleep(0)
                commit.add([*items, *singles])
                enqueued += len(items)
                commit.seal()  # the last writes run while the book applies:
                await asyncio.sleep(0)  # handed to the store's thread first
                self.book.apply(transitions)
                applied = True
        except BaseException:
            if applied:  # the store kept none of it: neither does the book
                self.book.revert(transitions)
            raise
        if self.extras is not None:
            self.extras.apply(extra)
        self.on_alerts(made.kinds)
        self.alerts += transitions.alert_count() + sum(1 for t in extra if t.alert)
        if enqueued:
            log.info("enqueued %d alert message(s)", enqueued)
            self.on_enqueued()
        return enqueued
