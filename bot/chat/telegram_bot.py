"""Telegram: the thin adapter (python-telegram-bot).

The adapter has no command logic: it turns an update into a ChatContext and the command text,
asks the shared CommandService, and renders the neutral reply as Telegram HTML. It runs inside
the service's one event loop (Application.initialize/start + updater.start_polling, never
run_polling, which would own the loop). In webhook mode there is no Updater: the service's
HTTP server hands each POST to `accept_update`, which checks Telegram's secret header.

Sending (the delivery Sender, failure outcomes) lives in telegram_sender, its flood limits in
telegram_limits; replies to commands go through the same sender, ahead of queued outbox sends.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import hmac
import json
import logging
import secrets
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from telegram import BotCommand, ChatMember, Update
from telegram import Message as TgMessage
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.chat import alert_buttons
from bot.chat.context import ChatContext
from bot.chat.telegram_limits import TelegramLimits
from bot.chat.telegram_sender import PLATFORM, TelegramSender
from bot.chat.telegram_updates import ChatOrderedProcessor
from bot.chat.telegram_wire import AiohttpRequest
from bot.domain.i18n import N_, SUPPORTED
from bot.domain.message import Message
from bot.locale import get_lang

log = logging.getLogger(__name__)
# HTTP connections for sends: the sender never has more requests going (so none waits for one)
SEND_CONNECTIONS = 16
# how often a replica that does not lead looks again before polling (a new leader's first poll)
POLL_GATE_WAIT_S = 0.1

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"
APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."

_KINDS = {"private": "private", "group": "group", "supergroup": "group", "channel": "channel"}
# the remedy of a refusal, in the chat's language when told (render_refused translates it)
_GROUP_HINT = N_("only this group's admins can change its alerts")
_CHANNEL_HINT = N_("only this channel's admins can change its alerts")
# what we ask Telegram for: commands, channel posts, our own membership changes, and presses
# of the buttons under alerts
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.CHANNEL_POST,
    Update.MY_CHAT_MEMBER,
    Update.CALLBACK_QUERY,
]
_GONE_STATUSES = (ChatMember.BANNED, ChatMember.LEFT)  # "kicked" (or blocked), "left"


# ---- the bot -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookSettings:
    """Webhook mode: Telegram POSTs updates to `url`; the service's one HTTP server routes
    `path` to `accept_update` (PTB's custom-server pattern: no Updater, our update queue)."""

    url: str  # the public https URL Telegram calls (behind the load balancer)
    path: str = "telegram"
    # checked on every call (X-Telegram-Bot-Api-Secret-Token); None: a random one per start
    secret_token: str | None = None


class TelegramBot:
    """The Telegram adapter. `await start()` in the running loop, `await stop()` at shutdown."""

    platform = PLATFORM

    def __init__(
        self,
        token: str,
        service: Any,
        db: Any,
        *,
        base_url: str = DEFAULT_BASE_URL,
        base_file_url: str = DEFAULT_BASE_FILE_URL,
        mode: Literal["polling", "webhook"] = "polling",
        webhook: WebhookSettings | None = None,
        limits: TelegramLimits | None = None,
        poll_timeout_s: float = 10.0,
        stop_grace_s: float = 5.0,
    ) -> None:
        if mode == "webhook" and webhook is None:
            raise ValueError("webhook mode needs webhook settings (url at least)")
        self._token = token
        self.service = service
        self.db = db
        self.mode = mode
        self.webhook = webhook
        self.poll_timeout_s = poll_timeout_s
        self.stop_grace_s = stop_grace_s  # replies still pacing at shutdown get this long
        self.username = ""
        bot = _TolerantBot(
            token,
            before_poll=self._may_poll,
            base_url=base_url,
            base_file_url=base_file_url,
            # Sends are paced one after another, so few are ever in flight (1,000/s at a 5 ms
            # round trip is 5). They go over aiohttp: httpcore's per-request pool scan was half
            # of a paid fan-out send's CPU (telegram_wire.py, bench/bench_fanout.py).
            request=AiohttpRequest(connections=SEND_CONNECTIONS),
            get_updates_request=HTTPXRequest(connection_pool_size=1, read_timeout=5.0),
        )
        # Chats are handled concurrently, each chat's updates in order; no JobQueue: the
        # service's scheduler owns timed work, PTB's would be an idle thread of its own.
        self.updates = ChatOrderedProcessor()
        builder = ApplicationBuilder().bot(bot).concurrent_updates(self.updates).job_queue(None)
        if mode == "webhook":  # updates come through our HTTP server into app.update_queue
            builder = builder.updater(None)
        self.app: Application = builder.build()
        # Telegram sends this back with every update: a POST without it is not Telegram's
        self._secret = (webhook.secret_token if webhook else None) or secrets.token_urlsafe(32)
        self.sender = TelegramSender(self.app.bot, limits, connections=SEND_CONNECTIONS)
        # first of all (group -1): an update handled already (Telegram redelivered it, maybe to
        # another replica behind the balancer) stops here; the store's unique key decides
        self.app.add_handler(TypeHandler(Update, self._once), group=-1)
        # every text: a command, or plain talk (a hint in a private chat, silence in a group)
        text = filters.TEXT
        self.app.add_handler(
            MessageHandler(
                (filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST) & text,
                self._on_command,
            )
        )
        self.app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self._on_migrate))
        self.app.add_handler(CallbackQueryHandler(self._on_button))
        self.app.add_handler(
            ChatMemberHandler(self._on_my_membership, ChatMemberHandler.MY_CHAT_MEMBER)
        )
        self.app.add_error_handler(self._on_error)
        self._started = False
        self._stopping = False

    @classmethod
    def from_config(
        cls, cfg: Any, token: str, service: Any, db: Any, webhook_secret: str = ""
    ) -> TelegramBot:
        """Build from bot.config.TelegramConfig (the token comes from the environment)."""
        rate = cfg.rate
        limits = TelegramLimits(
            # Pace a little under the configured overall limit: jitter on the way to Telegram
            # can bunch evenly spaced messages together.
            global_per_s=rate.global_per_second * 0.97,
            per_chat_interval_s=1.0 / rate.per_chat_per_second,
            group_per_window=int(rate.per_group_per_minute),
            group_window_s=60.0,
            paid_per_s=rate.paid_broadcast_per_second * 0.97 if cfg.paid_broadcast else 0.0,
        )
        webhook = None
        if cfg.mode == "webhook":
            wh = cfg.webhook
            webhook = WebhookSettings(url=wh.url, path=wh.path, secret_token=webhook_secret or None)
        return cls(
            token,
            service,
            db,
            base_url=cfg.base_url,
            base_file_url=cfg.base_file_url,
            mode=cfg.mode,
            webhook=webhook,
            limits=limits,
        )

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        # httpx logs every request URL at INFO, and the URL holds the token.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        await self.app.initialize()  # getMe
        self.username = self.app.bot.username or ""
        # The service tells `/cmd@us` (answered, even when unknown) from `/cmd@otherbot`.
        self.service.bot_username = self.username or None
        await self._register_commands()
        self._stopping = False
        await self.app.start()
        allowed = ALLOWED_UPDATES
        if self.mode == "webhook":
            assert self.webhook is not None
            await self.app.bot.set_webhook(
                url=self.webhook.url, secret_token=self._secret, allowed_updates=allowed
            )
        else:
            await self.app.updater.start_polling(  # type: ignore[union-attr]
                timeout=dtm.timedelta(seconds=self.poll_timeout_s),
                allowed_updates=allowed,
                error_callback=self._on_poll_error,
            )
        self._started = True
        log.info("telegram bot @%s started (%s)", self.username, self.mode)

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self._stopping = True  # from here a replica that does not lead sends no last poll
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        await self.updates.wind_down(self.stop_grace_s)
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def accept_update(self, secret: str | None, body: bytes) -> int:
        """One webhook POST (our HTTP server calls this); returns the HTTP status to answer."""
        if not hmac.compare_digest((secret or "").encode(), self._secret.encode()):
            return 403  # not Telegram: never handled
        if not self.app.running:
            return 503  # Telegram retries later
        try:
            data = json.loads(body)
        except ValueError:
            return 400
        try:
            update = Update.de_json(data, self.app.bot)
        except Exception as e:  # acknowledged and dropped, or Telegram would resend it forever
            uid = data.get("update_id") if isinstance(data, dict) else None
            log.warning("telegram update %s skipped: does not parse (%r)", uid, e)
            return 200
        await self.app.update_queue.put(update)
        return 200

    async def _register_commands(self) -> None:
        try:
            menu = self.service.commands()  # the summaries are their catalogue msgids
            await self.app.bot.set_my_commands([BotCommand(n, d[:256] or n) for n, d in menu])
            # the same menu in each language we speak, for users whose app is set to it
            for code in SUPPORTED:
                if code != "en":
                    lang = get_lang(code)
                    cmds = [BotCommand(n, lang._(d)[:256] or n) for n, d in menu]
                    await self.app.bot.set_my_commands(cmds, language_code=code)
        except TelegramError as e:  # a menu is nice to have: never a reason not to start
            log.warning("telegram setMyCommands failed: %s", self._redact(str(e)))

    # ---- handlers --------------------------------------------------------------------------
    async def _once(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # update ids count per bot: the store may have served another token before (getMe's id)
        now_ms = int(time.time() * 1000)
        if not await self.db.claim_update(update.update_id, now_ms, bot_id=self.app.bot.id):
            log.info("telegram update %d was handled already; skipped", update.update_id)
            raise ApplicationHandlerStop

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = update.effective_message
        chat = update.effective_chat
        if msg is None or chat is None or msg.text is None:
            return
        ctx = self._context(update)
        reply = await self.service.handle_text(ctx, msg.text.strip())
        reply_to = msg.message_id if ctx.kind == "group" else None
        for m in reply.messages:
            m = in_topic(m, ctx.thread)
            await self.sender.send_message(chat.id, m, reply_to, priority=True)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press of a button under an alert: answered at once (answerCallbackQuery), then
        the command it stands for runs through the service and its reply goes to the chat."""
        query = update.callback_query
        chat = update.effective_chat
        if query is None:
            return
        if chat is None:
            await query.answer(alert_buttons.NOTICE_INVALID, show_alert=True)
            return
        ctx = self._button_context(update)

        async def early(notice: str) -> None:
            await query.answer(notice)

        result = await self.service.press_button(ctx, query.data or "", early)
        if not result.answered:
            await query.answer(result.notice, show_alert=result.show_alert)
        # the alert itself may be too old for Telegram to show us (InaccessibleMessage)
        msg = query.message
        reply_to = msg.message_id if ctx.kind == "group" and msg is not None else None
        if result.edit is not None:  # the guided /subscribe: its message shows the next step
            await self._edit_or_send(chat.id, msg, result.edit)
        for m in result.reply.messages:
            await self.sender.send_message(
                chat.id, in_topic(m, ctx.thread), reply_to, priority=True
            )

    async def _edit_or_send(self, chat_id: int, msg: Any, content: Message) -> None:
        """Edit the pressed message in place; a new message when it cannot be edited (too
        old for Telegram to show, or deleted)."""
        if msg is not None and msg.is_accessible:
            try:
                await self.sender.edit_message(chat_id, msg.message_id, content)
                return
            except TelegramError as e:
                log.info("telegram edit in %s failed (%s); sending anew", chat_id, e.message)
        await self.sender.send_message(chat_id, content, priority=True)

    def _button_context(self, update: Update) -> ChatContext:
        """Like a command's, but the presser is always a person (never an anonymous admin or
        the channel): in a channel anyone who sees the alert can press, so admins are asked."""
        user = update.effective_user
        chat = update.effective_chat
        assert chat is not None
        kind = _KINDS.get(chat.type, "private")
        key = f"{PLATFORM}:{chat.id}"
        name = user.full_name if user else (chat.title or "")
        # the alert's topic (an older alert Telegram no longer shows us: the chat itself)
        query = update.callback_query
        msg = query.message if query is not None else None
        thread = topic_of(msg) if isinstance(msg, TgMessage) else None
        language = (user.language_code or "") if user else ""
        if kind == "private":
            return ChatContext(
                key, PLATFORM, "private", _yes, name, thread=thread, language=language
            )
        check = _no if user is None else _admin_check(self.app.bot, chat.id, user.id)
        hint = _GROUP_HINT if kind == "group" else _CHANNEL_HINT
        return ChatContext(key, PLATFORM, kind, check, name, hint, thread)  # type: ignore[arg-type]

    def _context(self, update: Update) -> ChatContext:
        chat = update.effective_chat
        msg = update.effective_message
        assert chat is not None and msg is not None
        kind = _KINDS.get(chat.type, "private")
        key = f"{PLATFORM}:{chat.id}"
        user = update.effective_user
        name = user.full_name if user else (chat.title or "")
        thread = topic_of(msg)
        if kind == "channel":
            # Only a channel's admins can post in it: a command posted there is theirs.
            return ChatContext(key, PLATFORM, "channel", _yes, name, _CHANNEL_HINT, thread)
        if kind == "group":
            bot = self.app.bot
            sender_chat = msg.sender_chat
            if sender_chat is not None and sender_chat.id == chat.id:
                check: Callable[[], Awaitable[bool]] = _yes  # an anonymous admin of this group
            elif user is None:
                check = _no
            else:
                check = _admin_check(bot, chat.id, user.id)
            return ChatContext(key, PLATFORM, "group", check, name, _GROUP_HINT, thread)
        # a private chat speaks the user's app language until /lang (language_code: "ru", "en")
        language = (user.language_code or "") if user else ""
        return ChatContext(key, PLATFORM, "private", _yes, name, thread=thread, language=language)

    async def _on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = update.effective_message
        if msg is None:
            return
        if msg.migrate_to_chat_id:
            old, new = msg.chat_id, msg.migrate_to_chat_id
        elif msg.migrate_from_chat_id:
            old, new = msg.migrate_from_chat_id, msg.chat_id
        else:
            return
        old_key, new_key = f"{PLATFORM}:{old}", f"{PLATFORM}:{new}"
        # Telegram announces a migration twice (old chat and new chat): move only once.
        row = await self.db.get_chat(old_key)
        if row is None or (row.paused_reason or "").startswith("migrated to"):
            return
        await self.db.migrate_chat(old_key, new_key)  # its listeners re-key the rule book
        log.info("telegram chat %s migrated to %s", old_key, new_key)

    async def _on_my_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Blocked, kicked or removed: pause the chat now (not at its next failed send).
        Unblocked or added back: resume it, unless it moved (group -> supergroup)."""
        change = update.my_chat_member
        if change is None:
            return
        key = f"{PLATFORM}:{change.chat.id}"
        was = change.old_chat_member.status
        now = change.new_chat_member.status
        if now in _GONE_STATUSES and was not in _GONE_STATUSES:
            private = change.chat.type == "private"
            reason = "bot was blocked by the user" if private else f"bot was removed ({now})"
            if await self.db.pause_chat(key, reason):
                log.info("telegram chat %s paused: %s", key, reason)
        elif now not in _GONE_STATUSES and was in _GONE_STATUSES:
            row = await self.db.get_chat(key)
            if row is not None and (row.paused_reason or "").startswith("migrated to"):
                return
            await self.db.ensure_chat(key, kind=_KINDS.get(change.chat.type, "private"))
            if await self.db.resume_chat(key):
                log.info("telegram chat %s resumed: the bot is back (%s)", key, now)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        err = context.error
        if err is None:
            return
        text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        log.error("telegram handler failed: %s", self._redact(text))
        if isinstance(update, Update) and update.effective_chat is not None:
            try:
                await self.app.bot.send_message(update.effective_chat.id, APOLOGY)
            except Exception as e:  # the apology is best effort
                log.warning("telegram apology failed: %s", self._redact(repr(e)))

    async def _may_poll(self) -> bool:
        """Before every getUpdates: wait while this replica does not lead; False (the poll is
        not sent) once stopping without leading.

        The lease is the sender's gate (app.build sets it to Leadership.acting, a clock read),
        checked right before the request goes, as before every send. A leader frozen and thawed
        after a takeover finds it lapsed: its next poll would end the new leader's long poll at
        Telegram and could take its updates. A new leader polls once it acts (`ready`)."""
        while not self.sender.gate():
            if self._stopping:
                return False
            await asyncio.sleep(POLL_GATE_WAIT_S)
        return True

    def _on_poll_error(self, exc: TelegramError) -> None:
        log.warning("telegram polling error (will retry): %s", self._redact(repr(exc)))

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text


