"""Telegram's sending side: flood limits, the delivery Sender, and what a failed send means.

Outgoing messages are paced within Telegram's flood limits (see FloodLimiter) rather than sent
and bounced with 429s: a 429 costs a `retry_after` wait for the whole bot. The pacing itself is
aiolimiter's leaky bucket; this module only decides which buckets a message passes.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import logging
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import LinkPreviewOptions, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.chat.telegram_render import render_html
from bot.delivery import SendOutcome
from bot.domain.message import Message

# PTB 22 is moving its durations (RetryAfter.retry_after and others) from int seconds to
# timedelta; opting in now silences its deprecation warnings. PTB reads this on each access,
# so setting it here, before anything is sent, is in time; _retry_after_s reads both forms.
os.environ.setdefault("PTB_TIMEDELTA", "true")

log = logging.getLogger(__name__)

PLATFORM = "telegram"

# BadRequest descriptions that mean the chat is gone for good (pause it, do not retry).
_GONE = (
    "chat not found",
    "group chat was deleted",
    "group chat was upgraded",  # without migrate_to_chat_id we cannot follow it
    "bot was kicked",
    "not enough rights to send",
    "have no rights to send",
    "chat_write_forbidden",
    "user is deactivated",
    "peer_id_invalid",
    "need administrator rights in the channel chat",
)

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
CAPTION_LIMIT = 1024  # Telegram's cap on a photo's caption


# ---- flood limits ------------------------------------------------------------------------


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


# ---- delivery ----------------------------------------------------------------------------


def chat_id_of(chat_key: str) -> int | str:
    """`telegram:-100123` -> -100123; `telegram:@channel` -> "@channel". ValueError otherwise."""
    platform, _, rest = chat_key.partition(":")
    if platform != PLATFORM or not rest:
        raise ValueError(f"not a telegram chat key: {chat_key!r}")
    if rest.startswith("@") and len(rest) > 1:
        return rest
    return int(rest)


def _retry_after_s(e: RetryAfter) -> float:
    """The public retry_after: a timedelta (PTB_TIMEDELTA on) or int seconds (off)."""
    raw: Any = e.retry_after
    if isinstance(raw, dtm.timedelta):
        return raw.total_seconds()
    return float(raw or 1.0)


def outcome_of(e: Exception) -> SendOutcome:
    """What a failed send means for the outbox."""
    if isinstance(e, RetryAfter):
        return SendOutcome.retry(_retry_after_s(e), "flood control (429)")
    if isinstance(e, ChatMigrated):
        return SendOutcome.migrated(f"{PLATFORM}:{e.new_chat_id}", "group became a supergroup")
    if isinstance(e, Forbidden):
        return SendOutcome.permanent(e.message)  # blocked, kicked, not a member
    if isinstance(e, InvalidToken):
        # The bot's token, not this chat: never pause chats for it; keep retrying slowly.
        return SendOutcome.retry(60.0, "invalid bot token")
    if isinstance(e, BadRequest):
        if any(g in e.message.lower() for g in _GONE):
            return SendOutcome.permanent(e.message)
        # Something about this message (our bug): retry later, Delivery gives up after its cap.
        return SendOutcome.retry(60.0, f"bad request: {e.message}")
    if isinstance(e, NetworkError):  # includes TimedOut and 5xx answers
        return SendOutcome.retry(0.0, f"network: {e.message}")
    if isinstance(e, TelegramError):
        return SendOutcome.retry(0.0, f"telegram: {e.message}")
    return SendOutcome.retry(0.0, f"unexpected: {type(e).__name__}")


class TelegramSender:
    """bot.delivery.Sender for `telegram:<id>` and `telegram:@channel` keys. Never raises."""

    platform = PLATFORM

    def __init__(
        self, bot: Any, limits: TelegramLimits | None = None, connections: int = 16
    ) -> None:
        self.bot = bot  # telegram.Bot (or an Application's bot)
        self.limiter = FloodLimiter(limits or TelegramLimits())
        # Replicas: False once this process no longer leads. Checked after the flood limits,
        # holding one of `connections` (the HTTP pool's size), so a send that passes it goes on
        # the wire at once: a leader frozen and replaced sends nothing when it thaws.
        self.gate: Callable[[], bool] = lambda: True
        self._wire = asyncio.Semaphore(connections)

    async def send(self, chat_key: str, message: Message) -> SendOutcome:
        try:
            chat_id = chat_id_of(chat_key)
        except ValueError as e:
            return SendOutcome.permanent(str(e))
        try:
            await self.send_message(chat_id, message, paid=self.limiter.paid)
        except asyncio.CancelledError:
            raise
        except NotLeading:
            return SendOutcome.retry(0.0, "this replica no longer leads")
        except Exception as e:
            outcome = outcome_of(e)
            log.info("telegram send to %s: %s (%s)", chat_key, outcome.outcome, outcome.reason)
            return outcome
        return SendOutcome.sent()

    async def send_message(
        self,
        chat_id: int | str,
        message: Message,
        reply_to: int | None = None,
        priority: bool = False,
        paid: bool = False,
    ) -> None:
        """Send one neutral message: its HTML parts, or a photo with the text as its caption
        (sendPhoto). Text too long for a caption follows the photo as a message of its own.
        `paid`: as a paid broadcast (outbox sends with paid broadcasts on).
        Raises what the Bot API raised."""
        extra = {"allow_paid_broadcast": True} if paid and not priority else {}
        if message.image is None:
            await self.send_parts(chat_id, render_html(message), reply_to, priority, extra)
            return
        parts = render_html(message, CAPTION_LIMIT)
        caption = parts[0] if len(parts) == 1 else None
        async with self.limiter.slot(chat_id, priority), self._wire:
            self._check_gate(priority)
            await _send_photo(self.bot, chat_id, message, caption, reply_to, extra)
        if caption is None:
            await self.send_parts(chat_id, render_html(message), reply_to, priority, extra)

    async def send_parts(
        self,
        chat_id: int | str,
        parts: list[str],
        reply_to: int | None = None,
        priority: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Send the HTML parts in order, each paced; a part Telegram cannot parse goes as plain
        text. Raises what the Bot API raised. `priority` (command replies) overtakes queued
        outbox sends for the overall limit."""
        for part in parts:
            async with self.limiter.slot(chat_id, priority), self._wire:
                self._check_gate(priority)
                await _send_part(self.bot, chat_id, part, reply_to, extra)

    def _check_gate(self, priority: bool) -> None:
        if not priority and not self.gate():  # command replies: any replica answers
            raise NotLeading


