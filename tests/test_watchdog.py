"""Our own loops failing, for real, through the production wiring: /status and the log say so once.

The fault is a real store fault: another process renames a table the job reads (as a broken
migration or an operator's mistake would), then puts it back. Each job run is the scheduler's
own guarded run (`run_now`), so "one tick" is one run.
"""

from __future__ import annotations

import io
import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Secrets, parse_config
from bot.domain.models import Liquidation, Side
from bot.runtime import app
from bot.runtime.clock import Clock
from bot.runtime.watchdog import JobHealth, Watchdog
from tests.offline import LIVE_SOURCES

T0 = int(datetime(2027, 1, 15, 14, 1, tzinfo=UTC).timestamp() * 1000)


class ManualClock(Clock):
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


def _config(tmp_path: Path):
    return parse_config(
        {
            "storage": {"path": str(tmp_path / "wd.sqlite3")},
            "sources": {n: {"enabled": n == "binance"} for n in LIVE_SOURCES},
            "console": {"enabled": "on"},
        }
    )


def _rename(path: Path, old: str, new: str) -> None:
    """Another process changes the schema under the running service."""
    with sqlite3.connect(path) as other:
        other.execute(f"ALTER TABLE {old} RENAME TO {new}")


async def _status(rt: app.Runtime, out: io.StringIO) -> str:
    out.seek(0)
    out.truncate()
    assert rt.console is not None
    await rt.console.handle_line("/status")
    return out.getvalue()


@pytest.mark.parametrize(
    ("job", "table", "words", "error"),
    [
        ("evaluate", "alert_states", "Alerting", "OperationalError: no such table: alert_states"),
        ("drain", "outbox", "Delivery", "OperationalError: no such table: outbox"),
    ],
)
async def test_a_failing_job_shows_in_status_and_logs_once(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    job: str,
    table: str,
    words: str,
    error: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    config = _config(tmp_path)
    out = io.StringIO()
    clock = ManualClock(T0)
    rt = await app.build(config, Secrets(), stdout=out, clock=clock)
    heard: list[tuple[str, bool]] = []
    rt.watchdog.listeners.append(lambda j, failing: heard.append((j.name, failing)))
    app._schedule(rt)  # the production jobs, run here one at a time instead of on a timer
    try:
        await rt.console.handle_line("/subscribe btc 1h 100m")  # type: ignore[union-attr]
        await rt.scheduler.run_now(job)
        assert rt.watchdog.jobs()[job].last_success_ms == T0 and not rt.watchdog.failing()
        assert "is failing" not in await _status(rt, out)

        _rename(Path(config.storage.path), table, table + "_gone")
        clock.now = T0 + 60_000
        rt.market.up("binance", clock.now)
        rt.market.events("binance", [Liquidation("binance", "BTC", Side.SHORT, 150e6, clock.now)])
        await rt.scheduler.run_now(job)  # the first failing tick ...
        status = await _status(rt, out)  # ... shows at once
        assert f"{words} is failing since 14:02 UTC: {error}" in status
        assert status.startswith(f"Status: {words.lower()} is failing")
        for _ in range(4):
            clock.now += 1000
            await rt.scheduler.run_now(job)
        assert rt.watchdog.jobs()[job].consecutive_failures == 5
        assert rt.watchdog.jobs()[job].failing_since_ms == T0 + 60_000
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and errors[0].exc_info is not None  # one line, one traceback
        assert job in errors[0].getMessage()

        _rename(Path(config.storage.path), table + "_gone", table)
        await rt.scheduler.run_now(job)  # the first good tick clears it
        status = await _status(rt, out)
        assert "is failing" not in status and status.startswith("Status")
        assert heard == [(job, True), (job, False)]
        recovered = [r for r in caplog.records if "recovered" in r.getMessage()]
        assert len(recovered) == 1 and recovered[0].levelno == logging.WARNING
        if job == "evaluate":  # the alert held back by the fault goes out after recovery
            await rt.delivery.drain()
            assert "BTC liquidations in 1h: $150.00M" in out.getvalue()
    finally:
        await app.stop(rt)


def test_transitions_are_told_once_and_secrets_never_kept() -> None:
    now = [1000]
    wd = Watchdog(lambda: now[0], secrets=["123456:SECRET-token"])
    told: list[tuple[str, bool, int]] = []
    wd.listeners.append(lambda j, f: told.append((j.name, f, j.consecutive_failures)))
    wd.success("persist")
    for i in range(3):
        now[0] += 1000
        wd.failure("persist", RuntimeError(f"POST /bot123456:SECRET-token/send\nfailed {i}"))
    job = wd.jobs()["persist"]
    assert job == JobHealth(
        "persist",
        last_success_ms=1000,
        last_failure_ms=4000,
        consecutive_failures=3,
        failing_since_ms=2000,
        last_error="RuntimeError: POST /bot***/send failed 2",
    )
    assert wd.failing() == [job]
    now[0] += 1000
    wd.success("persist")
    assert told == [("persist", True, 1), ("persist", False, 0)]
    assert wd.failing() == [] and wd.jobs()["persist"].failing_since_ms is None
