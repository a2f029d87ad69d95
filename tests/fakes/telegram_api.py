"""A fake Telegram Bot API server (aiohttp) for driving the real python-telegram-bot client.

It speaks the wire protocol on 127.0.0.1: `POST /bot<token>/<method>`, form-urlencoded, where
string parameters are raw and every other value is JSON. Tests push updates, inject errors per
chat and read back what the bot sent. Optionally it enforces Telegram's published flood limits.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 7000001
BOT_USERNAME = "liq_test_bot"


@dataclass
class FakeLimits:
    """Telegram's flood limits as the fake enforces them (sliding windows)."""

    global_per_s: int = 30
    per_chat_per_s: int = 1
    group_per_min: int = 20
    group_window_s: float = 60.0  # shorten in tests; Telegram's is a minute
    chat_window_s: float = 1.0
    paid_per_s: int = 1000  # sends with allow_paid_broadcast: their own overall limit


@dataclass
class Sent:
    chat_id: int | str
    text: str
    parse_mode: str | None
    at: float  # perf_counter when recorded
    message_id: int
    params: dict[str, Any] = field(default_factory=dict)


def _admin(user: dict[str, Any]) -> dict[str, Any]:
    # A ChatMemberAdministrator fails to parse unless every can_* field is present.
    rights = [
        "can_be_edited",
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
        "can_post_messages",
        "can_edit_messages",
        "can_pin_messages",
        "can_manage_topics",
        "can_manage_direct_messages",
    ]
    d: dict[str, Any] = {"status": "administrator", "user": user, "is_anonymous": False}
    d.update({r: r not in ("can_be_edited",) for r in rights})
    return d


