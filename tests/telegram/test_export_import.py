"""/export's reply, sent back as a Telegram message, through the real PTB client and app.build."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import Stack, make_stack

ALICE, BOB = 1001, 1002


@pytest.fixture
async def stack(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[Stack]:
    st = await make_stack(tmp_path, fake)
    yield st
    await st.close()


async def test_an_exported_message_pasted_in_another_chat_makes_the_same_rules(
    stack: Stack,
) -> None:
    await stack.ask(ALICE, "/subscribe btc 1h 100m")
    await stack.ask(ALICE, "/subscribe eth 4h 2.5m short on binance")
    exported = await stack.ask(ALICE, "/export")
    # what Telegram shows (HTML): the first line is the command, each rule a line of its own
    lines = exported.splitlines()
    assert lines[:3] == [
        "/import",
        "/subscribe btc 1h 100m",
        "/subscribe eth 4h 2.5m short on binance",
    ]
    reply = await stack.ask(BOB, exported, user_id=BOB)
    assert "Imported 2 rules" in reply
    assert "#2 ETH shorts over 4h above $2.5M on Binance" in reply
    bobs = await stack.db.list_subscriptions(f"telegram:{BOB}")
    assert [(s.coin, s.window, s.threshold, s.venue) for s in bobs] == [
        ("BTC", 60, 100e6, None),
        ("ETH", 240, 2.5e6, "binance"),
    ]