class NotLeading(Exception):
    """An outbox send by a replica that no longer leads: not sent (the leader sends it)."""


async def _send_part(
    bot: Any, chat_id: int | str, part: str, reply_to: int | None, extra: dict[str, Any] | None
) -> None:
    kwargs: dict[str, Any] = {"link_preview_options": LinkPreviewOptions(is_disabled=True)}
    kwargs.update(extra or {})
    if reply_to is not None:
        kwargs["reply_parameters"] = ReplyParameters(reply_to, allow_sending_without_reply=True)
    try:
        await bot.send_message(chat_id, part, parse_mode=ParseMode.HTML, **kwargs)
    except BadRequest as e:
        if "can't parse entities" not in e.message.lower():
            raise
        log.warning("telegram rejected our HTML (%s); sending as plain text", e.message)
        await bot.send_message(chat_id, _strip_tags(part), **kwargs)


async def _send_photo(
    bot: Any,
    chat_id: int | str,
    message: Message,
    caption: str | None,
    reply_to: int | None,
    extra: dict[str, Any] | None = None,
) -> None:
    kwargs: dict[str, Any] = {"filename": message.image_name or "chart.png", **(extra or {})}
    if reply_to is not None:
        kwargs["reply_parameters"] = ReplyParameters(reply_to, allow_sending_without_reply=True)
    try:
        await bot.send_photo(
            chat_id, message.image, caption=caption, parse_mode=ParseMode.HTML, **kwargs
        )
    except BadRequest as e:
        if caption is None or "can't parse entities" not in e.message.lower():
            raise
        log.warning("telegram rejected our caption HTML (%s); sending it plain", e.message)
        await bot.send_photo(chat_id, message.image, caption=_strip_tags(caption), **kwargs)


def _strip_tags(part: str) -> str:
    return html.unescape(re.sub(r"</?(b|i|pre)>", "", part))