class FakeTelegram:
    def __init__(self, token: str = "123456:TEST-token", limits: FakeLimits | None = None) -> None:
        self.token = token
        # Telegram's tokens begin with the bot's id (getMe answers it): "123456:AA..." is bot 123456
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else BOT_ID
        self.limits = limits  # None: no flood control
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.commands: list[dict[str, Any]] = []
        self.command_menus: dict[str, list[dict[str, Any]]] = {}  # by language_code
        self.answers: list[dict[str, Any]] = []  # answerCallbackQuery calls, in order
        self.edits: list[dict[str, Any]] = []  # editMessageText calls that changed a message
        self.webhook: dict[str, Any] | None = None
        # chat id -> {user id: "creator" | "administrator" | "member" | ...}
        self.members: dict[int, dict[int, str]] = defaultdict(dict)
        # chat id (or "@name") -> queued one-shot error bodies; `sticky` errors repeat
        self.errors: dict[int | str, deque[dict[str, Any]]] = defaultdict(deque)
        self.sticky: dict[int | str, dict[str, Any]] = {}
        self.rejected_429 = 0
        self.served_at: dict[int, float] = {}  # update_id -> when getUpdates handed it out
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._next_message_id = 1
        self._changed = asyncio.Condition()
        self._parked = 0
        self._stopping = False
        self._global: deque[float] = deque()
        self._paid: deque[float] = deque()
        self.paid_sent = 0  # accepted sends that were paid broadcasts
        self._per_chat: dict[int | str, deque[float]] = defaultdict(deque)
        self._runner: web.AppRunner | None = None
        self.port = 0
        # while set: sends are recorded (received) but not answered until `release_answers`
        self._answers_held: asyncio.Event | None = None

    def hold_answers(self) -> None:
        """From now on a send is recorded, then its answer waits (a slow Telegram, or a bot
        frozen with its requests on the wire) until `release_answers()`."""
        self._answers_held = asyncio.Event()

    def release_answers(self) -> None:
        if self._answers_held is not None:
            self._answers_held.set()
            self._answers_held = None

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        app.router.add_get("/_fake/{what}", self._control)  # telegram_process's parent asks
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._stopping = True
        async with self._changed:
            self._changed.notify_all()  # wake parked long polls so shutdown is immediate
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ---- what tests drive ----------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        """Queue a raw update (the update_id is assigned here) and wake the long poll."""
        uid = self._next_update_id
        self._next_update_id += 1
        self._updates.append({"update_id": uid, **update})
        asyncio.get_running_loop().create_task(self._notify())
        return uid

    def message(
        self,
        chat_id: int,
        text: str | None,
        *,
        user_id: int = 1001,
        chat_type: str = "private",
        title: str = "A group",
        kind: str = "message",
        entities: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
        language_code: str | None = None,
    ) -> int:
        """Push a message-like update; a leading /command gets its bot_command entity.
        `language_code`: the sender's app language ("ru", "zh-hans"), as Telegram sends it."""
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = f"user{user_id}"
        else:
            chat["title"] = title
        msg: dict[str, Any] = {
            "message_id": self._next_message_id,
            "date": int(time.time()),
            "chat": chat,
        }
        self._next_message_id += 1
        if kind != "channel_post":
            msg["from"] = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
            if language_code is not None:
                msg["from"]["language_code"] = language_code
        if text is not None:
            msg["text"] = text
            if entities is None and text.startswith("/"):
                length = len(text.split()[0]) if text.split() else 1
                entities = [{"type": "bot_command", "offset": 0, "length": length}]
            if entities:
                msg["entities"] = entities
        msg.update(extra or {})
        return self.push({kind: msg})

    def my_chat_member(
        self, chat_id: int, old: str, new: str, *, chat_type: str = "private", user_id: int = 1001
    ) -> int:
        """Push the bot's own membership change in a chat (blocked, kicked, added back).
        Statuses: "member", "administrator", "kicked", "left"."""
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = f"user{user_id}"
        else:
            chat["title"] = "A group"
        me = {"id": self.bot_id, "is_bot": True, "first_name": "Liq", "username": BOT_USERNAME}

        def member(status: str) -> dict[str, Any]:
            if status == "administrator":
                return _admin(me)
            if status == "kicked":
                return {"status": "kicked", "user": me, "until_date": 0}
            return {"status": status, "user": me}

        change = {
            "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        return self.push({"my_chat_member": change})

    def press(
        self,
        sent: Sent,
        label: str,
        *,
        user_id: int = 1001,
        chat_type: str | None = None,
        data: str | None = None,
        inaccessible: bool = False,
    ) -> int:
        """Push a callback_query: `user_id` pressed the button `label` under the message the
        bot sent (`data` instead of the button's callback_data: a forged press). `inaccessible`:
        the message as Telegram gives one older than 48 h (date 0, no content)."""
        markup = sent.params.get("reply_markup") or {}
        buttons = [b for row in markup.get("inline_keyboard", []) for b in row]
        if data is None:
            (button,) = [b for b in buttons if b["text"] == label]
            data = button["callback_data"]
        chat_id = sent.chat_id
        assert isinstance(chat_id, int)
        kind = chat_type or ("private" if chat_id > 0 else "supergroup")
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = f"user{user_id}"
        else:
            chat["title"] = "A group"
        me = {"id": self.bot_id, "is_bot": True, "first_name": "Liq", "username": BOT_USERNAME}
        message = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": me,
            "text": sent.text,
        }
        if inaccessible:
            message = {"message_id": sent.message_id, "date": 0, "chat": chat}
        query = {
            "id": f"q{self._next_update_id}",
            "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
            "message": message,
            "chat_instance": f"ci{chat_id}",
            "data": data,
        }
        return self.push({"callback_query": query})

    async def wait_answers(self, count: int, timeout: float = 15.0) -> None:
        """Wait until the bot answered `count` callback queries."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.answers) >= count), timeout
            )

    def fail_next(self, chat_id: int | str, code: int, description: str, **params: Any) -> None:
        """The next sendMessage to this chat fails once with this error."""
        self.errors[chat_id].append(_error(code, description, params))

    def fail_always(self, chat_id: int | str, code: int, description: str, **params: Any) -> None:
        self.sticky[chat_id] = _error(code, description, params)

    def texts(self, chat_id: int | str) -> list[str]:
        return [s.text for s in self.sent if s.chat_id == chat_id]

    async def wait_sent(self, count: int, chat_id: int | str | None = None, timeout: float = 15.0):
        """Wait until at least `count` messages went to `chat_id` (or anywhere)."""

        def enough() -> bool:
            n = len(self.sent) if chat_id is None else len(self.texts(chat_id))
            return n >= count

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(enough), timeout)

    async def wait_parked(self, timeout: float = 15.0) -> None:
        """Wait until the bot is parked in a long poll with nothing pending for it."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self._parked > 0), timeout)

    async def wait_consumed(self, timeout: float = 15.0) -> None:
        """Wait until every pushed update was confirmed by a later getUpdates offset."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: not self._updates and self._parked > 0), timeout
            )

    async def _control(self, request: web.Request) -> web.Response:
        """For a parent process (tests/fakes/telegram_process.py): is the bot parked in a long
        poll, and what was sent (chat, when, paid) with the 429s answered."""
        if request.match_info["what"] == "parked":
            return _json(self._parked > 0)
        rows = [(s.chat_id, s.at, s.params.get("allow_paid_broadcast") is True) for s in self.sent]
        return _json({"sent": rows, "rejected_429": self.rejected_429, "paid_sent": self.paid_sent})

    # ---- the wire ------------------------------------------------------------------------
    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json(_error(401, "Unauthorized", {}), 401)
        method = request.match_info["method"]
        if request.content_type == "application/json":  # Telegram takes JSON bodies too
            params = await request.json()
        else:
            params = _decode(await request.post())
        self.calls.append((method, params))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _json(_error(404, "Not Found: method not found", {}), 404)
        result = await handler(params)
        if isinstance(result, web.Response):
            return result
        return _json({"ok": True, "result": result})

    async def _m_getMe(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Liq",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_deleteWebhook(self, p: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    async def _m_setWebhook(self, p: dict[str, Any]) -> bool:
        self.webhook = p
        return True

    async def _m_setMyCommands(self, p: dict[str, Any]) -> bool:
        if p.get("language_code"):  # a menu for users whose app speaks that language
            self.command_menus[p["language_code"]] = p.get("commands", [])
        else:
            self.commands = p.get("commands", [])
        return True

    async def _m_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(p.get("offset", 0) or 0)
        limit = int(p.get("limit", 100) or 100)
        timeout = float(p.get("timeout", 0) or 0)
        if offset:
            # Confirming an offset forgets every earlier update, as Telegram does.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        async with self._changed:
            self._parked += 1
            self._changed.notify_all()
            try:
                while not self._updates and not self._stopping:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        await asyncio.wait_for(self._changed.wait(), left)
                    except TimeoutError:
                        break
            finally:
                self._parked -= 1
        batch = self._updates[:limit]
        now = time.perf_counter()
        for u in batch:
            self.served_at.setdefault(u["update_id"], now)
        return batch

    async def _m_getChatMember(self, p: dict[str, Any]) -> dict[str, Any] | web.Response:
        chat_id, user_id = int(p["chat_id"]), int(p["user_id"])
        user = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
        status = self.members.get(chat_id, {}).get(user_id, "member")
        if status == "administrator":
            return _admin(user)
        if status == "creator":
            return {"status": "creator", "user": user, "is_anonymous": False}
        return {"status": status, "user": user}

    async def _m_getChatAdministrators(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        chat_id = int(p["chat_id"])
        out = []
        for uid, status in self.members.get(chat_id, {}).items():
            user = {"id": uid, "is_bot": False, "first_name": f"user{uid}"}
            if status == "administrator":
                out.append(_admin(user))
            elif status == "creator":
                out.append({"status": "creator", "user": user, "is_anonymous": False})
        return out

    async def _m_answerCallbackQuery(self, p: dict[str, Any]) -> bool:
        self.answers.append(p)
        await self._notify()
        return True

    async def _m_editMessageText(self, p: dict[str, Any]) -> dict[str, Any] | web.Response:
        """Edits the recorded message in place (its text and buttons; no reply_markup removes
        them), as Telegram shows it; the same content again is Telegram's 400."""
        chat_id, mid = p["chat_id"], int(p["message_id"])
        if isinstance(chat_id, str) and not chat_id.startswith("@"):
            chat_id = int(chat_id)
        found = [s for s in self.sent if s.chat_id == chat_id and s.message_id == mid]
        if not found:
            return _json(_error(400, "Bad Request: message to edit not found", {}), 400)
        sent = found[-1]
        markup = p.get("reply_markup")
        if sent.text == p.get("text", "") and sent.params.get("reply_markup") == markup:
            err = _error(400, "Bad Request: message is not modified: specified new message "
                         "content and reply markup are exactly the same", {})  # fmt: skip
            return _json(err, 400)
        sent.text = p.get("text", "")
        sent.params = {k: v for k, v in sent.params.items() if k != "reply_markup"}
        if markup is not None:
            sent.params["reply_markup"] = markup
        self.edits.append(p)
        await self._notify()
        return {"message_id": mid, "date": int(time.time()), "edit_date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "text": sent.text}  # fmt: skip

    async def _m_sendMessage(self, p: dict[str, Any]) -> dict[str, Any] | web.Response:
        return await self._send(p, p.get("text", ""))

    async def _m_sendPhoto(self, p: dict[str, Any]) -> dict[str, Any] | web.Response:
        """Recorded in `sent` like a message, with the caption as its text; the uploaded file
        is in params["photo"] as an Upload (a file_id or URL would stay a string)."""
        return await self._send(p, p.get("caption", ""))

    def photos(self, chat_id: int | str) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id and "photo" in s.params]

    async def _send(self, p: dict[str, Any], text: str) -> dict[str, Any] | web.Response:
        chat_id = p["chat_id"]
        if isinstance(chat_id, str) and not chat_id.startswith("@"):
            chat_id = int(chat_id)
        queued = self.errors.get(chat_id)
        if queued:
            err = queued.popleft()
            return _json(err, err["error_code"])
        if chat_id in self.sticky:
            err = self.sticky[chat_id]
            return _json(err, err["error_code"])
        paid = p.get("allow_paid_broadcast") is True
        if self.limits is not None:
            wait = self._flood_wait(chat_id, paid)
            if wait > 0:
                self.rejected_429 += 1
                after = max(1, math.ceil(wait))
                err = _error(429, f"Too Many Requests: retry after {after}", {"retry_after": after})
                return _json(err, 429)
        mid = self._next_message_id
        self._next_message_id += 1
        self.paid_sent += paid
        self.sent.append(Sent(chat_id, text, p.get("parse_mode"), time.perf_counter(), mid, p))
        await self._notify()
        if self._answers_held is not None:
            await self._answers_held.wait()
        chat_type = "private" if isinstance(chat_id, int) and chat_id > 0 else "supergroup"
        if isinstance(chat_id, str):
            chat_type = "channel"
        return {
            "message_id": mid,
            "date": int(time.time()),
            "chat": {"id": chat_id if isinstance(chat_id, int) else -1, "type": chat_type},
            "text": text,
        }

    def _flood_wait(self, chat_id: int | str, paid: bool = False) -> float:
        """Seconds until this message would be within the limits; 0 records it as sent.
        A paid broadcast counts against the paid overall limit instead of the free one."""
        assert self.limits is not None
        now = time.monotonic()
        g = self._paid if paid else self._global
        while g and g[0] <= now - 1.0:
            g.popleft()
        c = self._per_chat[chat_id]
        is_group = isinstance(chat_id, str) or chat_id < 0
        lim = self.limits
        period = lim.group_window_s if is_group else lim.chat_window_s
        cap = self.limits.group_per_min if is_group else self.limits.per_chat_per_s
        while c and c[0] <= now - period:
            c.popleft()
        waits = []
        if len(g) >= (self.limits.paid_per_s if paid else self.limits.global_per_s):
            waits.append(g[0] + 1.0 - now)
        if len(c) >= cap:
            waits.append(c[0] + period - now)
        if is_group and lim.per_chat_per_s:
            recent = [t for t in c if t > now - lim.chat_window_s]
            if len(recent) >= lim.per_chat_per_s:
                waits.append(recent[0] + lim.chat_window_s - now)
        if waits:
            return max(max(waits), 1e-3)
        g.append(now)
        c.append(now)
        return 0.0


def _error(code: int, description: str, params: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if params:
        body["parameters"] = params
    return body


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")


@dataclass
class Upload:
    """A file part of a multipart request (sendPhoto and the like)."""

    filename: str
    content_type: str
    data: bytes


def _decode(form: Any) -> dict[str, Any]:
    """Strings are sent raw and everything else JSON-encoded: decode what parses as JSON.
    File parts (multipart uploads) become Upload records."""
    out: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, web.FileField):
            out[key] = Upload(value.filename, value.content_type, value.file.read())
            continue
        if not isinstance(value, str):
            continue
        raw = ("text", "caption", "parse_mode", "description", "url", "secret_token")
        if key in raw or key == "callback_query_id":
            out[key] = value
            continue
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out
