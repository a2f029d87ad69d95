"""Prometheus metrics (prometheus-client), one CollectorRegistry per Runtime.

Counters and histograms are bumped by one-line hooks at the central places (LiveMarket.events,
Engine alerts, Delivery outcomes, CommandService.handle_text, the evaluate job); everything that
is a state rather than an event (sources up, reconnects, subscriptions, outbox, failing jobs) is
read at scrape time by a collector, so the hot paths pay nothing for it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.domain.models import Liquidation, Transition

CONTENT_TYPE = CONTENT_TYPE_LATEST
T = TypeVar("T")

# evaluation of a million rules takes tens of ms; a command that waits on the network, seconds
EVAL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
COMMAND_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._events = Counter(
            "liqbot_events", "Liquidation events received, by venue", ["venue"], registry=r
        )
        self._alerts = Counter(
            "liqbot_alerts",
            "Alerts enqueued: fired, escalated (per subscription) and operator notices",
            ["kind"],
            registry=r,
        )
        self._deliveries = Counter(
            "liqbot_deliveries",
            "Outbox send outcomes: sent, retry, permanent, migrated, expired, gave_up",
            ["platform", "outcome"],
            registry=r,
        )
        self.evaluation = Histogram(
            "liqbot_evaluation_seconds",
            "Time of one evaluation (snapshot, rules, commit)",
            buckets=EVAL_BUCKETS,
            registry=r,
        )
        self.command = Histogram(
            "liqbot_command_seconds",
            "Time to answer one chat command",
            buckets=COMMAND_BUCKETS,
            registry=r,
        )
        self._venue: dict[str, Any] = {}  # label children cached: the ingest path stays cheap
        self._outcome: dict[tuple[str, str], Any] = {}

    def preset(self, venues: Iterable[str], platforms: Iterable[str]) -> None:
        """Expose zeros for the known label values, so a dashboard shows 0 rather than nothing."""
        for v in venues:
            self._venue_counter(v)
        for kind in ("fired", "escalated", "operator"):
            self._alerts.labels(kind=kind)
        for p in platforms:
            for outcome in ("sent", "retry", "permanent"):
                self.delivery(p, outcome, count=False)

    # ---- hooks ---------------------------------------------------------------------------------

    def events(self, events: list[Liquidation]) -> None:
        venue = events[0].venue
        if all(e.venue == venue for e in events):  # one frame, one venue: the usual case
            self._venue_counter(venue).inc(len(events))
            return
        counts: dict[str, int] = {}
        for e in events:
            counts[e.venue] = counts.get(e.venue, 0) + 1
        for v, n in counts.items():
            self._venue_counter(v).inc(n)

    def _venue_counter(self, venue: str) -> Any:
        child = self._venue.get(venue)
        if child is None:
            child = self._venue[venue] = self._events.labels(venue=venue)
        return child

    def alerted(self, transitions: Iterable[Transition]) -> None:
        for t in transitions:
            if t.alert is not None:
                self._alerts.labels(kind=t.alert.kind.value).inc()

    def operator_notices(self, n: int) -> None:
        self._alerts.labels(kind="operator").inc(n)

    def delivery(self, platform: str, outcome: str, *, count: bool = True) -> None:
        child = self._outcome.get((platform, outcome))
        if child is None:
            child = self._outcome[(platform, outcome)] = self._deliveries.labels(platform, outcome)
        if count:
            child.inc()

    def timed(self, job: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
        """The evaluate job, observed in liqbot_evaluation_seconds."""

        async def run() -> T:
            t0 = time.perf_counter()
            try:
                return await job()
            finally:
                self.evaluation.observe(time.perf_counter() - t0)

        return run

    # ---- state read at scrape time ---------------------------------------------------------------

    def watch(self, state: StateReader) -> None:
        self.registry.register(_StateCollector(state))

    def exposition(self) -> bytes:
        return _generate(self.registry)


class StateReader:
    """Callables the collector reads on each scrape (the app fills them from the Runtime)."""

    def __init__(
        self,
        sources_up: Callable[[], dict[str, bool]],
        reconnects: Callable[[], dict[str, int]],
        subscriptions: Callable[[], int],
        outbox_pending: Callable[[], int],
        failing_jobs: Callable[[], dict[str, bool]],
    ) -> None:
        self.sources_up = sources_up
        self.reconnects = reconnects
        self.subscriptions = subscriptions
        self.outbox_pending = outbox_pending
        self.failing_jobs = failing_jobs


class _StateCollector(Collector):
    def __init__(self, state: StateReader) -> None:
        self.state = state

    def describe(self) -> list[Metric]:
        return []  # unchecked: names are known to be unique within our registry

    def collect(self) -> Iterator[Metric]:
        s = self.state
        up = GaugeMetricFamily("liqbot_source_up", "1 when the source is up", labels=["source"])
        for name, is_up in sorted(s.sources_up().items()):
            up.add_metric([name], 1.0 if is_up else 0.0)
        yield up
        rc = CounterMetricFamily(
            "liqbot_reconnects", "Reconnects after a failure, by source", labels=["source"]
        )
        for name, n in sorted(s.reconnects().items()):
            rc.add_metric([name], float(n))
        yield rc
        yield GaugeMetricFamily(
            "liqbot_subscriptions", "Subscriptions (rules) loaded", value=float(s.subscriptions())
        )
        yield GaugeMetricFamily(
            "liqbot_outbox_pending",
            "Messages waiting in the outbox (read at the last scrape or health check)",
            value=float(s.outbox_pending()),
        )
        jobs = GaugeMetricFamily(
            "liqbot_job_failing", "1 while a scheduled job keeps failing", labels=["job"]
        )
        for name, failing in sorted(s.failing_jobs().items()):
            jobs.add_metric([name], 1.0 if failing else 0.0)
        yield jobs
