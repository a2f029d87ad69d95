"""/tz through the real PTB client against the fake Bot API: the reply, then an alert whose
time reads in the chat's zone, while a UTC chat's alert keeps its UTC time."""

from __future__ import annotations

import datetime as dtm
import re
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.domain.models import Liquidation, Side
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import Stack, make_stack

TOKYO = ZoneInfo("Asia/Tokyo")  # no daylight saving: JST all year, +9


@pytest.fixture
async def stack(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[Stack]:
    st = await make_stack(tmp_path, fake)
    yield st
    await st.close()


def local_hhmm(ms: int, tz: ZoneInfo) -> str:
    return dtm.datetime.fromtimestamp(ms / 1000, tz).strftime("%H:%M")


async def test_tz_then_an_alert_in_the_chats_zone(stack: Stack) -> None:
    reply = await stack.ask(501, "/tz asia/tokyo")
    assert "Asia/Tokyo" in reply and "JST" in reply
    assert "Time zone: Asia/Tokyo" in await stack.ask(501, "/tz")
    assert "Unknown time zone" in await stack.ask(501, "/tz Asia/Tokio")
    await stack.ask(501, "/subscribe btc 1h 100m")
    await stack.ask(502, "/subscribe btc 1h 100m")  # a UTC chat beside it

    before = stack.service.clock()
    stack.market.events(
        "binance",
        [Liquidation("binance", "BTC", Side.LONG, 150_000_000.0, before - 1000, "BTCUSDT")],
    )
    assert await stack.rt.engine.tick() == 2
    assert (await stack.rt.delivery.drain()).sent == 2
    after = stack.service.clock()

    tokyo = stack.fake.texts(501)[-1]
    utc = stack.fake.texts(502)[-1]
    assert "BTC" in tokyo and "BTC" in utc
    (jst,) = re.findall(r"as of \d{1,2} \w{3} \d{4} (\d\d:\d\d) JST", tokyo)
    assert jst in {local_hhmm(before, TOKYO), local_hhmm(after, TOKYO)}
    assert " UTC" not in tokyo.split("as of")[1]
    (z,) = re.findall(r"as of \d{1,2} \w{3} \d{4} (\d\d:\d\d) UTC", utc)
    assert z in {local_hhmm(before, ZoneInfo("UTC")), local_hhmm(after, ZoneInfo("UTC"))}
