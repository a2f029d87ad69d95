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


class Clock:
    def __init__(self) -> None:
        self.now = NOW + 10

    def __call__(self) -> int:
        return self.now


async def scenario(
    where: str,
    rows: list[int],
    moving: set[int],
    batch: int,
    concurrency: int,
    seed: int,
    expires_ms: int | None = None,
) -> tuple[Sender, dict[str, list[str]], Database, Delivery, Clock]:
    db = await Database.open(Path(where) / "bot.sqlite")
    chats = [f"telegram:{i + 1}" for i in range(len(rows))]
    want: dict[str, list[str]] = {}
    queues: list[list[OutboxItem]] = []
    for i, (chat, n) in enumerate(zip(chats, rows, strict=True)):
        titles = [f"{chat}/m{j}" for j in range(n)]
        want[chat + "9" if i in moving else chat] = titles
        queues.append([OutboxItem(chat, Message(title=t), t, NOW + j, expires_ms)
                       for j, t in enumerate(titles)])  # fmt: skip
    rng = random.Random(seed)
    # the chats' rows interleaved at random in the table, each chat's in order
    turns = [q for q in queues for _ in q]
    rng.shuffle(turns)
    await db.enqueue([q.pop(0) for q in turns])
    sender = Sender(rng, {chats[i] for i in moving})
    clock = Clock()
    delivery = Delivery(db, {"telegram": sender}, clock, max_concurrency=concurrency, batch=batch)
    return sender, want, db, delivery, clock


def sent_by_key(sender: Sender) -> dict[str, list[str]]:
    got: dict[str, list[str]] = {}
    for key, title in sender.sent:
        got.setdefault(key, []).append(title)
    return got


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

    async def run(where: str) -> None:
        sender, want, db, delivery, _ = await scenario(
            where, rows, moving, batch, concurrency, seed
        )
        try:
            for _ in range(200):
                if not (await delivery.drain()).fetched:
                    break
            assert sent_by_key(sender) == want  # each row once, to the chat's final key, in order
            assert await db.due_outbox(10**12, 1_000) == []
        finally:
            await db.close()

    with tempfile.TemporaryDirectory() as where:
        asyncio.run(run(where))


def test_a_full_pass_reads_the_next_one_during_its_tail() -> None:
    async def run(where: str) -> None:
        sender, want, db, delivery, _ = await scenario(where, [3] * 20, set(), 10, 4, 1)
        try:
            await delivery.drain()
            assert delivery._prefetched is not None  # read while the last sends were out
            assert delivery._prefetched[1]  # the next chats' rows, ready
            while (await delivery.drain()).fetched:
                pass
            assert sent_by_key(sender) == want
        finally:
            await db.close()

    with tempfile.TemporaryDirectory() as where:
        asyncio.run(run(where))


def test_rows_read_ahead_that_expire_before_their_pass_are_not_sent() -> None:
    """An alert whose window rolled past is dropped, not sent late: also when the pass before
    had read it ahead."""

    async def run(where: str) -> None:
        sender, _, db, delivery, clock = await scenario(
            where, [1] * 20, set(), 10, 4, 1, expires_ms=NOW + 20
        )
        try:
            assert (await delivery.drain()).sent == 10
            assert delivery._prefetched is not None and len(delivery._prefetched[1]) == 10
            clock.now = NOW + 30  # the other ten have expired since they were read
            stats = await delivery.drain()
            assert stats.expired == 10 and stats.sent == 0
            assert len(sender.sent) == 10
            assert await db.due_outbox(10**12, 1_000) == []
        finally:
            await db.close()

    with tempfile.TemporaryDirectory() as where:
        asyncio.run(run(where))
