"""The composition root: builds every part from the Config inside one event loop, runs, stops.

Nothing else wires parts together; everything else takes its collaborators as arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.chat.alert_buttons import ButtonSigner
from bot.chat.console import CHAT_KEY as CONSOLE_CHAT
from bot.chat.console import ConsoleChat
from bot.chat.service import CommandService, ServiceSettings
from bot.config import Config, Secrets
from bot.config.settings import check_with_secrets
from bot.domain.aggregate import Aggregator
from bot.domain.extra_rules import ExtraRules, RuleSet
from bot.domain.health import PastGap, SourceHealth
from bot.domain.rules import Policy, RuleBook
from bot.domain.universe import CoinUniverse
from bot.domain.unknown_coins import UnknownCoins
from bot.features.backtest_history import CachedHistory
from bot.features.broadcasts import sync_broadcasts
from bot.features.chart_view import AlertCharts
from bot.features.digests import Digests, declared_digests
from bot.features.insight import refresh_baselines
from bot.features.webhooks import build_webhooks
from bot.features.webhooks import chat_key as webhook_key
from bot.ops.leadership import Leadership, PgLeadership
from bot.ops.replicas import RulesSync, build_leadership, catch_up, leader_only, one_at_a_time
from bot.ops.wiring import Ops, build_ops
from bot.runtime.clock import AcceleratedClock, Clock
from bot.runtime.delivery import Delivery, Sender
from bot.runtime.engine import Engine
from bot.runtime.hot_buckets import HOT_MINUTES, load_hot, save_hot
from bot.runtime.hot_snapshot import snapshot_path
from bot.runtime.market_view import LiveMarket
from bot.runtime.scheduler import Scheduler
from bot.runtime.watchdog import Watchdog
from bot.sources.coinglass import CoinGlassSource
from bot.sources.from_config import build_sources
from bot.sources.replay import ReplaySource
from bot.store import Database, parse_location

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600_000


@dataclass
class Runtime:
    """Everything the running service holds, for the CLI and for end-to-end tests."""

    config: Config
    clock: Clock
    db: Database
    market: LiveMarket
    book: RuleBook
    service: CommandService
    delivery: Delivery
    engine: Engine
    scheduler: Scheduler
    watchdog: Watchdog
    sources: list[Any]
    senders: dict[str, Sender]
    console: ConsoleChat | None = None
    bots: list[Any] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    ops: Ops | None = None  # metrics, /healthz, operator alerts, the HTTP port (build sets it)
    digests: Digests | None = None
    # who leads (docs/scaling.md): SQLite, always this process; PostgreSQL, the lock holder
    leadership: Leadership | None = None
    leader_task: asyncio.Task[Any] | None = None  # the lock's loop, stopped last
    # SQLite: the hot buckets' snapshot beside the file, written at a clean stop (hot_snapshot)
    hot_snapshot: Path | None = None

    @property
    def replay(self) -> ReplaySource | None:
        return next((s for s in self.sources if isinstance(s, ReplaySource)), None)


def console_enabled(config: Config, secrets: Secrets) -> bool:
    """The console chat: forced on or off, or (auto) on when no chat platform has a token."""
    platforms = (config.telegram.enabled and bool(secrets.telegram_token)) or (
        config.discord.enabled and bool(secrets.discord_token)
    )
    return config.console.enabled == "on" or (config.console.enabled == "auto" and not platforms)


async def build(
    config: Config,
    secrets: Secrets,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    clock: Clock | None = None,
    discord_options: Mapping[str, float] | None = None,
) -> Runtime:
    """The one composition of the service: `liqbot run`, the demo and every test stack.

    Everything comes from the Config and the Secrets; the rest are test hooks: a clock, the
    console's streams, and discord.py's start-up waits (a fake gateway answers at once).
    """
    check_with_secrets(config, secrets)  # as `liqbot run` and check-config do, for every caller
    replaying = config.sources.replay.enabled
    clock = clock or (AcceleratedClock(config.sources.replay.speed) if replaying else Clock())
    now = clock.now_ms()

    store = parse_location(config.storage.location)
    if store.kind == "sqlite":
        Path(store.target).parent.mkdir(parents=True, exist_ok=True)
    db = await Database.open(store.target, exclusive=True)  # SQLite: one service per file
    log.info("store: %s at %s", store.kind, store.shown)
    leadership = build_leadership(config.replica, db)

    universe = CoinUniverse()  # the coins the venues list, fed by the sources
    sources = build_sources(config, secrets, clock, universe)
    names = [s.name for s in sources]
    # the venue a source's liquidations count for (binance_coinm: binance; bybit_inverse: bybit)
    streamed = (getattr(s, "venue", s.name) for s in sources if s.name != "coinglass")
    venues = sources[0].venues if replaying else tuple(dict.fromkeys(streamed))
    # Memory holds what the windows read (24 h, plus slack); the longer history lives in SQLite.
    agg = Aggregator(venues=venues, retention_minutes=HOT_MINUTES)
    # the hot buckets are read beside the rule book's load (issue 9): nothing below reads agg
    # until `await hot`
    # SQLite only: one service per file (its lock), so the snapshot beside it is this one's
    snapshot = snapshot_path(store.target) if store.kind == "sqlite" else None
    hot = asyncio.ensure_future(load_hot(db, agg, now, snapshot))
    # What the load makes (the rule book, the buckets' chunks) all lives on: the collector's
    # passes over it found nothing to free and took ~0.5 s of start-up; start() freezes it.
    collecting = gc.isenabled()
    gc.disable()
    try:
        async with one_at_a_time(db, "broadcasts"):  # replicas starting together add a rule once
            await sync_broadcasts(config, db, now)
        book = RuleBook(
            Policy(
                rearm_ratio=config.alerts.rearm_ratio,
                min_quiet_ms=config.alerts.min_quiet * 1000,
                escalation_factor=config.alerts.escalation_factor,
            )
        )
        extras = ExtraRules(book.policy)  # venue, relative, single-liquidation rules
        rules = RuleSet(book, extras)
        rules.load(await db.all_subscriptions(), await db.load_states())  # paused chats: silenced
        db.on_chat_migrated.append(rules.rekey_chat)  # a moved chat's rules follow it
        await refresh_baselines(db, extras, now)
        last_seen = await hot
    finally:
        if not hot.done():  # something above failed: stop reading
            hot.cancel()
            with contextlib.suppress(BaseException):
                await hot
        if collecting:
            gc.enable()
    # a replay brings its own history, so it has no "not connected yet" gap before it starts
    health = SourceHealth.restored(
        [] if replaying else names,
        now,
        [PastGap(g.source, g.start_ms, g.end_ms) for g in await db.recent_gaps(now - DAY_MS)],
        last_seen_ms=last_seen,
    )
    market = LiveMarket(
        agg,
        health,
        clock,
        sampled=True,
        universe=universe,
        max_event_usd=config.sources.max_event_usd,
        unknown_coins=UnknownCoins(
            config.sources.unknown_coins_max, config.sources.unknown_coin_quiet * 1000
        ),
    )
    market.watch = extras.singles.offer

    service = CommandService(
        db,
        market,
        rules,
        ServiceSettings(max_subscriptions_per_chat=config.limits.subscriptions_per_chat),
        clock.now_ms,
        # backtests ask CoinGlass for the days before the store's first minute
        coinglass=(
            CachedHistory(cg, clock.now_ms)
            if (cg := next((s for s in sources if isinstance(s, CoinGlassSource)), None))
            else None
        ),
    )

    # the buttons under alerts: signed with a key the store keeps (they work after a restart)
    service.buttons = await ButtonSigner.load(db)
    senders: dict[str, Sender] = {}
    bots: list[Any] = []
    if config.telegram.enabled and secrets.telegram_token:
        from bot.chat.telegram_bot import TelegramBot

        tg = TelegramBot.from_config(
            config.telegram,
            secrets.telegram_token.get_secret_value(),
            service,
            db,
            webhook_secret=secrets.telegram_webhook_secret.get_secret_value(),
        )
        bots.append(tg)
        tg.sender.buttons = service.buttons
        senders["telegram"] = tg.sender
    if config.discord.enabled and secrets.discord_token:
        from bot.chat.discord_bot import DiscordBot

        dc = DiscordBot(
            secrets.discord_token.get_secret_value(),
            service,
            db,
            market.known_coins,
            **(discord_options or {}),
        )
        bots.append(dc)
        dc.sender.buttons = service.buttons
        senders["discord"] = dc.sender
    console = None
    webhooks = build_webhooks(config, secrets, clock)
    if webhooks is not None:
        bots.append(webhooks)  # started and stopped with the chat bots (its HTTP session)
        senders[webhooks.platform] = webhooks
        for name in webhooks.targets:  # a row to pause; a restart resumes (the URL may be fixed)
            await db.ensure_chat(webhook_key(name), "channel", now)
            if await db.resume_chat(webhook_key(name)):
                log.info("webhook %s resumed at start", name)
    if console_enabled(config, secrets):
        console = ConsoleChat(service, stdout)
        senders["console"] = console
        await db.ensure_chat(CONSOLE_CHAT, "private")

    delivery = Delivery(db, senders, clock.now_ms, max_age_ms=config.alerts.max_delivery_age * 1000)
    if config.alerts.attach_chart:
        delivery.prepare = AlertCharts(db, market, lambda: persist(rt)).prepare
    watchdog = Watchdog(clock.now_ms, secrets=secrets.all())
    scheduler = Scheduler(watchdog)
    service.failing_jobs = watchdog.failing  # /status says so when our own loops fail
    engine = Engine(
        db,
        book,
        market,
        clock,
        on_enqueued=lambda: scheduler.poke("drain"),
        attach_chart=config.alerts.attach_chart,
        extras=extras,
    )
    digests = Digests(
        db, market, clock.now_ms, declared_digests(config), lambda: scheduler.poke("drain")
    )
    service.declared_digests = digests.declared
    service.on_enqueued = lambda: scheduler.poke("drain")
    market.on_data = lambda: scheduler.poke("evaluate")  # at once: no debounce (issue 9)
    rt = Runtime(
        config=config,
        clock=clock,
        db=db,
        market=market,
        book=book,
        service=service,
        delivery=delivery,
        engine=engine,
        scheduler=scheduler,
        watchdog=watchdog,
        sources=sources,
        senders=senders,
        console=console,
        bots=bots,
        digests=digests,
        leadership=leadership,
        hot_snapshot=snapshot,
    )
    delivery.may_send = leadership.acting  # checked before every send ...
    for sender in senders.values():  # ... and by a sender right before the request leaves
        if hasattr(sender, "gate"):
            sender.gate = leadership.acting
    service.before_chart = lambda: persist(rt)  # a chart includes the last seconds
    digests.before = lambda: persist(rt)  # so does a digest's biggest hour
    rt.ops = build_ops(rt)
    rt.ops.health.replica = lambda: _replica_info(leadership)
    if isinstance(leadership, PgLeadership):
        service.replica_line = lambda: _replica_line(leadership)
        service.book_is_current = leadership.acting
    for chat in config.operators.chats:
        await db.ensure_chat(chat)
    return rt


async def persist(rt: Runtime) -> None:
    """Write changed minute buckets and ended outages, so a restart keeps them.

    The leader's writes (fenced on PostgreSQL). A standby asked for a chart in webhook mode
    writes nothing and keeps them (dirty buckets, ended gaps) for when it leads: the chart
    reads what the leader saved.
    """
    if rt.leadership is not None and not rt.leadership.acting():
        return
    rows = rt.market.agg.dirty_rows()
    if rows:
        await rt.db.upsert_buckets(rows)
    for g in rt.market.health.take_ended():
        await rt.db.record_gap(g.source, g.start_ms, g.end_ms)


async def prune(rt: Runtime) -> None:
    now = rt.clock.now_ms()
    keep_ms = rt.config.storage.retention_days * DAY_MS
    rt.market.agg.prune(now)
    rt.market.health.prune(now - keep_ms)
    if rt.leadership is not None and not rt.leadership.acting():
        return  # the store is the leader's to prune
    await rt.db.prune_updates(now - DAY_MS)
    await rt.db.prune_buckets(now - keep_ms)
    await rt.db.prune_outbox(now - 7 * DAY_MS)
    await rt.db.prune_mutes(now)
    await rt.db.prune_gaps(now - keep_ms)


def _schedule(rt: Runtime) -> None:
    speed = rt.clock.speed
    a = rt.config.alerts
    s = rt.scheduler
    assert rt.ops is not None and rt.leadership is not None
    lead = rt.leadership  # the leader evaluates, delivers and writes; every replica reads
    timed = rt.ops.metrics.timed  # liqbot_evaluation_seconds: the tick and the poked runs
    s.every(
        "evaluate",
        max(0.2, a.tick / speed),
        leader_only(lead, timed(rt.engine.tick)),
        first_in=0.1,
        on_poke=leader_only(lead, timed(rt.engine.evaluate_new_data)),
    )
    s.every("drain", 2.0, leader_only(lead, rt.delivery.drain), first_in=0.5)
    s.every("persist", max(1.0, 10 / speed), leader_only(lead, lambda: persist(rt)))
    s.every("prune", 3600, lambda: prune(rt), first_in=60)
    if (
        rt.digests is not None
    ):  # a sweep a minute (market time); see bot/features/digests.py for why
        s.every("digests", max(1.0, 60 / speed), leader_only(lead, rt.digests.run_due), first_in=5)
    if rt.engine.extras is not None:  # "usual" of relative rules moves with the hour
        extras = rt.engine.extras
        s.every("baselines", 600, lambda: refresh_baselines(rt.db, extras, rt.clock.now_ms()))
    if rt.ops.operators is not None:
        every = max(1.0, rt.config.operators.check_every / speed)
        s.every("operators", every, leader_only(lead, rt.ops.operators.check), first_in=every)
    for src in rt.sources:
        poll = getattr(src, "poll_once", None)
        if poll is not None:
            interval = rt.config.sources.coinglass.poll

            async def job(poll: Any = poll) -> None:
                await poll(rt.market)

            s.every(src.name, interval, job, first_in=0.1)


async def start(rt: Runtime, *, jobs: bool = True) -> None:
    """Start the scheduled jobs, the sources and the chat bots.

    `jobs=False` starts the bots alone: for tests that drive the engine and delivery themselves.
    """
    # Everything built so far (the rule book may hold a million subscriptions) lives as long as
    # the process: take it out of the garbage collector's full scans, whose pauses stall the loop.
    gc.freeze()
    if rt.ops is not None:  # first: Telegram's first webhook POST must find the route
        await rt.ops.start(rt.clock.now_ms())
    if jobs:
        _start_jobs(rt)
    lead = rt.leadership
    if not isinstance(lead, PgLeadership):
        for bot in rt.bots:
            await bot.start()
        return
    # Replicas: a webhook is served by every replica; polling and the gateway by the leader.
    everywhere = [b for b in rt.bots if getattr(b, "mode", "") == "webhook"]
    for bot in everywhere:
        await bot.start()
    sync = RulesSync(rt.db, rt.book, rt.engine.extras)
    lead.on_rules_changed = sync.notice
    lead.on_gain = lambda epoch: _lead(
        rt, lead, epoch, sync, [b for b in rt.bots if b not in everywhere]
    )
    rt.leader_task = asyncio.create_task(lead.run(), name="leadership")


async def _lead(
    rt: Runtime, lead: PgLeadership, epoch: int, sync: RulesSync, bots: list[Any]
) -> None:
    """Took over: load the store's truth (the old leader's states), then act."""
    t0 = time.monotonic()
    # the book this replica loaded at start, brought to the store's truth: the rows that
    # changed and the old leader's states (a full reload took ~7 s at 1,000,000 subscriptions)
    caught = await catch_up(rt.db, rt.book, rt.engine.extras)
    rt.tasks.append(asyncio.create_task(sync.run(), name="leadership:rules"))
    for bot in bots:
        await bot.start()
    lead.ready(epoch)
    log.info(
        "leadership: %s acting as leader (epoch %d): %d subscriptions (%d added, %d removed, "
        "%d states moved) caught up in %d ms",
        lead.replica_id,
        epoch,
        len(rt.book),
        caught.added,
        caught.removed,
        caught.states_moved,
        int((time.monotonic() - t0) * 1000),
    )
    rt.scheduler.poke("evaluate")
    rt.scheduler.poke("drain")


def _replica_info(lead: Leadership) -> dict[str, Any]:
    return {
        "id": lead.replica_id,
        "role": "leader" if lead.acting() else "standby",
        "leader": lead.leader_id,
    }


def _replica_line(lead: Leadership) -> str:
    if lead.acting():
        return f"Replica {lead.replica_id} (the leader)"
    leader = lead.leader_id or "none yet"
    return f"Replica {lead.replica_id} (standby); the leader: {leader}"


def _start_jobs(rt: Runtime) -> None:
    _schedule(rt)
    rt.scheduler.start()
    for src in rt.sources:
        if hasattr(src, "poll_once"):
            continue  # polled by the scheduler
        rt.tasks.append(asyncio.create_task(src.run(rt.market), name=f"source:{src.name}"))


async def stop(rt: Runtime) -> None:
    """Stop taking input, evaluate and deliver once more (when leading), save, close."""
    rt.scheduler.shutdown()
    if rt.ops is not None:
        with contextlib.suppress(Exception):
            await rt.ops.stop()
    for t in rt.tasks:
        t.cancel()
    for t in rt.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t
    acting = rt.leadership is None or rt.leadership.acting()
    if acting:  # a standby, or a leader that lost its lease, leaves this to the leader
        with contextlib.suppress(Exception):
            await rt.engine.tick()
            await rt.delivery.drain()
    for src in rt.sources:
        closer = getattr(src, "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()
    for bot in rt.bots:
        try:
            await bot.stop()
        except Exception:
            log.exception("stopping %s failed", type(bot).__name__)
    if acting and (rt.leadership is None or rt.leadership.acting()):
        try:
            await persist(rt)
        except Exception:
            log.exception("saving the last buckets at stop failed")
        else:  # everything the aggregator holds is in the store: the snapshot matches it
            if rt.hot_snapshot is not None:
                await save_hot(rt.db, rt.market.agg, rt.clock.now_ms(), rt.hot_snapshot)
    if rt.leader_task is not None:  # last: the lock goes when our work is done
        rt.leader_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await rt.leader_task
    await rt.db.close()


async def run(
    config: Config,
    secrets: Secrets,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    exit_when_replay_done: bool = False,
    banner: str = "",
) -> int:
    """Run the service until SIGINT/SIGTERM (or, for a piped demo, until input and replay end)."""
    rt = await build(config, secrets, stdin=stdin, stdout=stdout)
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop_event.set)
    out = stdout or sys.stdout
    if banner and rt.console is not None:
        out.write(banner + "\n\n")
        out.flush()
    elif banner:  # no console: the banner is the log's first word on what runs
        log.info("%s", banner.replace("\n", "; "))
    waiters: list[asyncio.Task[Any]] = [asyncio.create_task(stop_event.wait())]
    lost = getattr(rt.leadership, "lost", None)
    if lost is not None:  # a replica that lost leadership stops; its supervisor restarts it
        waiters.append(asyncio.create_task(lost.wait()))
    code = 0
    try:
        try:
            await start(rt)
        except Exception as e:  # a platform that cannot start: say so plainly and let the
            # supervisor (Procfile worker) restart us, rather than run half-deaf
            log.error("could not start: %s: %s; stopping", type(e).__name__, e)
            return 1
        if rt.console is not None:
            console = _console_then_replay(rt, stdin, exit_when_replay_done)
            waiters.append(asyncio.create_task(console))
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if lost is not None and lost.is_set():
            log.warning("stopping: this replica lost leadership (it restarts as a standby)")
            code = 3
    finally:
        for w in waiters:
            w.cancel()
        await stop(rt)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    return code


async def _console_then_replay(rt: Runtime, stdin: TextIO | None, wait_replay: bool) -> None:
    """The console ends the run: at `quit` at once; at end of piped input, after the replay."""
    assert rt.console is not None
    quit_typed = await rt.console.run(stdin)
    replay = rt.replay
    if quit_typed or not wait_replay or replay is None:
        if not wait_replay and not quit_typed:
            await asyncio.Event().wait()  # input ended but the service goes on (run mode)
        return
    await replay.finished.wait()
    # let the last evaluation and delivery happen before stopping
    await rt.engine.tick()
    await rt.delivery.drain()
