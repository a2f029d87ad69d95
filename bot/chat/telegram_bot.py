"""Telegram: the thin adapter (python-telegram-bot) and its delivery Sender.

The adapter has no command logic: it turns an update into a ChatContext and the command text,
asks the shared CommandService, and renders the neutral reply as Telegram HTML. It runs inside
the service's one event loop (Application.initialize/start + updater.start_polling, never
run_polling, which would own the loop).

Outgoing messages are paced within Telegram's flood limits (see Pacer below) rather than sent
and bounced with 429s: a 429 costs a `retry_after` wait for the whole bot.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import logging
import re
import time
import traceback
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from telegram import BotCommand, LinkPreviewOptions, ReplyParameters, Update
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
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.chat.context import ChatContext
from bot.chat.telegram_render import render_html
from bot.delivery import SendOutcome
from bot.domain.message import Message

log = logging.getLogger(__name__)

PLATFORM = "telegram"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"
APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."

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
_KINDS = {"private": "private", "group": "group", "supergroup": "group", "channel": "channel"}


# ---- flood limits ------------------------------------------------------------------------


@dataclass(frozen=True)
class TelegramLimits:
    global_per_s: float = 29.0  # a little under Telegram's ~30/s, for jitter on the way there
    per_chat_interval_s: float = 1.0  # at most one message per this many seconds in one chat
    group_per_window: int = 20  # groups and channels: at most this many per window
    group_window_s: float = 60.0


@dataclass
class _ChatState:
    next_ok: float = 0.0
    recent: deque[float] | None = None  # groups only: send times within the window
    # One waiter per chat at a time: a slot reserved ahead would be stale once the global
    # queue delays the one before it, and two messages would reach Telegram too close.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Pacer:
    """Hands out send times within Telegram's limits; `await wait(chat_id)` before each message.

    - overall: evenly spaced slots (1/rate apart), not a bucket allowing a burst of 30, because
      Telegram counts a sliding second and network jitter would push a burst over it;
    - per chat: evenly spaced slots too;
    - groups/channels: a sliding window (20 per 60 s), as Telegram counts it; a leaky bucket of
      20 would allow a 21st message 3 s after a burst of 20, which Telegram refuses.
    Slots go in call order (first come, first served); idle chat state is pruned.
    """

    def __init__(
        self, limits: TelegramLimits, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self._now = monotonic
        self._next_global = 0.0
        self._bulk = asyncio.Lock()  # bulk (outbox) senders queue here, first come first served
        self._chats: dict[int | str, _ChatState] = {}
        self._since_prune = 0

    def reserve_chat(self, chat_id: int | str) -> float:
        """Reserve this chat's next slot: the (monotonic) time it may send at, chat-wise."""
        lim = self.limits
        now = self._now()
        st = self._chats.get(chat_id)
        if st is None:
            st = self._chats[chat_id] = _ChatState()
        at = max(now, st.next_ok)
        if _is_group(chat_id) and lim.group_per_window > 0:
            if st.recent is None:
                st.recent = deque()
            while st.recent and st.recent[0] <= at - lim.group_window_s:
                st.recent.popleft()
            if len(st.recent) >= lim.group_per_window:
                at = max(at, st.recent[-lim.group_per_window] + lim.group_window_s)
            st.recent.append(at)
        st.next_ok = at + lim.per_chat_interval_s
        self._since_prune += 1
        if self._since_prune >= 1024:
            self._prune(now)
        return at

    def reserve_global(self) -> float:
        """The next overall slot, taken only once the chat's own slot has come."""
        now = self._now()
        if self.limits.global_per_s <= 0:
            return now
        at = max(now, self._next_global)
        self._next_global = at + 1.0 / self.limits.global_per_s
        return at

    async def _global_slot(self, priority: bool) -> None:
        """Wait for an overall slot. A priority send (a command reply) takes the next free slot
        at once; bulk sends claim theirs only when it comes, so a reply overtakes an outbox
        burst instead of queueing behind it, and the overall rate stays the same."""
        gap = 1.0 / self.limits.global_per_s if self.limits.global_per_s > 0 else 0.0
        if gap == 0.0:
            return
        if priority:
            await _sleep_until(self.reserve_global(), self._now)
            return
        async with self._bulk:
            while True:
                now = self._now()
                if self._next_global <= now:
                    # Woken a little late: keep the schedule rather than drift slower.
                    late = now - self._next_global < gap
                    self._next_global = (self._next_global if late else now) + gap
                    return
                await asyncio.sleep(self._next_global - now)  # a reply may take it meanwhile

    @asynccontextmanager
    async def slot(self, chat_id: int | str, priority: bool = False) -> AsyncIterator[None]:
        """Wait for a slot within every limit, send inside the block, and count it as sent.

        One sender per chat at a time, and the chat's clock restarts when the send completes:
        Telegram has counted the message by the time it answered, so the next one can never
        reach it too soon, however the network delayed either of them.
        """
        st = self._chats.get(chat_id)
        if st is None:
            st = self._chats[chat_id] = _ChatState()
        async with st.lock:
            await _sleep_until(self.reserve_chat(chat_id), self._now)
            await self._global_slot(priority)
            try:
                yield
            finally:
                done = self._now()
                st.next_ok = max(st.next_ok, done + self.limits.per_chat_interval_s)
                if st.recent:
                    st.recent[-1] = max(st.recent[-1], done)

    def _prune(self, now: float) -> None:
        self._since_prune = 0
        horizon = now - self.limits.group_window_s
        idle = [
            k
            for k, st in self._chats.items()
            if st.next_ok <= now
            and (not st.recent or st.recent[-1] <= horizon)
            and not st.lock.locked()
        ]
        for k in idle:
            del self._chats[k]

    def __len__(self) -> int:
        return len(self._chats)


