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
from zoneinfo import ZoneInfo

from bot.chat import guide_buttons
from bot.chat.alert_buttons import NOTICE_INVALID, ButtonSigner, Press, press
from bot.chat.context import ChatContext
from bot.chat.service_reach import run_digest, run_test
from bot.chat.service_rules import as_subscription, history_lines, own_rules, rule_key
from bot.domain import render
from bot.domain.command_specs import SPECS
from bot.domain.command_types import (
    Backtest,
    Chart,
    Command,
    CommandError,
    ExportRules,
    Help,
    ImportRules,
    Liqs,
    ListSubs,
    Mute,
    NotACommandError,
    SetLang,
    SetQuiet,
    SetTz,
    Start,
    Status,
    Subscribe,
    SubscribeGuide,
    TestMessage,
    Top,
    UnknownCommandError,
    Unmute,
    Unsubscribe,
)
from bot.domain.commands import parse_command
from bot.domain.compare import Comparison
from bot.domain.digest import DigestCommand, DigestSpec
from bot.domain.i18n import EN, Lang, match_language
from bot.domain.message import Message, Reply
from bot.domain.models import AlertState, Snapshot, SourceStatus, Subscription
from bot.domain.quiet import load_quiet, render_quiet
from bot.domain.render_alerts import AlertContext
from bot.domain.render_compare import render_compare, render_compare_off
from bot.domain.render_insight import render_backtest, render_top
from bot.domain.render_market import FailingJob
from bot.domain.render_rules_text import render_export, render_imported
from bot.domain.rules import Policy
from bot.domain.venue_view import venue_snapshot
from bot.features.backtest_history import HistorySource
from bot.features.chart_view import chart_message
from bot.features.insight import History, remember_usuals, rule_history
from bot.locale import get_lang
from bot.store import Database

log = logging.getLogger(__name__)


class MarketView(Protocol):
    def snapshot(self, now_ms: int) -> Snapshot: ...
    def status(self, now_ms: int) -> list[SourceStatus]: ...
    def known_coins(self) -> frozenset[str]: ...
    def windows_served(self) -> frozenset[int]: ...
    def compare(self, coin: str, now_ms: int) -> Comparison: ...


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


_MUTATING = (
    Subscribe, SubscribeGuide, Unsubscribe, Mute, Unmute, DigestCommand, TestMessage, ImportRules, SetTz,
    SetQuiet,
    SetLang,
)  # fmt: skip


def _showing(cmd: Command) -> bool:
    """A mutating command's form that only shows the setting (anyone may ask)."""
    if isinstance(cmd, DigestCommand | SetQuiet):
        return cmd.show
    if isinstance(cmd, SetLang):
        return cmd.lang is None
    return isinstance(cmd, SetTz) and cmd.zone is None


