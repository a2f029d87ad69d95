"""Operator alerts as a state machine (hypothesis): whatever sources, jobs and time do, each
problem is told as down, up, down, up ... once per transition, and after a look the operators
know exactly the problems that are present."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bot.domain.aggregate import Aggregator
from bot.domain.health import SourceHealth
from bot.domain.source_fault import DownReason, Fault
from bot.ops.operators import OperatorAlerts
from bot.ops.service_health import DeliveryHealth, ServiceHealth
from bot.runtime.market_view import LiveMarket
from bot.runtime.watchdog import Watchdog
from bot.store import Database
from tests.test_operators import MIN, T0, ManualClock

SOURCES = ("binance", "bybit")
CHAT = "telegram:1"


class OperatorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = tempfile.mkdtemp(prefix="ops-sm-")
        self.clock = ManualClock(T0)
        self.db = self.loop.run_until_complete(Database.open(Path(self.dir) / "o.sqlite3"))
        start = T0 - MIN
        self.market = LiveMarket(
            Aggregator(venues=SOURCES), SourceHealth(SOURCES, start), self.clock
        )
        for s in SOURCES:
            self.market.up(s, start)
        self.watchdog = Watchdog(self.clock.now_ms)
        self.delivery = DeliveryHealth(self.clock.now_ms)
        self.health = ServiceHealth(
            self.market, self.watchdog, self.delivery, self.db, ("telegram",), self.clock.now_ms
        )
        self.ops = OperatorAlerts(self.health, self.db, (CHAT,), self.clock.now_ms)
        self.watchdog.success("evaluate")
        self.sent: list[str] = []  # dedupe keys, in the order enqueued

    def teardown(self) -> None:
        self.loop.run_until_complete(self.db.close())
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(source=st.sampled_from(SOURCES))
    def source_down(self, source: str) -> None:
        self.market.down(source, self.clock.now, DownReason(Fault.CANNOT_CONNECT))

    @rule(source=st.sampled_from(SOURCES))
    def source_up(self, source: str) -> None:
        self.market.up(source, self.clock.now)

    @rule(job=st.sampled_from(("evaluate", "drain")), ok=st.booleans())
    def job_runs(self, job: str, ok: bool) -> None:
        if ok:
            self.watchdog.success(job)
        else:
            self.watchdog.failure(job, RuntimeError("boom"))

    @rule(outcome=st.sampled_from(("sent", "retry", "permanent")))
    def a_send(self, outcome: str) -> None:
        self.delivery.record("telegram", outcome, "NetworkError")

    @rule(ms=st.integers(0, 12 * MIN))
    def time_passes(self, ms: int) -> None:
        self.clock.now += ms
        if self.watchdog.jobs()["evaluate"].failing_since_ms is None:
            self.watchdog.success("evaluate")  # a healthy loop keeps evaluating

    @rule()
    def look(self) -> None:
        async def look() -> None:
            before = await self._keys()
            n = await self.ops.check()
            after = await self._keys()
            assert len(after) - len(before) == n  # every message is new: no duplicate key
            self.sent = after
            # mark them sent, as delivery would, so the outbox itself never looks stuck
            for row in await self.db.due_outbox(self.clock.now + 86_400_000, 1000):
                await self.db.mark_sent(row.id, self.clock.now)
            present = {p.key for p in await self.health.problems(self.clock.now)}
            assert present == set(self.ops.told)

        self.loop.run_until_complete(look())

    async def _keys(self) -> list[str]:
        rows = await self.db._all("SELECT dedupe_key FROM outbox ORDER BY id")
        return [r[0] for r in rows]

    @invariant()
    def alternates_down_up_per_problem(self) -> None:
        last: dict[str, str] = {}
        for key in self.sent:
            _, _, rest = key.partition(f"operator:{CHAT}:")
            problem, _since, tail, _now = rest.rsplit(":", 3)  # "<problem key>:<since>:down:<now>"
            assert tail == ("up" if last.get(problem) == "down" else "down"), self.sent
            last[problem] = tail
        told_down = {k for k, v in last.items() if v == "down"}
        assert told_down == set(self.ops.told)


# No shrink phase: each step runs on a real SQLite file, and shrinking a long run took minutes;
# the failing run's steps are printed as they are.
OperatorMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
TestOperatorAlerts = OperatorMachine.TestCase