async def _sleep_until(when: float, now: Callable[[], float]) -> None:
    delay = when - now()
    if delay > 0:
        await asyncio.sleep(delay)


def _is_group(chat_id: int | str) -> bool:
    # Groups, supergroups and channels have negative ids; "@name" keys are public channels.
    return isinstance(chat_id, str) or chat_id < 0


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
    # PTB 22 stores a timedelta; the public attribute warns about its int/timedelta migration.
    raw: Any = getattr(e, "_retry_after", None)
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

    def __init__(self, bot: Any, limits: TelegramLimits | None = None) -> None:
        self.bot = bot  # telegram.Bot (or an Application's bot)
        self.pacer = Pacer(limits or TelegramLimits())

    async def send(self, chat_key: str, message: Message) -> SendOutcome:
        try:
            chat_id = chat_id_of(chat_key)
        except ValueError as e:
            return SendOutcome.permanent(str(e))
        try:
            await send_html(self.bot, self.pacer, chat_id, render_html(message))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            outcome = outcome_of(e)
            log.info("telegram send to %s: %s (%s)", chat_key, outcome.outcome, outcome.reason)
            return outcome
        return SendOutcome.sent()


async def send_html(
    bot: Any,
    pacer: Pacer,
    chat_id: int | str,
    parts: list[str],
    reply_to: int | None = None,
    priority: bool = False,
) -> None:
    """Send the parts in order, each paced; a part Telegram cannot parse goes as plain text.

    `priority` (command replies) overtakes queued outbox sends for the overall limit."""
    for part in parts:
        async with pacer.slot(chat_id, priority):
            await _send_part(bot, chat_id, part, reply_to)


async def _send_part(bot: Any, chat_id: int | str, part: str, reply_to: int | None) -> None:
    kwargs: dict[str, Any] = {"link_preview_options": LinkPreviewOptions(is_disabled=True)}
    if reply_to is not None:
        kwargs["reply_parameters"] = ReplyParameters(reply_to, allow_sending_without_reply=True)
    try:
        await bot.send_message(chat_id, part, parse_mode=ParseMode.HTML, **kwargs)
    except BadRequest as e:
        if "can't parse entities" not in e.message.lower():
            raise
        log.warning("telegram rejected our HTML (%s); sending as plain text", e.message)
        await bot.send_message(chat_id, _strip_tags(part), **kwargs)


def _strip_tags(part: str) -> str:
    return html.unescape(re.sub(r"</?(b|i|pre)>", "", part))