class _TolerantBot(ExtBot):
    """An ExtBot that polls only while `before_poll` allows it, and drops updates it cannot
    parse instead of failing the whole batch.

    PTB parses a getUpdates batch in one go: one malformed update makes it raise, the offset
    never advances, and polling fetches the same poisoned batch forever. Here an update that
    does not parse is replaced by an empty Update with the same id, so it is acknowledged.
    """

    def __init__(
        self, token: str, *, before_poll: Callable[[], Awaitable[bool]], **kwargs: Any
    ) -> None:
        super().__init__(token, **kwargs)
        with self._unfrozen():  # PTB freezes its objects' attributes after __init__
            self._before_poll = before_poll

    async def _post(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        if endpoint == "getUpdates" and not await self._before_poll():
            return []  # not sent: PTB's last poll at stop, by a replica that no longer leads
        result = await super()._post(endpoint, *args, **kwargs)
        if endpoint != "getUpdates" or not isinstance(result, list):
            return result
        clean = []
        for raw in result:
            try:
                Update.de_json(raw, self)
                clean.append(raw)
            except Exception as e:
                uid = raw.get("update_id") if isinstance(raw, dict) else None
                log.warning("telegram update %s skipped: does not parse (%r)", uid, e)
                if isinstance(uid, int):
                    clean.append({"update_id": uid})
        return clean


def topic_of(msg: TgMessage) -> int | None:
    """The forum topic a message was sent in; None in the chat itself, in a forum's General
    topic (no thread id) and for a reply thread of a group without topics (not a topic)."""
    if msg.is_topic_message and msg.message_thread_id is not None:
        return int(msg.message_thread_id)
    return None


def in_topic(message: Message, thread: int | None) -> Message:
    """A reply to a command sent in a topic goes to that topic."""
    return message if thread is None else replace(message, thread=thread)


async def _yes() -> bool:
    return True


async def _no() -> bool:
    return False


def _admin_check(bot: Any, chat_id: int, user_id: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except TelegramError as e:
            log.warning("telegram getChatMember %s/%s failed: %s", chat_id, user_id, e.message)
            return False  # cannot tell: refuse rather than let anyone manage the group
        return member.status in ("creator", "administrator")

    return check
