"""The drain's prefetch (the next pass's rows read while this pass's last sends are in flight):
against a real SQLite file, chats sending at random speeds, some moving to a new key on their
first send (Telegram's group -> supergroup), every row is sent exactly once, each chat's rows in
order, and nothing is left pending."""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.message import Message
from bot.runtime.delivery import Delivery, SendOutcome
from bot.store import Database, OutboxItem

NOW = 1_000_000


class Sender:
    """Sends after a random few milliseconds; a moving chat answers MIGRATED once."""

    platform = "telegram"

    def __init__(self, rng: random.Random, moving: set[str]) -> None:
        self.rng = rng
        self.moving = moving
        self.sent: list[tuple[str, str]] = []  # (key, title) of each send that succeeded

    async def send(self, chat_key: str, message: Message, *, delivery_id: str = "") -> SendOutcome:
        await asyncio.sleep(self.rng.choice((0, 0, 0.001, 0.002, 0.004)))
        if chat_key in self.moving:
            return SendOutcome.migrated(chat_key + "9")
        self.sent.append((chat_key, message.title))
        return SendOutcome.sent()


async def scenario(
    rows: list[int], moving: set[int], batch: int, concurrency: int, seed: int
) -> tuple[Sender, dict[str, list[str]], Database, Delivery]:
    d = tempfile.mkdtemp()
    db = await Database.open(Path(d) / "bot.sqlite")
    chats = [f"telegram:{i + 1}" for i in range(len(rows))]
    want: dict[str, list[str]] = {}
    items = []
    for i, (chat, n) in enumerate(zip(chats, rows, strict=True)):
        titles = [f"{chat}/m{j}" for j in range(n)]
        final = chat + "9" if i in moving else chat
        want[final] = titles
        items += [OutboxItem(chat, Message(title=t), t, NOW + j) for j, t in enumerate(titles)]
    rng = random.Random(seed)
    rng.shuffle(items)  # chats' rows interleaved in the table (each chat's in order)
    items.sort(key=lambda it: (it.chat_key, it.created_ms))
    rng.shuffle(items)
    by_chat: dict[str, list[OutboxItem]] = {}
    for it in items:
        by_chat.setdefault(it.chat_key, []).append(it)
    for chat_items in by_chat.values():
        chat_items.sort(key=lambda it: it.created_ms)
    order = [by_chat[it.chat_key].pop(0) for it in items]  # interleaved, in order per chat
    await db.enqueue(order)
    sender = Sender(rng, {chats[i] for i in moving})
    delivery = Delivery(
        db, {"telegram": sender}, lambda: NOW + 10, max_concurrency=concurrency, batch=batch
    )
    return sender, want, db, delivery


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.integers(1, 5), min_size=1, max_size=14),
    moving=st.sets(st.integers(0, 13), max_size=4),
    batch=st.integers(2, 6),
    concurrency=st.integers(1, 4),
    seed=st.integers(0, 1_000),
)
def test_every_row_once_in_order_with_the_prefetch(
    rows: list[int], moving: set[int], batch: int, concurrency: int, seed: int
) -> None:
    moving = {i for i in moving if i < len(rows)}

    async def run() -> None:
        sender, want, db, delivery = await scenario(rows, moving, batch, concurrency, seed)
        try:
            for _ in range(200):
                if not (await delivery.drain()).fetched:
                    break
            got: dict[str, list[str]] = {}
            for key, title in sender.sent:
                got.setdefault(key, []).append(title)
            assert got == want  # each row once, to the chat's final key, in order
            assert await db.due_outbox(10**12, 1_000) == []
        finally:
            await db.close()

    asyncio.run(run())


def test_a_full_pass_reads_the_next_one_during_its_tail() -> None:
    async def run() -> None:
        sender, want, db, delivery = await scenario([3] * 20, set(), 10, 4, 1)
        try:
            await delivery.drain()
            assert delivery._prefetched is not None  # read while the last sends were out
            assert delivery._prefetched[1]  # the next chats' rows, ready
            while (await delivery.drain()).fetched:
                pass
            got: dict[str, list[str]] = {}
            for key, title in sender.sent:
                got.setdefault(key, []).append(title)
            assert got == want
        finally:
            await db.close()

    asyncio.run(run())
