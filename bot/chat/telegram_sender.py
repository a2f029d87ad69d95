"""Telegram's sending side: the delivery Sender, and what a failed send means.

Every send waits for its slot in the flood limits first (telegram_limits.FloodLimiter).
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import logging
import os
import re
from collections.abc import Callable
from typing import Any

from telegram import (
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyParameters,
)
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

from bot.chat.alert_buttons import ButtonSigner
from bot.chat.telegram_limits import FloodLimiter, TelegramLimits
from bot.chat.telegram_render import render_html
from bot.chat.telegram_wire import AiohttpRequest
from bot.domain.i18n import EN, Lang
from bot.domain.message import Message
from bot.locale import get_lang
from bot.runtime.delivery import SendOutcome

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

CAPTION_LIMIT = 1024  # Telegram's cap on a photo's caption
_NO_PREVIEW = {"is_disabled": True}


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


def keyboard(signer: ButtonSigner, sub_id: int, lang: Lang = EN) -> dict[str, Any]:
    """The inline keyboard under an alert, as the Bot API's InlineKeyboardMarkup JSON: Mute 1h,
    Mute 24h, Unsubscribe / Chart, Details. Plain dicts: building PTB's objects for each of a
    fan-out's sends (and serialising them back) was a tenth of a send's CPU."""
    keys = [{"text": label, "callback_data": t} for label, t in signer.buttons(sub_id, lang)]
    return {"inline_keyboard": [keys[:3], keys[3:]]}


def _ptb_markup(markup: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    """The same keyboard as PTB's object, for the calls that go through PTB's methods."""
    return None if markup is None else InlineKeyboardMarkup.de_json(markup, None)


def inline_keyboard(rows: tuple[tuple[tuple[str, str], ...], ...]) -> dict[str, Any]:
    """A message's own buttons (Message.keyboard: rows of label, token) as an inline keyboard."""
    return {
        "inline_keyboard": [
            [{"text": label, "callback_data": t} for label, t in row] for row in rows
        ]
    }


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
    """bot.runtime.delivery.Sender for `telegram:<id>` and `telegram:@channel` keys. Never raises."""

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
        # signs the buttons under alerts (the app sets it from the store's key); None: no buttons
        self.buttons: ButtonSigner | None = None

    async def send(self, chat_key: str, message: Message, *, delivery_id: str = "") -> SendOutcome:
        try:
            chat_id = chat_id_of(chat_key)
        except ValueError as e:
            return SendOutcome.permanent(str(e))
        markup = None
        if message.buttons is not None and self.buttons is not None:
            markup = keyboard(self.buttons, message.buttons, get_lang(message.lang))
        try:
            await self.send_message(chat_id, message, paid=self.limiter.paid, markup=markup)
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
        markup: dict[str, Any] | None = None,
    ) -> None:
        """Send one neutral message: its HTML parts, or a photo with the text as its caption
        (sendPhoto). Text too long for a caption follows the photo as a message of its own.
        `paid`: as a paid broadcast (outbox sends with paid broadcasts on). `markup`: buttons
        under the message's last part. Raises what the Bot API raised."""
        extra: dict[str, Any] = {"allow_paid_broadcast": True} if paid and not priority else {}
        if message.thread is not None:  # a forum topic (a rule made there, a reply there)
            extra["message_thread_id"] = message.thread
        if message.silent is not None:  # quiet hours: without sound, or explicitly with
            extra["disable_notification"] = message.silent
        if markup is None and message.keyboard:
            markup = inline_keyboard(message.keyboard)
        if message.image is None:
            await self.send_parts(chat_id, render_html(message), reply_to, priority, extra, markup)
            return
        parts = render_html(message, CAPTION_LIMIT)
        caption = parts[0] if len(parts) == 1 else None
        photo_extra = (
            {**extra, "reply_markup": _ptb_markup(markup)} if caption and markup else extra
        )
        async with self.limiter.slot(chat_id, priority), self._wire:
            self._check_gate(priority)
            await _send_photo(self.bot, chat_id, message, caption, reply_to, photo_extra)
        if caption is None:
            await self.send_parts(chat_id, render_html(message), reply_to, priority, extra, markup)

    async def send_parts(
        self,
        chat_id: int | str,
        parts: list[str],
        reply_to: int | None = None,
        priority: bool = False,
        extra: dict[str, Any] | None = None,
        markup: dict[str, Any] | None = None,
    ) -> None:
        """Send the HTML parts in order, each paced; a part Telegram cannot parse goes as plain
        text. Raises what the Bot API raised. `priority` (command replies) overtakes queued
        outbox sends for the overall limit. `markup` goes under the last part."""
        for i, part in enumerate(parts):
            last = {"reply_markup": markup} if markup is not None and i == len(parts) - 1 else {}
            async with self.limiter.slot(chat_id, priority), self._wire:
                self._check_gate(priority)
                await _send_part(self.bot, chat_id, part, reply_to, {**(extra or {}), **last})

    async def edit_message(self, chat_id: int | str, message_id: int, message: Message) -> None:
        """Replace a message's text and buttons (editMessageText): the guided /subscribe's
        next step. The message's first part only (a guide step is short); no keyboard removes
        the buttons. Raises what the Bot API raised, but for "message is not modified"."""
        markup = _ptb_markup(inline_keyboard(message.keyboard)) if message.keyboard else None
        text = render_html(message)[0]
        async with self.limiter.slot(chat_id, True), self._wire:
            try:
                await self.bot.edit_message_text(
                    text, chat_id, message_id, parse_mode=ParseMode.HTML, reply_markup=markup
                )
            except BadRequest as e:  # a double tap: the same step again
                if "not modified" not in e.message.lower():
                    raise

    def _check_gate(self, priority: bool) -> None:
        if not priority and not self.gate():  # command replies: any replica answers
            raise NotLeading


