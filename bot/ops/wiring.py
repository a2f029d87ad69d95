"""The operator's side of the Runtime, composed by app.build: metrics hooks, the health reading,
operator alerts and the one HTTP server (/healthz, /metrics, the Telegram webhook)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot.config import ConfigError
from bot.ops.build_info import build_info
from bot.ops.http_server import HttpServer, PortError, resolve_port
from bot.ops.metrics import Metrics, StateReader
from bot.ops.operators import OperatorAlerts
from bot.ops.service_health import DeliveryHealth, HealthLimits, ServiceHealth

if TYPE_CHECKING:
    from bot.chat.service import CommandService
    from bot.config import Config
    from bot.domain.rules import RuleBook
    from bot.ops.leadership import Leadership
    from bot.runtime.clock import Clock
    from bot.runtime.delivery import Delivery, Sender
    from bot.runtime.engine import Engine
    from bot.runtime.market_view import LiveMarket
    from bot.runtime.scheduler import Scheduler
    from bot.runtime.watchdog import Watchdog
    from bot.store import Database

log = logging.getLogger(__name__)


class RuntimeParts(Protocol):
    """What build_ops reads of app.Runtime: named here, so this module need not import the
    composition root that imports it (no import circle)."""

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
    bots: list[Any]
    leadership: Leadership | None


@dataclass
class Ops:
    metrics: Metrics
    delivery_health: DeliveryHealth
    health: ServiceHealth
    operators: OperatorAlerts | None
    http: HttpServer | None

    async def start(self, now_ms: int) -> None:
        self.health.started_ms = now_ms  # the loops' freshness counts from here
        if self.http is not None:
            await self.http.start()

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.stop()


def build_ops(rt: RuntimeParts, env: Mapping[str, str] | None = None) -> Ops:
    """Wire the hooks into the Runtime's parts and build what serves the operator."""
    cfg, op = rt.config.http, rt.config.operators
    metrics = Metrics(build_info())
    metrics.preset(rt.market.agg.venue_names, rt.senders)
    delivery_health = DeliveryHealth(rt.clock.now_ms)
    health = ServiceHealth(
        rt.market,
        rt.watchdog,
        delivery_health,
        rt.db,
        rt.senders.keys(),
        rt.clock.now_ms,
        HealthLimits(
            # a fast replay ticks every 0.2 s of real time, which may be minutes of market time
            stale_after_ms=max(cfg.stale_after * 1000, int(3 * 0.2 * rt.clock.speed * 1000)),
            no_source_for_ms=cfg.no_source_for * 1000,
            outbox_stuck_after_ms=cfg.outbox_stuck_after * 1000,
            source_down_after_ms=op.source_down_after * 1000,
            delivery_failing_after_ms=op.delivery_failing_after * 1000,
        ),
    )

    # the one-line hooks: events, alerts, delivery outcomes, command time
    rt.market.count_events = metrics.events
    metrics.rejected = rt.market.health.rejected_counts
    rt.engine.on_alerts = metrics.alerted

    def outcome(platform: str, result: str, reason: str) -> None:
        metrics.delivery(platform, result)
        delivery_health.record(platform, result, reason)

    rt.delivery.on_outcome = outcome
    rt.service.timer = metrics.command.time
    metrics.watch(
        StateReader(
            sources_up=lambda: {
                s.name: s.state == "up" for s in rt.market.status(rt.clock.now_ms())
            },
            reconnects=lambda: {  # the streams (a polled source does not reconnect)
                s.name: s.reconnects for s in rt.sources if hasattr(s, "reconnects")
            },
            subscriptions=lambda: len(rt.book),
            outbox_pending=lambda: health.outbox_pending,
            failing_jobs=lambda: {
                name: j.failing_since_ms is not None for name, j in rt.watchdog.jobs().items()
            },
            leading=lambda: rt.leadership is None or rt.leadership.acting(),
            replica=lambda: rt.leadership.replica_id if rt.leadership is not None else "",
        )
    )

    def notices_enqueued(n: int) -> None:
        metrics.operator_notices(n)
        rt.scheduler.poke("drain")

    operators = None
    if op.chats:
        operators = OperatorAlerts(
            health,
            rt.db,
            op.chats,
            rt.clock.now_ms,
            heartbeat=op.heartbeat,
            on_enqueued=notices_enqueued,
        )

    try:
        port = resolve_port(cfg.port, env)
    except PortError as e:
        raise ConfigError(str(e)) from None
    http = None
    if port is not None:
        http = HttpServer(cfg.host, port)
        http.serve_health(health, metrics)
    hook = _webhook_bot(rt.bots)
    if hook is not None:
        if http is None:
            raise ConfigError("telegram.mode webhook needs the HTTP server: set http.port or $PORT")
        route = http.serve_webhook(hook.webhook.path, hook.accept_update)
        log.info("telegram webhook served on %s", route)
    return Ops(metrics, delivery_health, health, operators, http)


def _webhook_bot(bots: list[Any]) -> Any:
    return next((b for b in bots if getattr(b, "mode", "") == "webhook"), None)