# ---- the bot -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookSettings:
    """Webhook mode: Telegram POSTs updates to `url`; we listen on listen:port/path."""

    url: str  # the public https URL Telegram calls (behind the load balancer)
    listen: str = "0.0.0.0"
    port: int = 8443
    path: str = "telegram"
    secret_token: str | None = None  # checked on every call (X-Telegram-Bot-Api-Secret-Token)


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
        on_migrate: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        if mode == "webhook" and webhook is None:
            raise ValueError("webhook mode needs webhook settings (url at least)")
        self._token = token
        self.service = service
        self.db = db
        self.mode = mode
        self.webhook = webhook
        self.poll_timeout_s = poll_timeout_s
        self.on_migrate = on_migrate  # e.g. refresh the RuleBook after db.migrate_chat
        self.username = ""
        bot = _TolerantBot(
            token,
            base_url=base_url,
            base_file_url=base_file_url,
            request=HTTPXRequest(connection_pool_size=256),
            get_updates_request=HTTPXRequest(connection_pool_size=1, read_timeout=5.0),
        )
        self.app: Application = ApplicationBuilder().bot(bot).build()
        self.sender = TelegramSender(self.app.bot, limits)
        text = filters.TEXT & filters.Regex(r"^\s*/")
        self.app.add_handler(
            MessageHandler(
                (filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST) & text,
                self._on_command,
            )
        )
        self.app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self._on_migrate))
        self.app.add_error_handler(self._on_error)
        self._started = False

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
        )
        webhook = None
        if cfg.mode == "webhook":
            wh = cfg.webhook
            webhook = WebhookSettings(
                url=wh.url,
                listen=wh.listen,
                port=wh.port,
                path=wh.path,
                secret_token=webhook_secret or None,
            )
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
        await self._register_commands()
        await self.app.start()
        allowed = [Update.MESSAGE, Update.CHANNEL_POST]
        if self.mode == "webhook":
            assert self.webhook is not None
            await self.app.updater.start_webhook(  # type: ignore[union-attr]
                listen=self.webhook.listen,
                port=self.webhook.port,
                url_path=self.webhook.path,
                webhook_url=self.webhook.url,
                secret_token=self.webhook.secret_token,
                allowed_updates=allowed,
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
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def _register_commands(self) -> None:
        try:
            cmds = [BotCommand(n, d[:256] or n) for n, d in self.service.commands()]
            await self.app.bot.set_my_commands(cmds)
        except TelegramError as e:  # a menu is nice to have: never a reason not to start
            log.warning("telegram setMyCommands failed: %s", self._redact(str(e)))

    # ---- handlers --------------------------------------------------------------------------
    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg = update.effective_message
        chat = update.effective_chat
        if msg is None or chat is None or msg.text is None:
            return
        text = self._own_command(msg.text.strip())
        if text is None:
            return  # /cmd@otherbot: another bot's command
        ctx = self._context(update)
        reply = await self.service.handle_text(ctx, text)
        reply_to = msg.message_id if ctx.kind == "group" else None
        for m in reply.messages:
            parts = render_html(m)
            await send_html(self.app.bot, self.sender.pacer, chat.id, parts, reply_to, True)

    def _own_command(self, text: str) -> str | None:
        """Strip `@ourbot` from `/cmd@ourbot args`; None when it names another bot."""
        head, sep, rest = text.partition(" ")
        name, at, mention = head.partition("@")
        if not at:
            return text
        if self.username and mention.lower() != self.username.lower():
            return None
        return name + sep + rest

    def _context(self, update: Update) -> ChatContext:
        chat = update.effective_chat
        msg = update.effective_message
        assert chat is not None and msg is not None
        kind = _KINDS.get(chat.type, "private")
        key = f"{PLATFORM}:{chat.id}"
        user = update.effective_user
        name = user.full_name if user else (chat.title or "")
        if kind == "channel":
            # Only a channel's admins can post in it: a command posted there is theirs.
            return ChatContext(
                key,
                PLATFORM,
                "channel",
                _yes,
                name,
                "only this channel's admins can change its alerts",
            )
        if kind == "group":
            bot = self.app.bot
            sender_chat = msg.sender_chat
            if sender_chat is not None and sender_chat.id == chat.id:
                check: Callable[[], Awaitable[bool]] = _yes  # an anonymous admin of this group
            elif user is None:
                check = _no
            else:
                check = _admin_check(bot, chat.id, user.id)
            return ChatContext(
                key,
                PLATFORM,
                "group",
                check,
                name,
                "only this group's admins can change its alerts",
            )
        return ChatContext(key, PLATFORM, "private", _yes, name)

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
        await self.db.migrate_chat(old_key, new_key)
        log.info("telegram chat %s migrated to %s", old_key, new_key)
        if self.on_migrate is not None:
            await self.on_migrate(old_key, new_key)
        else:
            await self._rekey_rules(new_key)

    async def _rekey_rules(self, new_key: str) -> None:
        # The RuleBook holds Subscriptions with their chat key: give it the moved ones, keeping
        # their alert state, or the next alert would be queued for the dead group id.
        book = getattr(self.service, "book", None)
        if book is None or not hasattr(book, "state"):
            return
        for sub in await self.db.list_subscriptions(new_key):
            state = book.state(sub.id)
            book.remove(sub.id)
            book.add(sub, state)

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

    def _on_poll_error(self, exc: TelegramError) -> None:
        log.warning("telegram polling error (will retry): %s", self._redact(repr(exc)))

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text


class _TolerantBot(ExtBot):
    """An ExtBot that drops updates it cannot parse instead of failing the whole batch.

    PTB parses a getUpdates batch in one go: one malformed update makes it raise, the offset
    never advances, and polling fetches the same poisoned batch forever. Here an update that
    does not parse is replaced by an empty Update with the same id, so it is acknowledged.
    """

    async def _post(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
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
