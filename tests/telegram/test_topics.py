"""Forum topics through the real PTB client against the fake Bot API: a /subscribe sent in a
topic (message_thread_id set, is_topic_message true) alerts into that topic, a rule made in
the chat itself does not, the reply to a command in a topic goes to it, and the topic
survives a restart (it is in the store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import parse_config
from bot.domain.models import Liquidation, Side
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.offline import sources_off
from tests.telegram.harness import DB_NAME, UNPACED, Stack, make_stack

FORUM = -1001500
ADMIN = 77
TOPIC = 42


def in_topic(thread: int) -> dict[str, Any]:
    return {"message_thread_id": thread, "is_topic_message": True}


@pytest.fixture
async def stack(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[Stack]:
    fake.members[FORUM][ADMIN] = "administrator"
    st = await make_stack(tmp_path, fake)
    yield st
    await st.close()


def liquidate(stack: Stack, coin: str, usd: float) -> None:
    now = stack.clock.now_ms()
    stack.market.events(
        "binance", [Liquidation("binance", coin, Side.LONG, usd, now - 1000, f"{coin}USDT")]
    )


async def ask_group(stack: Stack, text: str, extra: dict[str, Any] | None = None) -> Sent:
    before = len(stack.fake.texts(FORUM))
    stack.fake.message(
        FORUM, text, user_id=ADMIN, chat_type="supergroup", title="Forum", extra=extra
    )
    await stack.fake.wait_sent(before + 1, FORUM)
    await stack.fake.wait_consumed()
    return [s for s in stack.fake.sent if s.chat_id == FORUM][before]


def sends_to(fake: FakeTelegram, chat_id: int) -> list[Sent]:
    return [s for s in fake.sent if s.chat_id == chat_id]


async def test_a_rule_made_in_a_topic_alerts_into_that_topic(stack: Stack) -> None:
    reply = await ask_group(stack, "/subscribe btc 1h 100m", in_topic(TOPIC))
    assert "Subscribed" in reply.text
    assert reply.params.get("message_thread_id") == TOPIC  # the reply went to the topic
    plain = await ask_group(stack, "/subscribe eth 1h 1m")  # in the chat itself (General)
    assert "message_thread_id" not in plain.params
    # the same rule in another topic is another rule (it alerts there), not a duplicate
    again = await ask_group(stack, "/subscribe btc 1h 100m", in_topic(7))
    assert "Subscribed" in again.text
    listed = await ask_group(stack, "/list", in_topic(TOPIC))
    assert "#1 in topic 42" in listed.text and "#3 in topic 7" in listed.text

    before = len(sends_to(stack.fake, FORUM))
    liquidate(stack, "BTC", 150_000_000.0)
    liquidate(stack, "ETH", 5_000_000.0)
    assert await stack.rt.engine.tick() == 3  # one message per topic, one for the chat
    assert (await stack.rt.delivery.drain()).sent == 3
    alerts = sends_to(stack.fake, FORUM)[before:]
    by_topic = {s.params.get("message_thread_id"): s.text for s in alerts}
    assert set(by_topic) == {TOPIC, 7, None}
    assert "BTC" in by_topic[TOPIC] and "BTC" in by_topic[7]
    assert "ETH" in by_topic[None] and "BTC" not in by_topic[None]
    assert all(s.params.get("reply_markup") for s in alerts)  # buttons under each, as before


async def test_a_thread_that_is_no_topic_is_the_chat_itself(stack: Stack) -> None:
    """A reply thread of a group without topics has a message_thread_id but is no topic."""
    extra = {"message_thread_id": 9, "is_topic_message": False}
    await ask_group(stack, "/subscribe btc 1h 100m", extra)
    (sub,) = await stack.db.list_subscriptions(f"telegram:{FORUM}")
    assert sub.thread is None


async def test_the_topic_survives_a_restart(tmp_path: Path, fake: FakeTelegram) -> None:
    fake.members[FORUM][ADMIN] = "administrator"
    first = await make_stack(tmp_path, fake)
    try:
        await ask_group(first, "/subscribe btc 1h 100m", in_topic(TOPIC))
    finally:
        await first.close()
    second = await make_stack(tmp_path, fake)  # the same store: a restart
    try:
        before = len(sends_to(fake, FORUM))
        liquidate(second, "BTC", 150_000_000.0)
        assert await second.rt.engine.tick() == 1
        assert (await second.rt.delivery.drain()).sent == 1
        (alert,) = sends_to(fake, FORUM)[before:]
        assert "BTC" in alert.text and alert.params["message_thread_id"] == TOPIC
    finally:
        await second.close()


async def test_a_broadcast_names_its_topic_in_the_config(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    cfg = parse_config(
        {
            "storage": {"path": str(tmp_path / DB_NAME)},
            "telegram": {"base_url": fake.base_url, "base_file_url": fake.base_file_url,
                         "rate": UNPACED},
            "sources": sources_off(coinglass={}),
            "broadcasts": [{"chat": FORUM, "rule": "btc 1h 100m", "topic": 5}],
        }
    )  # fmt: skip
    st = await make_stack(tmp_path, fake, config=cfg)
    try:
        liquidate(st, "BTC", 150_000_000.0)
        assert await st.rt.engine.tick() == 1
        assert (await st.rt.delivery.drain()).sent == 1
        (alert,) = sends_to(fake, FORUM)
        assert alert.params["message_thread_id"] == 5
    finally:
        await st.close()


async def test_a_single_liquidation_rule_made_in_a_topic_alerts_into_it(stack: Stack) -> None:
    await ask_group(stack, "/subscribe btc single 10m", in_topic(TOPIC))
    await ask_group(stack, "/subscribe btc single 5m")  # in the chat itself
    before = len(sends_to(stack.fake, FORUM))
    liquidate(stack, "BTC", 20_000_000.0)
    assert await stack.rt.engine.tick() == 2  # one message per topic
    assert (await stack.rt.delivery.drain()).sent == 2
    alerts = sends_to(stack.fake, FORUM)[before:]
    assert sorted(str(s.params.get("message_thread_id")) for s in alerts) == ["42", "None"]
    assert all("Big liquidation" in s.text for s in alerts)