class NotLeading(Exception):
    """An outbox send by a replica that no longer leads: not sent (the leader sends it)."""


async def _send_part(
    bot: Any, chat_id: int | str, part: str, reply_to: int | None, extra: dict[str, Any] | None
) -> None:
    extra = extra or {}
    try:
        if reply_to is None and isinstance(getattr(bot, "request", None), AiohttpRequest):
            await _post_raw(bot, chat_id, part, extra)  # an outbox send: nobody reads the reply
        else:
            await bot.send_message(
                chat_id, part, parse_mode=ParseMode.HTML, **_ptb_kwargs(extra, reply_to)
            )
    except BadRequest as e:
        if "can't parse entities" not in e.message.lower():
            raise
        log.warning("telegram rejected our HTML (%s); sending as plain text", e.message)
        await bot.send_message(chat_id, _strip_tags(part), **_ptb_kwargs(extra, reply_to))


def _ptb_kwargs(extra: dict[str, Any], reply_to: int | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"link_preview_options": LinkPreviewOptions(is_disabled=True)}
    kwargs.update(extra)
    if "reply_markup" in kwargs:
        kwargs["reply_markup"] = _ptb_markup(kwargs["reply_markup"])
    if reply_to is not None:
        kwargs["reply_parameters"] = ReplyParameters(reply_to, allow_sending_without_reply=True)
    return kwargs


async def _post_raw(bot: Any, chat_id: int | str, part: str, extra: dict[str, Any]) -> None:
    """sendMessage as one pre-serialised JSON body over the bot's pooled client (telegram_wire),
    without PTB's parameter objects or a PTB `Message` built from the answer (de_json was the
    largest PTB cost per fan-out send). Errors (429 retry_after, migration, BadRequest) are
    still parsed by PTB's request layer exactly as for `send_message`."""
    body = {
        "chat_id": chat_id,
        "text": part,
        "parse_mode": "HTML",
        "link_preview_options": _NO_PREVIEW,
        **extra,
    }
    await bot.request.post_json(f"{bot.base_url}/sendMessage", body)


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
