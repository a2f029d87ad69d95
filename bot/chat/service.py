"""The one command service every platform shares: text or a parsed Command in, a Reply out.

Adapters only translate platform input into `handle_text` / `handle` calls and render the Reply;
every rule about who may do what, caps, duplicates and wording is decided here, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Protocol

from bot.chat.context import ChatContext
from bot.domain import render
from bot.domain.chart import (
    build_series,
    chart_since_ms,
    chart_window_label,
    no_data_spans,
    render_chart_caption,
    render_chart_empty,
)
from bot.domain.commands import (
    SPECS,
    Chart,
    Command,
    CommandError,
    Help,
    Liqs,
    ListSubs,
    Mute,
    NotACommandError,
    Start,
    Status,
    Subscribe,
    UnknownCommandError,
    Unmute,
    Unsubscribe,
    parse_command,
)
from bot.domain.message import Message, Reply
from bot.domain.models import AlertState, Snapshot, SourceStatus, Subscription
from bot.domain.render_alerts import AlertContext
from bot.domain.render_market import FailingJob, not_up_phrases
from bot.domain.rules import Policy
from bot.store import Database

log = logging.getLogger(__name__)


class MarketView(Protocol):
    def snapshot(self, now_ms: int) -> Snapshot: ...
    def status(self, now_ms: int) -> list[SourceStatus]: ...
    def known_coins(self) -> frozenset[str]: ...
    def windows_served(self) -> frozenset[int]: ...


class Rules(Protocol):
    """What the service needs of bot.domain.rules.RuleBook."""

    def add(self, sub: Subscription) -> None: ...
    def remove(self, sub_id: int) -> object: ...
    def state(self, sub_id: int) -> AlertState | None: ...

    @property
    def policy(self) -> Policy: ...


@dataclass(frozen=True)
class ServiceSettings:
    max_subscriptions_per_chat: int = 50
    bot_username: str | None = None  # to tell `/cmd@us` from `/cmd@otherbot`
    # appended to subscribe confirmations; None: the alert policy in words ("" for none)
    quiet_note: str | None = None


def _wall_clock() -> int:
    return int(time.time() * 1000)


def _own(subs: list[Subscription]) -> list[Subscription]:
    """The chat's own rules: the operator's broadcasts use neither its numbers nor its cap."""
    return [s for s in subs if s.origin != "config"]


_MUTATING = (Subscribe, Unsubscribe, Mute, Unmute)


class CommandService:
    def __init__(
        self,
        db: Database,
        market: MarketView,
        book: Rules,
        settings: ServiceSettings | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.db = db
        self.market = market
        self.book = book
        self.settings = settings or ServiceSettings()
        self.clock = clock or _wall_clock
        # Saves the newest buckets before a chart reads the store (the app sets it).
        self.before_chart: Callable[[], Awaitable[None]] | None = None
        # Our own jobs that are failing now (the app sets it to the watchdog's), for /status.
        self.failing_jobs: Callable[[], Sequence[FailingJob]] = tuple
        # Telegram learns its name from getMe after start: the adapter may set it then.
        self.bot_username = self.settings.bot_username
        # times each handle_text (the app sets liqbot_command_seconds' timer)
        self.timer: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext
        # One change at a time per chat, so that the cap and duplicate checks hold under
        # concurrent commands (two admins, a double tap). Unused locks go away by themselves.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def commands(self) -> list[tuple[str, str]]:
        """(name, one-line description) for setMyCommands and slash-command menus."""
        return [(s.name, s.summary) for s in SPECS.values()]

    async def handle_text(self, ctx: ChatContext, text: str) -> Reply:
        """Parse and run chat text. Never raises; text that is not for us gets an empty Reply."""
        with self.timer():
            return await self._handle_text(ctx, text)

    async def _handle_text(self, ctx: ChatContext, text: str) -> Reply:
        try:
            cmd = parse_command(text, self.bot_username, self.market.known_coins())
        except UnknownCommandError as e:
            if ctx.kind != "private" and not e.addressed:
                return Reply()  # likely another bot's command in a shared chat: stay quiet
            return Reply.of(render.render_error(e))
        except NotACommandError as e:
            # `/`, `//`, a path: in a group it was not meant for us
            return Reply.of(render.render_error(e)) if ctx.kind == "private" else Reply()
        except CommandError as e:
            return Reply.of(render.render_error(e))
        except Exception:
            log.exception("parsing %r in %s failed", text[:200], ctx.chat_key)
            return Reply.of(render.render_apology())
        if cmd is None:
            # plain talk: a hint in a private chat; in a group people talk to each other
            private = ctx.kind == "private" and not text.lstrip().startswith("/")
            return Reply.of(render.render_hint()) if private and text.strip() else Reply()
        return await self.handle(ctx, cmd)

    async def handle(self, ctx: ChatContext, cmd: Command) -> Reply:
        """Run a parsed command. Never raises: failures become an apology, logged with context."""
        try:
            if not isinstance(cmd, _MUTATING):
                return Reply.of(await self._run(ctx, cmd))
            if ctx.kind != "private" and not await ctx.can_manage():
                return Reply.of(render.render_refused(ctx.manage_hint))
            lock = self._locks.get(ctx.chat_key)
            if lock is None:
                lock = self._locks[ctx.chat_key] = asyncio.Lock()
            async with lock:
                return Reply.of(await self._run(ctx, cmd))
        except CommandError as e:
            return Reply.of(render.render_error(e))
        except Exception:
            log.exception("command %r in %s failed", cmd, ctx.chat_key)
            return Reply.of(render.render_apology())

    async def _run(self, ctx: ChatContext, cmd: Command) -> Message:
        match cmd:
            case Start():
                return await self._start(ctx)
            case Help():
                return render.render_help()
            case Subscribe():
                return await self._subscribe(ctx, cmd)
            case Unsubscribe():
                return await self._unsubscribe(ctx, cmd)
            case ListSubs():
                return await self._list(ctx)
            case Mute():
                return await self._mute(ctx, cmd)
            case Unmute():
                return await self._unmute(ctx, cmd)
            case Liqs():
                now = self.clock()
                return render.render_liqs(
                    self.market.snapshot(now), cmd.coin, cmd.window, self.market.status(now)
                )
            case Chart():
                return await self._chart(cmd)
            case Status():
                return await self._status(ctx)
        raise TypeError(f"unhandled command {cmd!r}")

    # ---- commands ----------------------------------------------------------------------------

    async def _start(self, ctx: ChatContext) -> Message:
        await self.db.ensure_chat(ctx.chat_key, kind=ctx.kind, now_ms=self.clock())
        resumed = await self.db.resume_chat(ctx.chat_key)
        if resumed:
            log.info("chat %s resumed by /start", ctx.chat_key)
        return render.render_start(resumed=resumed)

    async def _subscribe(self, ctx: ChatContext, cmd: Subscribe) -> Message:
        now = self.clock()
        await self.db.ensure_chat(ctx.chat_key, kind=ctx.kind, now_ms=now)
        existing = _own(await self.db.list_subscriptions(ctx.chat_key))
        for s in existing:
            if (s.coin, s.window, s.side, s.threshold) == (
                cmd.coin,
                cmd.window,
                cmd.side,
                cmd.threshold,
            ):
                return render.render_duplicate(s)
        cap = self.settings.max_subscriptions_per_chat
        if len(existing) >= cap:
            return render.render_at_cap(cap)
        sub = await self.db.add_subscription(
            ctx.chat_key, cmd.coin, cmd.window, cmd.side, cmd.threshold, now
        )
        self.book.add(sub)
        try:
            served = cmd.window in self.market.windows_served()
            current = self.market.snapshot(now).value(cmd.coin, cmd.window, cmd.side)
        except Exception:
            # the rule is stored: confirm it rather than apologise for a failed extra
            log.exception("market view failed while confirming #%s", sub.id)
            served, current = True, None
        note = self.settings.quiet_note
        if note is None:
            note = AlertContext(policy=self.book.policy).rearm_note()
        return render.render_subscribed(sub, current, served, len(existing) + 1, cap, note)

    async def _unsubscribe(self, ctx: ChatContext, cmd: Unsubscribe) -> Message:
        # people type the chat's numbers (#1 is its first); the store and book use global ids
        every = await self.db.list_subscriptions(ctx.chat_key)
        own = _own(every)
        by_number = {render.number(s): s for s in own}
        if cmd.all:
            for s in own:
                if await self.db.remove_subscription(ctx.chat_key, s.id):
                    self.book.remove(s.id)
            return render.render_unsubscribed_all(len(own))
        removed, unknown = [], []
        for n in cmd.ids:
            # the store checks the chat too: another chat's rule is never removed
            s = by_number.get(n)
            if s is not None and await self.db.remove_subscription(ctx.chat_key, s.id):
                self.book.remove(s.id)
                removed.append(n)
            else:
                unknown.append(n)
        left = [n for n in by_number if n not in removed]
        return render.render_unsubscribed(removed, unknown, left, len(every) > len(own))

    async def _list(self, ctx: ChatContext) -> Message:
        now = self.clock()
        subs = await self.db.list_subscriptions(ctx.chat_key)
        # the book holds every state in memory; the store holds them for all chats (maybe 1M)
        states = {s.id: st for s in subs if (st := self.book.state(s.id)) is not None}
        mutes = (await self.db.active_mutes(now)).get(ctx.chat_key, {})
        return render.render_list(
            subs,
            states,
            mutes,
            now,
            cap=self.settings.max_subscriptions_per_chat,
            policy=self.book.policy,
        )

    async def _mute(self, ctx: ChatContext, cmd: Mute) -> Message:
        now = self.clock()
        await self.db.ensure_chat(ctx.chat_key, kind=ctx.kind, now_ms=now)
        until = now + cmd.seconds * 1000
        await self.db.set_mute(ctx.chat_key, cmd.coin, until)
        return render.render_muted(cmd.coin, until, now)

    async def _unmute(self, ctx: ChatContext, cmd: Unmute) -> Message:
        # count only mutes still running: an expired row is not something the user can lift
        active = (await self.db.active_mutes(self.clock())).get(ctx.chat_key, {})
        lifted = len(active) if cmd.coin is None else int(cmd.coin in active)
        await self.db.clear_mutes(ctx.chat_key, cmd.coin)
        return render.render_unmuted(cmd.coin, lifted)

    async def _chart(self, cmd: Chart) -> Message:
        now = self.clock()
        if self.before_chart is not None:
            await self.before_chart()
        since = chart_since_ms(cmd.window, now)
        rows = await self.db.chart_buckets(cmd.coin, since)
        statuses = [s for s in self.market.status(now) if s.state != "disabled"]
        if not any(lg or sh for _, lg, sh in rows):
            down = not any(s.state == "up" for s in statuses)
            return render_chart_empty(
                cmd.coin, cmd.window, "; ".join(not_up_phrases(statuses, now)) if down else ""
            )
        # time when every source was out is drawn as missing, not as a calm market
        outages: dict[str, list[tuple[int, int]]] = {}
        for g in await self.db.recent_gaps(since):
            outages.setdefault(g.source, []).append((g.start_ms, g.end_ms))
        for s in statuses:
            if s.state != "up" and s.since_ms is not None:
                outages.setdefault(s.name, []).append((s.since_ms, now))
        first = await self.db.first_bucket_ms()
        if first is not None and first > since:  # before the bot ever ran: no data, not calm
            for s in statuses:
                outages.setdefault(s.name, []).append((since, first))
        snapshot = self.market.snapshot(now)
        series = build_series(
            rows,
            cmd.coin,
            cmd.window,
            now,
            snapshot.sources,
            sampled=snapshot.sampled,
            no_data=no_data_spans(outages, [s.name for s in statuses]),
        )
        # imported on the first /chart, not at start: matplotlib costs 1-2 s of start-up
        from bot import charts

        # tens of milliseconds of CPU: keep the event loop (and every other chat) moving
        png = await asyncio.to_thread(charts.render_png, series)
        name = f"chart-{cmd.coin.lower()}-{chart_window_label(cmd.window)}.png"
        return replace(render_chart_caption(series, now), image=png, image_name=name)

    async def _status(self, ctx: ChatContext) -> Message:
        now = self.clock()
        chat = await self.db.get_chat(ctx.chat_key)
        status = render.render_status(
            self.market.status(now),
            now,
            chat_subscriptions=len(_own(await self.db.list_subscriptions(ctx.chat_key))),
            total_subscriptions=await self.db.count_active_subscriptions(),
            cap=self.settings.max_subscriptions_per_chat,
            paused_reason=chat.paused_reason if chat else None,
            mutes=(await self.db.active_mutes(now)).get(ctx.chat_key, {}),
            served=self.market.windows_served(),
            failing=self.failing_jobs(),
        )
        # alerts that waited in the outbox longer than their window were dropped, not sent
        try:
            dropped = await self.db.count_expired(now - 86_400_000)
        except Exception:  # /status must answer while the store is failing (it says so)
            log.warning("/status: counting dropped alerts failed", exc_info=True)
            dropped = 0
        if dropped:
            note = f"{dropped} alert(s) dropped in 24h: older than their window"
            status = replace(status, lines=(*status.lines, note))
        return status
