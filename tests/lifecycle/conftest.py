"""Fakes for whole-life tests: the fake Telegram and a fake Binance the child process talks to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.exchanges import FakeConn, FakeVenue
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:LIFECYCLE-token-value"


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def binance() -> AsyncIterator[FakeVenue]:
    async def stay_open(conn: FakeConn) -> None:
        await conn.closed()  # the test pushes frames itself

    venue = FakeVenue()
    venue.scripts = [stay_open]
    await venue.start()
    yield venue
    await venue.stop()