class CommandService:
    def __init__(
        self,
        db: Database,
        market: MarketView,
        book: Rules,
        settings: ServiceSettings | None = None,
        clock: Callable[[], int] | None = None,
        coinglass: HistorySource | None = None,
    ) -> None:
        self.db = db
        self.market = market
        self.book = book
        self.settings = settings or ServiceSettings()
        self.clock = clock or _wall_clock
        # a keyed CoinGlass source: backtests reach back before the store's first minute
        self.coinglass = coinglass
        # Saves the newest buckets before a chart reads the store (the app sets it).
        self.before_chart: Callable[[], Awaitable[None]] | None = None
        # Our own jobs that are failing now (the app sets it to the watchdog's), for /status.
        self.failing_jobs: Callable[[], Sequence[FailingJob]] = tuple
        # the config's digests (shown by /digest) and the outbox's wake-up (the app sets both)
        self.declared_digests: Sequence[DigestSpec] = ()
        self.on_enqueued: Callable[[], None] = lambda: None
        # replicas (docs/scaling.md): "Replica web-2 (standby); the leader: web-1", for /status
        self.replica_line: Callable[[], str | None] = lambda: None
        # False on a standby replica, whose rule book does not follow the alert states
        self.book_is_current: Callable[[], bool] = lambda: True
        # Telegram learns its name from getMe after start: the adapter may set it then.
        self.bot_username = self.settings.bot_username
        # times each handle_text (the app sets liqbot_command_seconds' timer)
        self.timer: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext
        # One change at a time per chat, so that the cap and duplicate checks hold under
        # concurrent commands (two admins, a double tap). Unused locks go away by themselves.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # signs and checks the buttons under alerts (the app loads it from the store's key)
        self.buttons: ButtonSigner | None = None

    def commands(self) -> list[tuple[str, str]]:
        """(name, one-line description) for setMyCommands and slash-command menus."""
        return [(s.name, s.summary) for s in SPECS.values()]

    async def handle_text(self, ctx: ChatContext, text: str) -> Reply:
        """Parse and run chat text. Never raises; text that is not for us gets an empty Reply."""
        with self.timer():
            return await self._handle_text(ctx, text)

    async def press_button(
        self,
        ctx: ChatContext,
        token: str,
        early: Callable[[str], Awaitable[None]] | None = None,
    ) -> Press:
        """A button under an alert was pressed in `ctx`'s chat: the token is checked, the
        presser's rights too, and the typed command it stands for runs here. Never raises.
        `early`: told the notice before a looking button's command runs (alert_buttons.press)."""
        if self.buttons is None:
            return Press((await self.lang_of(ctx))._(NOTICE_INVALID), show_alert=True)
        try:
            if guide_buttons.is_guide_token(token):  # the guided /subscribe's steps
                return await guide_buttons.press(self, self.buttons, ctx, token)
            return await press(self, self.buttons, ctx, token, early)
        except Exception:
            log.exception("button press in %s failed", ctx.chat_key)
            return Press(render.render_apology(await self.lang_of(ctx)).title, show_alert=True)

    async def _handle_text(self, ctx: ChatContext, text: str) -> Reply:
        try:
            cmd = parse_command(text, self.bot_username, self.market.known_coins())
        except UnknownCommandError as e:
            if ctx.kind != "private" and not e.addressed:
                return Reply()  # likely another bot's command in a shared chat: stay quiet
            return Reply.of(render.render_error(e, await self.lang_of(ctx)))
        except NotACommandError as e:
            # `/`, `//`, a path: in a group it was not meant for us
            if ctx.kind != "private":
                return Reply()
            return Reply.of(render.render_error(e, await self.lang_of(ctx)))
        except CommandError as e:
            return Reply.of(render.render_error(e, await self.lang_of(ctx)))
        except Exception:
            log.exception("parsing %r in %s failed", text[:200], ctx.chat_key)
            return Reply.of(render.render_apology(await self.lang_of(ctx)))
        if cmd is None:
            # plain talk: a hint in a private chat; in a group people talk to each other
            private = ctx.kind == "private" and not text.lstrip().startswith("/")
            if private and text.strip():
                return Reply.of(render.render_hint(await self.lang_of(ctx)))
            return Reply()
        return await self.handle(ctx, cmd)

    async def handle(self, ctx: ChatContext, cmd: Command) -> Reply:
        """Run a parsed command. Never raises: failures become an apology, logged with context."""
        try:
            if not isinstance(cmd, _MUTATING) or _showing(cmd):
                return Reply.of(await self._run(ctx, cmd))
            if ctx.kind != "private" and not await ctx.can_manage():
                lang = await self.lang_of(ctx)
                return Reply.of(render.render_refused(ctx.manage_hint, lang))
            lock = self._locks.get(ctx.chat_key)
            if lock is None:
                lock = self._locks[ctx.chat_key] = asyncio.Lock()
            async with lock:
                return Reply.of(await self._run(ctx, cmd))
        except CommandError as e:
            return Reply.of(render.render_error(e, await self.lang_of(ctx)))
        except Exception:
            log.exception("command %r in %s failed", cmd, ctx.chat_key)
            return Reply.of(render.render_apology(await self.lang_of(ctx)))

    async def _run(self, ctx: ChatContext, cmd: Command) -> Message:
        match cmd:
            case Start():
                return await self._start(ctx)
            case Help():
                return render.render_help(await self.lang_of(ctx))
            case SetLang():
                return await self._set_lang(ctx, cmd)
            case Subscribe():
                return await self._subscribe(ctx, cmd)
            case SubscribeGuide():
                if self.buttons is None or ctx.platform not in guide_buttons.PLATFORMS:
                    return guide_buttons.typed_only(await self.lang_of(ctx))
                return guide_buttons.start(self, self.buttons, await self.lang_of(ctx))
            case Unsubscribe():
                return await self._unsubscribe(ctx, cmd)
            case ListSubs():
                return await self._list(ctx)
            case Mute():
                return await self._mute(ctx, cmd)
            case Unmute():
                return await self._unmute(ctx, cmd)
            case Liqs():
                return self._liqs(cmd, await self._tz(ctx), await self.lang_of(ctx))
            case SetTz():
                return await self._set_tz(ctx, cmd)
            case SetQuiet():
                return await self._set_quiet(ctx, cmd)
            case Top():
                return render_top(
                    self.market.snapshot(self.clock()), cmd.window, lang=await self.lang_of(ctx)
                )
            case Backtest():
                return await self._backtest(cmd, await self.lang_of(ctx))
            case Chart():
                return await self._chart(cmd, await self.lang_of(ctx), await self._tz(ctx))
            case Status():
                return await self._status(ctx)
            case DigestCommand():
                return await run_digest(
                    self.db, ctx, cmd, self.clock(), self.declared_digests, await self.lang_of(ctx)
                )
            case TestMessage():
                return await run_test(
                    self.db, ctx, self.clock(), self.on_enqueued, await self.lang_of(ctx)
                )
            case ExportRules():
                subs = own_rules(await self.db.list_subscriptions(ctx.chat_key))
                return render_export(subs, await self.lang_of(ctx))
            case ImportRules():
                return await self._import(ctx, cmd)
        raise TypeError(f"unhandled command {cmd!r}")

    # ---- commands ----------------------------------------------------------------------------

    async def _start(self, ctx: ChatContext) -> Message:
        await self.db.ensure_chat(ctx.chat_key, kind=ctx.kind, now_ms=self.clock())
        resumed = await self.db.resume_chat(ctx.chat_key)
        if resumed:
            log.info("chat %s resumed by /start", ctx.chat_key)
        return render.render_start(resumed=resumed, lang=await self.lang_of(ctx))

    async def _subscribe(self, ctx: ChatContext, cmd: Subscribe) -> Message:
        now = self.clock()
        await self.db.ensure_chat(ctx.chat_key, kind=ctx.kind, now_ms=now)
        lang = await self.lang_of(ctx)
        existing = own_rules(await self.db.list_subscriptions(ctx.chat_key))
        for s in existing:  # the same rule in another topic is another rule: it alerts there
            if rule_key(s) == rule_key(as_subscription(cmd)) and s.thread == ctx.thread:
                return render.render_duplicate(s, lang)
        cap = self.settings.max_subscriptions_per_chat
        if len(existing) >= cap:
            return render.render_at_cap(cap, lang)
        sub = await self.db.add_subscription(
            ctx.chat_key,
            cmd.coin,
            cmd.window,
            cmd.side,
            cmd.threshold,
            now,
            venue=cmd.venue,
            kind="single" if cmd.single else "window",
            factor=cmd.factor,
            thread=ctx.thread,
        )
        extra: list[str] = []
        try:  # the store is asked before the rule is live, so a relative rule arms at once
            history = await self._history(sub, now)
            extra = history_lines(sub, history, now, lang)
            extras = getattr(self.book, "extras", None)
            if extras is not None:
                remember_usuals(extras, sub, history)
        except Exception:
            log.exception("backtest of #%s failed", sub.id)
        self.book.add(sub)
        try:
            served = cmd.window in self.market.windows_served()
            snap = self.market.snapshot(now)
            if cmd.venue is not None:
                snap = venue_snapshot(snap, cmd.venue)
            current = snap.value(cmd.coin, cmd.window, cmd.side)
        except Exception:
            # the rule is stored: confirm it rather than apologise for a failed extra
            log.exception("market view failed while confirming #%s", sub.id)
            served, current = True, None
        note = self.settings.quiet_note
        if sub.kind == "single":
            note = lang._("Each one is told once; several in the same moment come as one message.")
        elif note is None:
            note = AlertContext(policy=self.book.policy, lang=lang).rearm_note()
        return render.render_subscribed(
            sub, current, served, len(existing) + 1, cap, note, extra=extra, lang=lang
        )

    async def _import(self, ctx: ChatContext, cmd: ImportRules) -> Message:
        """Add the pasted rules this chat does not have, up to its cap; no backtest each."""
        now = self.clock()
        await self.db.ensure_chat(ctx.chat_key, kind=ctx.kind, now_ms=now)
        existing = own_rules(await self.db.list_subscriptions(ctx.chat_key))
        have = {rule_key(s) for s in existing if s.thread == ctx.thread}
        cap = self.settings.max_subscriptions_per_chat
        added: list[Subscription] = []
        duplicates = over_cap = 0
        for rule in cmd.rules:
            key = rule_key(as_subscription(rule))
            if key in have:
                duplicates += 1
                continue
            if len(existing) + len(added) >= cap:
                over_cap += 1
                continue
            sub = await self.db.add_subscription(
                ctx.chat_key, rule.coin, rule.window, rule.side, rule.threshold, now,
                venue=rule.venue, kind="single" if rule.single else "window", factor=rule.factor,
                thread=ctx.thread,
            )  # fmt: skip
            self.book.add(sub)
            have.add(key)
            added.append(sub)
        return render_imported(
            added, duplicates, over_cap, cap, cmd.unreadable, await self.lang_of(ctx)
        )

    async def _tz(self, ctx: ChatContext) -> ZoneInfo | None:
        """The chat's zone (/tz); None for UTC, whose output stays as it always was."""
        try:
            name = await self.db.chat_tz(ctx.chat_key)
            return ZoneInfo(name) if name and name != "UTC" else None
        except Exception:  # a lost zone (tzdata changed) or a failing store: UTC, not an apology
            log.warning("time zone of %s unreadable; UTC", ctx.chat_key, exc_info=True)
            return None

    async def _set_tz(self, ctx: ChatContext, cmd: SetTz) -> Message:
        now = self.clock()
        if cmd.zone is not None:
            await self.db.ensure_chat(ctx.chat_key, kind=ctx.kind, now_ms=now)
            await self.db.set_chat_tz(ctx.chat_key, None if cmd.zone == "UTC" else cmd.zone)
        tz = await self._tz(ctx)
        lang = await self.lang_of(ctx)
        return render.render_tz(tz, now, changed=cmd.zone is not None, lang=lang)

    async def _set_quiet(self, ctx: ChatContext, cmd: SetQuiet) -> Message:
        now = self.clock()
        if not cmd.show:
            await self.db.ensure_chat(ctx.chat_key, kind=ctx.kind, now_ms=now)
            await self.db.set_chat_quiet(ctx.chat_key, cmd.hours.text() if cmd.hours else None)
        hours = cmd.hours if not cmd.show else load_quiet(await self.db.chat_quiet(ctx.chat_key))
        return render_quiet(
            hours, now, await self._tz(ctx), changed=not cmd.show, lang=await self.lang_of(ctx)
        )

    async def lang_of(self, ctx: ChatContext) -> Lang:
        """The chat's language: its /lang; else, in a private chat, the asker's client
        language (remembered in the store for the alerts); else English. Never raises."""
        try:
            chosen, seen = await self.db.chat_lang(ctx.chat_key)
            if chosen is not None:
                return get_lang(chosen)
            if ctx.kind != "private":
                return EN  # a group's members speak many languages: English until /lang
            if not ctx.language:  # the platform does not say (the console): the last seen
                return get_lang(seen)
            now = match_language(ctx.language) or "en"  # French: English, not what was seen
            if now != (seen or "en"):
                await self.db.ensure_chat(ctx.chat_key, kind=ctx.kind, now_ms=self.clock())
                await self.db.set_chat_lang_auto(ctx.chat_key, None if now == "en" else now)
            return get_lang(now)
        except Exception:  # a failing store: English, not an apology
            log.warning("language of %s unreadable; English", ctx.chat_key, exc_info=True)
            return EN

    async def _set_lang(self, ctx: ChatContext, cmd: SetLang) -> Message:
        if cmd.lang is not None:
            await self.db.ensure_chat(ctx.chat_key, kind=ctx.kind, now_ms=self.clock())
            await self.db.set_chat_lang(ctx.chat_key, None if cmd.lang == "auto" else cmd.lang)
        chosen, _ = await self.db.chat_lang(ctx.chat_key)
        lang = await self.lang_of(ctx)
        changed = cmd.lang is not None and cmd.lang != "auto"
        return render.render_lang(lang, chosen=chosen is not None, changed=changed)

    def _liqs(self, cmd: Liqs, tz: ZoneInfo | None = None, lang: Lang = EN) -> Message:
        now = self.clock()
        if cmd.compare:
            c = self.market.compare(cmd.coin, now)
            return render_compare_off(lang) if c.coinglass == "off" else render_compare(c, lang)
        snap = self.market.snapshot(now)
        if cmd.venue is None:
            return render.render_liqs(snap, cmd.coin, cmd.window, self.market.status(now), tz, lang)
        msg = render.render_liqs(
            venue_snapshot(snap, cmd.venue), cmd.coin, cmd.window, self.market.status(now), tz, lang
        )
        on = lang._(" on %(venue)s", venue=render.venue_name(cmd.venue))
        return replace(msg, title=msg.title + on)

    async def _history(self, sub: Subscription, now: int) -> History:
        if self.before_chart is not None:
            await self.before_chart()  # the last seconds' buckets into the store first
        return await rule_history(self.db, self.book.policy, sub, now, self.coinglass)

    async def _backtest(self, cmd: Backtest, lang: Lang) -> Message:
        now = self.clock()
        sub = as_subscription(cmd.rule)
        history = await self._history(sub, now)
        return render_backtest(sub, history_lines(sub, history, now, lang), lang)

    async def _unsubscribe(self, ctx: ChatContext, cmd: Unsubscribe) -> Message:
        # people type the chat's numbers (#1 is its first); the store and book use global ids
        every = await self.db.list_subscriptions(ctx.chat_key)
        own = own_rules(every)
        by_number = {render.number(s): s for s in own}
        lang = await self.lang_of(ctx)
        if cmd.all:
            for s in own:
                if await self.db.remove_subscription(ctx.chat_key, s.id):
                    self.book.remove(s.id)
            return render.render_unsubscribed_all(len(own), lang)
        removed, unknown = [], []
        for n in cmd.ids:
            # the store checks the chat too: another chat's rule is never removed
            mine = by_number.get(n)
            if mine is not None and await self.db.remove_subscription(ctx.chat_key, mine.id):
                self.book.remove(mine.id)
                removed.append(n)
            else:
                unknown.append(n)
        left = [n for n in by_number if n not in removed]
        return render.render_unsubscribed(removed, unknown, left, len(every) > len(own), lang)

    async def _list(self, ctx: ChatContext) -> Message:
        now = self.clock()
        subs = await self.db.list_subscriptions(ctx.chat_key)
        # the book holds every state in memory; the store holds them for all chats (maybe 1M)
        states = {s.id: st for s in subs if (st := self.book.state(s.id)) is not None}
        if not self.book_is_current():  # a standby replica: the leader's book moves them
            states |= await self.db.states_of([s.id for s in subs])
        mutes = (await self.db.active_mutes(now)).get(ctx.chat_key, {})
        return render.render_list(
            subs,
            states,
            mutes,
            now,
            cap=self.settings.max_subscriptions_per_chat,
            policy=self.book.policy,
            waiting=self._waiting(subs, now),
            tz=await self._tz(ctx),
            lang=await self.lang_of(ctx),
        )

    def _waiting(self, subs: list[Subscription], now: int) -> frozenset[int]:
        """Relative rules that have no "usual" yet for this hour."""
        extras = getattr(self.book, "extras", None)
        if extras is None:
            return frozenset()
        return frozenset(
            s.id for s in subs if s.factor is not None and extras.threshold_now(s, now) is None
        )

    async def _mute(self, ctx: ChatContext, cmd: Mute) -> Message:
        now = self.clock()
        await self.db.ensure_chat(ctx.chat_key, kind=ctx.kind, now_ms=now)
        until = now + cmd.seconds * 1000
        await self.db.set_mute(ctx.chat_key, cmd.coin, until)
        tz, lang = await self._tz(ctx), await self.lang_of(ctx)
        return render.render_muted(cmd.coin, until, now, tz, lang)

    async def _unmute(self, ctx: ChatContext, cmd: Unmute) -> Message:
        # count only mutes still running: an expired row is not something the user can lift
        active = (await self.db.active_mutes(self.clock())).get(ctx.chat_key, {})
        lifted = len(active) if cmd.coin is None else int(cmd.coin in active)
        await self.db.clear_mutes(ctx.chat_key, cmd.coin)
        return render.render_unmuted(cmd.coin, lifted, await self.lang_of(ctx))

    async def _chart(self, cmd: Chart, lang: Lang, tz: ZoneInfo | None = None) -> Message:
        now = self.clock()
        if self.before_chart is not None:
            await self.before_chart()
        message, _ = await chart_message(self.db, self.market, cmd.coin, cmd.window, now, lang, tz)
        return message

    async def _status(self, ctx: ChatContext) -> Message:
        now = self.clock()
        lang = await self.lang_of(ctx)
        chat = await self.db.get_chat(ctx.chat_key)
        status = render.render_status(
            self.market.status(now),
            now,
            chat_subscriptions=len(own_rules(await self.db.list_subscriptions(ctx.chat_key))),
            total_subscriptions=await self.db.count_active_subscriptions(),
            cap=self.settings.max_subscriptions_per_chat,
            paused_reason=chat.paused_reason if chat else None,
            mutes=(await self.db.active_mutes(now)).get(ctx.chat_key, {}),
            served=self.market.windows_served(),
            failing=self.failing_jobs(),
            tz=await self._tz(ctx),
            lang=lang,
        )
        # alerts that waited in the outbox longer than their window were dropped, not sent
        try:
            dropped = await self.db.count_expired(now - 86_400_000)
        except Exception:  # /status must answer while the store is failing (it says so)
            log.warning("/status: counting dropped alerts failed", exc_info=True)
            dropped = 0
        if dropped:
            note = lang.n_(
                "%(n)d alert dropped in 24h: older than its window",
                "%(n)d alerts dropped in 24h: older than their window",
                dropped,
            )
            status = replace(status, lines=(*status.lines, note))
        try:
            quiet = load_quiet(await self.db.chat_quiet(ctx.chat_key))
        except Exception:  # as above: /status answers while the store is failing
            log.warning("/status: reading quiet hours failed", exc_info=True)
            quiet = None
        if quiet is not None:
            note = f"Quiet hours {quiet.text()}: alerts then arrive without sound (/quiet)"
            status = replace(status, lines=(*status.lines, note))
        replica = self.replica_line()
        return replace(status, lines=(*status.lines, replica)) if replica else status
