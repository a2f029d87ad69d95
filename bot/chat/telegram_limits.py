"""Telegram's flood limits, as aiolimiter buckets a message passes before it is sent.

Outgoing messages are paced within Telegram's flood limits (see FloodLimiter) rather than sent
and bounced with 429s: a 429 costs a `retry_after` wait for the whole bot. The pacing itself is
aiolimiter's leaky bucket; this module only decides which buckets a message passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter

PRUNE_EVERY = 1024  # new chats between two sweeps of idle per-chat limiters
# The overall bucket holds 1.1 messages, not 1: a send woken a little late (epoll rounds
# timeouts up to the millisecond) does not push every later slot back. With a capacity of
# exactly one each late wake-up delays the whole schedule: 94.6% of the configured rate in
# bench/bench_telegram.py. An empty (idle) bucket is taken whole, so the tenth is only ever
# used to catch up, never as a head start: sends stay on a grid of 1/rate, none ahead of it.
OVERALL_CAPACITY = 1.1
# Paid broadcasts: a bucket of 10 (10 ms at 1,000/s). A bucket of ~1 would need a timer per
# send, and timers are rounded up to the millisecond: about half the rate. At 97% of the limit
# plus 10, no sliding second can hold more than the limit.
PAID_CAPACITY = 10


def is_group(chat_id: int | str) -> bool:
    # Groups, supergroups and channels have negative ids; "@name" keys are public channels.
    return isinstance(chat_id, str) or chat_id < 0


@dataclass(frozen=True)
class TelegramLimits:
    global_per_s: float = 29.0  # a little under Telegram's ~30/s, for jitter on the way there
    per_chat_interval_s: float = 1.0  # at most one message per this many seconds in one chat
    group_per_window: int = 20  # groups and channels: at most this many per window
    group_window_s: float = 60.0
    # Paid broadcasts (allow_paid_broadcast, 0.1 Star a message): outbox sends may go at up
    # to 1,000/s instead of the free ~30/s. 0: off. Command replies stay free either way.
    paid_per_s: float = 0.0

    def chat_interval_s(self, chat_id: int | str) -> float:
        """The even spacing of one chat's messages (0: unpaced).

        For groups and channels this is also at least window/N (3 s for 20 a minute): messages
        more than window/N apart can never put N+1 in one window, however Telegram slides it."""
        interval = self.per_chat_interval_s
        if is_group(chat_id) and self.group_per_window > 0:
            interval = max(interval, self.group_window_s / self.group_per_window)
        return max(interval, 0.0)


@dataclass
class _Chat:
    limiter: AsyncLimiter | None  # None: no pacing in this chat
    # One sender per chat at a time: parts stay in order, and the chat's next message is timed
    # from the moment Telegram answered this one (see FloodLimiter.slot).
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class FloodLimiter:
    """Telegram's flood limits as aiolimiter buckets; `async with limiter.slot(chat_id):` send.

    Every bucket holds (about) one message, so it paces evenly instead of allowing a burst:
    - overall: AsyncLimiter(1.1, 1.1/global_per_s), one send per 1/global_per_s with a tenth of
      a slot of tolerance (see OVERALL_CAPACITY). Telegram counts a sliding second, and a burst
      of 30 bunched further by network jitter would be refused;
    - per chat: AsyncLimiter(1, per_chat_interval_s);
    - groups/channels: that same bucket, spaced max(per-chat interval, window/N), i.e.
      AsyncLimiter(1, 3.0) for 20 a minute. A bucket of capacity 20 cannot express Telegram's
      sliding window (it would allow a 21st message 3 s after a burst of 20); capacity one at
      3 s can never exceed 20 in any 60 s. The price: a burst to ONE group goes out at one
      message every 3 s rather than the first 20 at one a second.
    Command replies (`priority`) overtake queued outbox sends for the overall bucket; the
    overall rate is the same. Idle per-chat buckets are dropped (an empty bucket and a new
    one behave alike), so thousands of chats do not pile up.
    """

    def __init__(self, limits: TelegramLimits) -> None:
        self.limits = limits
        rate = limits.global_per_s
        self._overall = (
            AsyncLimiter(OVERALL_CAPACITY, OVERALL_CAPACITY / rate) if rate > 0 else None
        )
        self._bulk = asyncio.Lock()  # bulk (outbox) senders queue here, first come first served
        self._bulk_waiter: asyncio.Task[None] | None = None
        paid = limits.paid_per_s
        # paid outbox sends: a bucket of their own; replies never queue behind them
        self._paid = AsyncLimiter(PAID_CAPACITY, PAID_CAPACITY / paid) if paid > 0 else None
        self._paid_lock = asyncio.Lock()
        self._chats: dict[int | str, _Chat] = {}
        self._new_chats = 0

    @property
    def paid(self) -> bool:
        """Outbox sends go as paid broadcasts (and are paced at the paid rate)."""
        return self._paid is not None

    @asynccontextmanager
    async def slot(self, chat_id: int | str, priority: bool = False) -> AsyncIterator[None]:
        """Wait until a message to this chat is within every limit; send inside the block.
        A non-priority send is a paid broadcast when `paid` is on (send it as one)."""
        chat = self._chat(chat_id)
        async with chat.lock:
            if chat.limiter is not None:
                await chat.limiter.acquire()
            taken = asyncio.get_running_loop().time()
            if priority:
                await self._overall_priority()
            elif self._paid is not None:
                async with self._paid_lock:  # one waiter in the bucket: first come first served
                    await self._paid.acquire()
            else:
                await self._overall_bulk()
            try:
                yield
            finally:
                if chat.limiter is not None:
                    await _count_from_now(chat.limiter, taken)

    async def _overall_priority(self) -> None:
        if self._overall is None:
            return
        waiter = self._bulk_waiter
        if waiter is not None and not waiter.done():
            waiter.cancel()  # the waiting outbox send queues again, behind this reply
        await self._take_overall()

    async def _overall_bulk(self) -> None:
        """One outbox send at a time waits in the overall bucket, and a reply may take its
        place (it goes back in behind the reply): a reply waits at most one slot, not behind
        a whole outbox burst."""
        if self._overall is None:
            return
        async with self._bulk:
            while True:
                waiter = self._bulk_waiter = asyncio.ensure_future(self._take_overall())
                try:
                    await waiter
                    return
                except asyncio.CancelledError:
                    me = asyncio.current_task()
                    if me is None or me.cancelling():
                        raise  # this send was cancelled, not overtaken
                finally:
                    self._bulk_waiter = None

    async def _take_overall(self) -> None:
        assert self._overall is not None
        await _take(self._overall)

    def _chat(self, chat_id: int | str) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            self._new_chats += 1
            if self._new_chats >= PRUNE_EVERY:
                self._prune()
            interval = self.limits.chat_interval_s(chat_id)
            chat = _Chat(AsyncLimiter(1, interval) if interval > 0 else None)
            self._chats[chat_id] = chat
        return chat

    def _prune(self) -> None:
        """Forget chats with nobody sending and an empty bucket (a new one would be the same)."""
        self._new_chats = 0
        idle = [
            key
            for key, chat in self._chats.items()
            if not chat.lock.locked() and (chat.limiter is None or chat.limiter.has_capacity())
        ]
        for key in idle:
            del self._chats[key]

    def __len__(self) -> int:
        return len(self._chats)


async def _take(bucket: AsyncLimiter) -> None:
    whole = bucket.has_capacity(OVERALL_CAPACITY)  # idle: no catching up to do
    await bucket.acquire(OVERALL_CAPACITY if whole else 1)


async def _count_from_now(limiter: AsyncLimiter, taken: float) -> None:
    """Count the message as sent now, when Telegram answered, not when its slot was taken.

    Between the two it waited for an overall slot (behind an outbox burst, perhaps) and
    travelled; the bucket leaked meanwhile. Topping the bucket back up by what leaked times
    the chat's next message from now, so two messages can never reach Telegram closer than
    the chat's interval, however the queue or the network delayed the first one.
    """
    leaked = (asyncio.get_running_loop().time() - taken) / limiter.time_period
    amount = min(leaked, 1.0) * (1 - 1e-9)  # a hair under what fits: this never waits
    if amount > 0 and limiter.has_capacity(amount):
        await limiter.acquire(amount)  # returns at once: the capacity is there
