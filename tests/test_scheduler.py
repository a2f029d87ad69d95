"""Poked jobs run on the leading edge and coalesce: shown with events, not timing."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.runtime.scheduler import Scheduler, Trigger


class GatedJob:
    """A job that records each run and holds it open until released."""

    def __init__(self) -> None:
        self.started: list[asyncio.Event] = [asyncio.Event() for _ in range(5)]
        self.release: list[asyncio.Event] = [asyncio.Event() for _ in range(5)]
        self.runs = 0

    async def __call__(self) -> None:
        n = self.runs
        self.runs += 1
        self.started[n].set()
        await self.release[n].wait()


async def test_a_poke_runs_the_job_at_once_when_idle() -> None:
    job = GatedJob()
    trigger = Trigger("evaluate", job)
    trigger.poke()
    # no timer: the run begins on the loop's next turn, before any other await returns
    await asyncio.wait_for(job.started[0].wait(), 5)
    assert job.runs == 1 and trigger.running
    job.release[0].set()
    await trigger.wait_idle()
    assert job.runs == 1 and not trigger.running


async def test_pokes_during_a_run_coalesce_into_exactly_one_follow_up() -> None:
    job = GatedJob()
    trigger = Trigger("evaluate", job)
    trigger.poke()
    await asyncio.wait_for(job.started[0].wait(), 5)
    for _ in range(10):  # a burst of frames while the evaluation runs
        trigger.poke()
    assert job.runs == 1  # nothing starts beside the running one
    job.release[0].set()
    await asyncio.wait_for(job.started[1].wait(), 5)  # the follow-up, for everything at once
    job.release[1].set()
    await trigger.wait_idle()
    assert job.runs == 2
    trigger.poke()  # idle again: the next poke is a new leading edge
    await asyncio.wait_for(job.started[2].wait(), 5)
    job.release[2].set()
    await trigger.wait_idle()
    assert job.runs == 3


async def test_a_poke_in_the_follow_up_asks_for_one_more() -> None:
    job = GatedJob()
    trigger = Trigger("evaluate", job)
    trigger.poke()
    await asyncio.wait_for(job.started[0].wait(), 5)
    trigger.poke()
    job.release[0].set()
    await asyncio.wait_for(job.started[1].wait(), 5)
    trigger.poke()  # data during the follow-up: not lost
    job.release[1].set()
    await asyncio.wait_for(job.started[2].wait(), 5)
    job.release[2].set()
    await trigger.wait_idle()
    assert job.runs == 3


async def test_scheduler_poke_runs_the_poke_job_through_the_guard(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    async def tick() -> None:
        calls.append("tick")

    async def on_data() -> None:
        calls.append("data")
        if len(calls) == 1:
            raise RuntimeError("boom")

    s = Scheduler()
    s.every("evaluate", 3600, tick, first_in=3600, on_poke=on_data)
    s.poke("evaluate")  # not started: nothing runs
    trigger = s.trigger("evaluate")
    assert trigger is not None and not trigger.running
    s.start()
    try:
        with caplog.at_level(logging.ERROR):
            s.poke("evaluate")
            await trigger.wait_idle()
        assert calls == ["data"]
        assert "scheduled job evaluate is failing" in caplog.text  # logged, not raised
        s.poke("evaluate")  # a failed run does not break the trigger
        await trigger.wait_idle()
        assert calls == ["data", "data"]
    finally:
        s.shutdown()
    s.poke("evaluate")  # after shutdown: nothing runs
    assert not trigger.running
