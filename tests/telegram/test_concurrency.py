"""Updates are handled concurrently across chats and in order within a chat (real PTB client
against the fake Bot API); the bot's own membership changes pause and resume chats at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat.telegram_bot import ALLOWED_UPDATES
from bot.domain.message import Reply
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import Stack, make_stack, stack_config

USER, OTHER, GROUP = 1001, 1002, -1002003


class Gated:
    """The real service, except that `/status` in chat USER waits for a gate to open."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.book = inner.book
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.handled: list[tuple[str, str]] = []

    def commands(self):  # type: ignore[no-untyped-def]
        return self.inner.commands()

    async def handle_text(self, ctx, text) -> Reply:  # type: ignore[no-untyped-def]
        if text == "/status" and ctx.chat_key == f"telegram:{USER}":
            self.entered.set()
            await self.gate.wait()
        self.handled.append((ctx.chat_key, text))
        return await self.inner.handle_text(ctx, text)


@pytest.fixture
async def stack(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[Stack]:
    st = await make_stack(tmp_path, fake)
    yield st
    await st.close()


async def test_a_slow_chat_keeps_its_order_and_holds_up_no_other_chat(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    holder: dict[str, Gated] = {}

    def wrap(service):  # type: ignore[no-untyped-def]
        holder["g"] = Gated(service)
        return holder["g"]

    st = await make_stack(tmp_path, fake, service_wrapper=wrap)
    gated = holder["g"]
    try:
        fake.message(USER, "/status")  # stuck until the gate opens
        fake.message(USER, "/help")  # same chat: must wait for /status
        fake.message(OTHER, "/help")  # another chat: must not
        await asyncio.wait_for(gated.entered.wait(), 5)
        await fake.wait_sent(1, OTHER)
        assert fake.texts(USER) == []  # USER's /help did not overtake its /status
        assert (f"telegram:{USER}", "/help") not in gated.handled
        gated.gate.set()
        await fake.wait_sent(2, USER)
        status, help_ = fake.texts(USER)
        assert status.startswith("<b>Status") and "/subscribe" in help_
        assert [t for k, t in gated.handled if k == f"telegram:{USER}"] == ["/status", "/help"]
    finally:
        gated.gate.set()
        await st.close()


async def test_many_updates_of_one_chat_are_answered_in_order(stack: Stack) -> None:
    texts = ["/help", "/liqs", "/status", "/list", "/liqs btc 4h", "/start"] * 3
    for t in texts:
        stack.fake.message(USER, t)
        stack.fake.message(OTHER, "/liqs")  # interleaved traffic of another chat
    await stack.settle()
    replies = stack.fake.texts(USER)
    assert len(replies) == len(texts)
    marks = {
        "/help": "/subscribe",
        "/liqs": "Liquidations",
        "/status": "Status",
        "/list": "",
        "/liqs btc 4h": "Binance",
        "/start": "Liquidation alerts",
    }
    for text, reply in zip(texts, replies, strict=True):
        assert marks[text] in reply, (text, reply[:80])
    assert stack.bot.updates.busy_chats() == 0  # idle chats are forgotten


async def test_a_busy_group_does_not_delay_a_private_chat(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    # Real pacing: a group gets one message per 3 s (20 a minute), a private chat one a second.
    rate = {"global_per_second": 30, "per_chat_per_second": 1, "per_group_per_minute": 20}
    st = await make_stack(tmp_path, fake, config=stack_config(tmp_path, fake, rate=rate))
    st.bot.stop_grace_s = 0
    try:
        kw = {"chat_type": "supergroup"}
        for user in (2001, 2002, 2003):
            fake.message(GROUP, "/liqs", user_id=user, **kw)
        fake.message(GROUP, "/chart all 24h", user_id=2004, **kw)
        await fake.wait_sent(1, GROUP)  # the group's first reply went; the rest must pace
        fake.message(USER, "/liqs")
        await fake.wait_sent(1, USER)
        order = [s.chat_id for s in fake.sent]
        # The private reply went before the group's second: it did not queue behind the
        # group's 3 s pacing (one at a time it came after all four, ~9 s later).
        assert order.count(GROUP) == 1 and order[-1] == USER
        assert "Liquidations" in fake.texts(USER)[0]
    finally:
        await st.close()  # the group's paced replies are cancelled at shutdown (grace 0)


async def test_polling_asks_for_membership_changes_and_runs_no_job_queue(stack: Stack) -> None:
    polls = [p for m, p in stack.fake.calls if m == "getUpdates"]
    assert polls and set(polls[-1]["allowed_updates"]) == set(ALLOWED_UPDATES)
    assert "my_chat_member" in polls[-1]["allowed_updates"]
    assert stack.bot.app.job_queue is None


async def test_kicked_pauses_the_group_and_being_added_back_resumes_it(stack: Stack) -> None:
    key = f"telegram:{GROUP}"
    stack.fake.my_chat_member(GROUP, "member", "kicked", chat_type="supergroup")
    await stack.settle()
    chat = await stack.db.get_chat(key)
    assert chat is not None and chat.paused_reason == "bot was removed (kicked)"
    assert key in await stack.db.paused_chats()  # the engine silences it from the next tick
    stack.fake.my_chat_member(GROUP, "left", "administrator", chat_type="supergroup")
    await stack.settle()
    chat = await stack.db.get_chat(key)
    assert chat is not None and chat.paused_reason is None and chat.kind == "group"


async def test_blocked_by_a_user_pauses_and_unblocking_resumes(stack: Stack) -> None:
    key = f"telegram:{USER}"
    await stack.ask(USER, "/subscribe btc 1h 100m")
    stack.fake.my_chat_member(USER, "member", "kicked")
    await stack.settle()
    chat = await stack.db.get_chat(key)
    assert chat is not None and chat.paused_reason == "bot was blocked by the user"
    stack.fake.my_chat_member(USER, "kicked", "member")
    await stack.settle()
    assert (await stack.db.get_chat(key)).paused_reason is None  # type: ignore[union-attr]
    assert len(await stack.db.list_subscriptions(key)) == 1  # nothing else changed


async def test_a_migrated_group_is_not_resumed_by_a_membership_update(stack: Stack) -> None:
    old, new = -5001, -1005001
    await stack.db.ensure_chat(f"telegram:{old}", kind="group")
    await stack.db.migrate_chat(f"telegram:{old}", f"telegram:{new}")
    stack.fake.my_chat_member(old, "left", "member", chat_type="group")
    await stack.settle()
    chat = await stack.db.get_chat(f"telegram:{old}")
    assert chat is not None and chat.paused_reason == f"migrated to telegram:{new}"
