"""A source's failure, classified where it is caught, is what /status, /healthz, the operator
alerts and the log say (issue 17, item 11): the real CoinGlassSource built by `app.build`
polls the fake CoinGlass on 127.0.0.1, which answers 401, 429, 500, slowly, malformed or with an
error envelope.

Before the typed reason, /status matched words of the note: "CoinGlass rejected the API key"
no longer held "401", so /status said "coinglass is down" while the log said the key was
rejected.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat.context import ChatContext
from bot.config import Secrets, parse_config
from bot.domain.message import plain_text
from bot.domain.render_ops import problem_text
from bot.runtime import app
from bot.sources.coinglass import CoinGlassSource
from tests.fakes.exchanges import FakeCoinGlass
from tests.offline import sources_off
from tests.test_e2e_console import ManualClock

KEY = "faults-cg-sekret-0815"
NOW = 1_800_000_000_000  # 2027-01-15 08:00 UTC


@pytest.fixture
async def cg() -> AsyncIterator[FakeCoinGlass]:
    fake = await FakeCoinGlass(KEY).start()
    yield fake
    await fake.stop()


async def _built(tmp_path: Path, cg: FakeCoinGlass) -> app.Runtime:
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "faults.sqlite3")},
            "sources": sources_off(coinglass={"url": cg.base}),
            "console": {"enabled": "off"},
        }
    )
    return await app.build(
        config, Secrets(coinglass_key=KEY), stdout=io.StringIO(), clock=ManualClock(NOW)
    )


def _coinglass(rt: app.Runtime) -> CoinGlassSource:
    return next(s for s in rt.sources if isinstance(s, CoinGlassSource))


async def _status(rt: app.Runtime) -> str:
    reply = await rt.service.handle_text(ChatContext("console:faults", "console"), "/status")
    return plain_text(reply.messages[0])


async def test_a_rejected_key_is_said_as_such_by_status_healthz_operators_and_log(
    tmp_path: Path, cg: FakeCoinGlass, caplog: pytest.LogCaptureFixture
) -> None:
    cg.mode = "401"
    rt = await _built(tmp_path, cg)
    try:
        with caplog.at_level(logging.WARNING, logger="bot"):
            assert await _coinglass(rt).poll_once(rt.market) is False  # the job's own call
        status = await _status(rt)
        problems = [problem_text(p, NOW) for p in await rt.ops.health.problems(NOW)]
        code, body = await rt.ops.health.healthz()
    finally:
        await app.stop(rt)
    assert "Down: coinglass rejected the API key since 08:00 UTC" in status
    assert "is down" not in status.split("Status", 1)[1].split("\n", 1)[1]  # no vague guess
    # the operator hears at once, not after source_down_after: waiting will not fix a key
    assert problems == ["coinglass key rejected: check COINGLASS_API_KEY"]
    assert body["warnings"] == problems and code == 200  # streams could still be up
    down = [r.getMessage() for r in caplog.records if "is down" in r.getMessage()]
    assert down == ["source coinglass is down (auth_rejected): CoinGlass rejected the API key"]
    assert KEY not in caplog.text and KEY not in status


@pytest.mark.parametrize(
    ("mode", "words", "logged"),
    [
        ("429", "coinglass is rate limiting us", "(rate_limited): rate limited by CoinGlass (429)"),
        ("500", "coinglass answers with HTTP errors", "(http_error): CoinGlass HTTP 500"),
        ("slow", "coinglass timed out", "(timeout): CoinGlass timed out"),
        ("malformed", "coinglass sends data we cannot read", "(bad_data): malformed CoinGlass"),
        ("envelope_error", "coinglass answers with errors", "(api_error): CoinGlass error 50001"),
    ],
)
async def test_each_classified_failure_reaches_status_and_operators_in_its_words(
    tmp_path: Path,
    cg: FakeCoinGlass,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    words: str,
    logged: str,
) -> None:
    cg.mode = mode
    rt = await _built(tmp_path, cg)
    src = _coinglass(rt)
    src.timeout_s = 0.2  # the fake answers "slow" after 2 s; the built default waits 10 s
    try:
        with caplog.at_level(logging.WARNING, logger="bot"):
            assert await src.poll_once(rt.market) is False
        status = await _status(rt)
        later = NOW + rt.ops.health.limits.source_down_after_ms
        problems = [problem_text(p, later) for p in await rt.ops.health.problems(later)]
    finally:
        await app.stop(rt)
    assert f"Down: {words} since 08:00 UTC" in status
    assert f"coinglass down for 5 min ({words.removeprefix('coinglass ')})" in problems
    assert not any("key" in p for p in problems)
    assert any(logged in r.getMessage() for r in caplog.records), caplog.text
