"""A fake Discord (gateway websocket + REST) on 127.0.0.1 for driving the real discord.py client.

It plays just enough of the protocol (see ../shared/reference/platform-fakes.md): the gateway
handshake (HELLO, heartbeat ACK, IDENTIFY -> READY + GUILD_CREATE, RESUME -> RESUMED), command
sync, interaction callbacks and followups, channel messages and DM channels. Tests inject
interactions, drop the gateway and queue REST failures; everything received is recorded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = 900_000_000_000_000_001
BOT_ID = APP_ID  # Discord uses the application id as the bot user id
GUILD_ID = 910_000_000_000_000_001
CHANNEL_ID = 920_000_000_000_000_001
MANAGE_CHANNELS = 1 << 4
MEMBER_PERMS = (1 << 10) | (1 << 11) | (1 << 31)  # view, send, use application commands
ADMIN_PERMS = MEMBER_PERMS | MANAGE_CHANNELS

_JSON = "application/json"  # exactly: discord.py rejects a charset suffix


def _user(uid: int, name: str, bot: bool = False) -> dict[str, Any]:
    return {"id": str(uid), "username": name, "discriminator": "0", "avatar": None, "bot": bot,
            "global_name": name}  # fmt: skip


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Upload:
    """A file part of a multipart request (an attachment)."""

    part: str  # "files[0]" ...
    filename: str
    data: bytes


@dataclass
class Posted:
    """A message the bot sent: to a channel, as an interaction response or as a followup."""

    channel_id: int | None
    payload: dict[str, Any]
    files: list[Upload] = field(default_factory=list)

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self.payload.get("embeds") or []

    @property
    def ephemeral(self) -> bool:
        return bool((self.payload.get("flags") or 0) & 64)


class FakeDiscord:
    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self._ids = itertools.count(930_000_000_000_000_001)
        self._seq = 0
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._ws: web.WebSocketResponse | None = None
        self.session_id = "fake-session-1"
        # what arrived
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.identifies = 0
        self.resumes = 0
        self.synced: list[dict[str, Any]] = []  # the last PUT of global commands
        self.channel_messages: dict[int, list[Posted]] = defaultdict(list)
        self.callbacks: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.followups: list[Posted] = []
        self.edited: list[Posted] = []  # PATCHes of an interaction's original response
        self.uploads: list[Upload] = []  # every file attached to any request, in order
        self.dm_channels: dict[int, int] = {}  # user id -> dm channel id
        # what to do
        self.failures: dict[int, deque[Failure]] = defaultdict(deque)  # channel id -> queued
        self.refuse_resume = False
        self.sync_failures: deque[Failure] = deque()  # answers to the next command PUTs
        self.sync_puts = 0  # command PUTs received, failed ones included
        self.ready = asyncio.Event()  # READY or RESUMED sent on the current connection
        self.synced_event = asyncio.Event()
        self.message_event = asyncio.Condition()

    # ---- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gw", self._gateway)
        app.router.add_get("/gw/", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gw"

    # ---- gateway ----------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        self.ready.clear()
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            op = frame.get("op")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                self.identifies += 1
                await self._identified(ws)
            elif op == 6:
                self.resumes += 1
                if self.refuse_resume:  # op 9, not resumable: the client must IDENTIFY afresh
                    await ws.send_str(json.dumps({"op": 9, "d": False}))
                    continue
                await self.dispatch("RESUMED", {}, ws)
                self.ready.set()
        return ws

    async def _identified(self, ws: web.WebSocketResponse) -> None:
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": _user(BOT_ID, "liqbot", bot=True),
                "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
                "session_id": self.session_id,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(APP_ID), "flags": 0},
                "shard": [0, 1],
            },
            ws,
        )
        await self.dispatch("GUILD_CREATE", self.guild_payload(), ws)
        self.ready.set()

    def guild_payload(self) -> dict[str, Any]:
        return {
            "id": str(GUILD_ID),
            "name": "Traders",
            "owner_id": "1",
            "member_count": 2,
            "roles": [
                {
                    "id": str(GUILD_ID),
                    "name": "@everyone",
                    "permissions": str(MEMBER_PERMS),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                }
            ],
            "channels": [
                {
                    "id": str(CHANNEL_ID),
                    "type": 0,
                    "name": "alerts",
                    "position": 0,
                    "guild_id": str(GUILD_ID),
                    "permission_overwrites": [],
                }
            ],
            "members": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "unavailable": False,
        }

    async def dispatch(
        self, event: str, data: Any, ws: web.WebSocketResponse | None = None
    ) -> None:
        ws = ws or self._ws
        assert ws is not None, "no gateway connection"
        self._seq += 1
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": self._seq, "d": data}))

    async def drop_gateway(self, code: int = 4000) -> None:
        """Close the websocket as Discord does on an outage; the client should RESUME."""
        assert self._ws is not None
        self.ready.clear()
        await self._ws.close(code=code, message=b"dropped by the fake")

    # ---- interactions -----------------------------------------------------------------------

    def interaction(
        self,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        user_id: int = 111,
        perms: int = MEMBER_PERMS,
        dm: bool = False,
        autocomplete: bool = False,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for a slash command (or its autocomplete); `locale`:
        the user's Discord language ("ru", "es-ES", "zh-CN")."""
        iid = next(self._ids)
        data: dict[str, Any] = {"id": str(next(self._ids)), "name": name, "type": 1,
                                "options": options or []}  # fmt: skip
        d: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(APP_ID),
            "type": 4 if autocomplete else 2,
            "token": f"tok-{iid}",
            "version": 1,
            "attachment_size_limit": 8 * 1024 * 1024,
            "data": data,
            "locale": locale,
            "app_permissions": str(MEMBER_PERMS | (1 << 14)),
        }
        if dm:
            d["context"] = 1
            d["channel"] = {"id": str(self.dm_channel_for(user_id)), "type": 1}
            d["channel_id"] = d["channel"]["id"]
            d["user"] = _user(user_id, f"user{user_id}")
        else:
            d["context"] = 0
            d["guild_id"] = str(GUILD_ID)
            d["channel"] = {"id": str(CHANNEL_ID), "type": 0, "guild_id": str(GUILD_ID),
                            "name": "alerts", "position": 0, "permission_overwrites": []}  # fmt: skip
            d["channel_id"] = str(CHANNEL_ID)
            d["member"] = {"user": _user(user_id, f"user{user_id}"), "roles": [],
                           "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False,
                           "mute": False, "flags": 0, "permissions": str(perms)}  # fmt: skip
        return d

    def button_press(self, custom_id: str, **kw: Any) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for a press of a message button (a component
        interaction, type 3) under one of the bot's messages in the channel (or a DM)."""
        d = self.interaction("", **kw)
        d["type"] = 3
        d["data"] = {"custom_id": custom_id, "component_type": 2}
        d["message"] = self._message(int(d["channel_id"]), {})
        return d

    async def invoke(self, payload: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
        """Send an interaction and wait for the bot's callback body ({type, data})."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.callbacks[int(payload["id"])] = fut
        await self.dispatch("INTERACTION_CREATE", payload)
        return await asyncio.wait_for(fut, timeout)

    def dm_channel_for(self, user_id: int) -> int:
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = next(self._ids)
        return self.dm_channels[user_id]

    # ---- REST -------------------------------------------------------------------------------

    def fail_next(self, channel_id: int, status: int, body: dict[str, Any], **headers: str) -> None:
        self.failures[channel_id].append(Failure(status, body, dict(headers)))

    async def wait_messages(
        self, channel_id: int, count: int, timeout: float = 15.0
    ) -> list[Posted]:
        async with self.message_event:
            await asyncio.wait_for(
                self.message_event.wait_for(
                    lambda: len(self.channel_messages[channel_id]) >= count
                ),
                timeout,
            )
        return self.channel_messages[channel_id]

    async def wait_followups(self, count: int, timeout: float = 15.0) -> list[Posted]:
        async with self.message_event:
            await asyncio.wait_for(
                self.message_event.wait_for(lambda: len(self.followups) >= count), timeout
            )
        return self.followups

    def _message(self, channel_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": str(next(self._ids)),
            "channel_id": str(channel_id),
            "author": _user(BOT_ID, "liqbot", bot=True),
            "content": payload.get("content") or "",
            "embeds": payload.get("embeds") or [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": "2026-01-01T00:00:00+00:00",
            "edited_timestamp": None,
            "type": 0,
            "flags": payload.get("flags") or 0,
            "components": [],
        }

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        self.requests.append((request.method, path))
        body, files = await _body(request)
        if files:
            self.uploads.extend(files)
        parts = path.strip("/").split("/")
        m = request.method

        authorized = request.headers.get("Authorization", "") == f"Bot {self.token}"
        # interaction callbacks and followups carry the interaction's token in the path instead
        if not authorized and not path.startswith(("/interactions/", "/webhooks/")):
            return _ok({"message": "401: Unauthorized", "code": 0}, 401)
        if m == "GET" and path == "/users/@me":
            return _ok(_user(BOT_ID, "liqbot", bot=True))
        if m == "GET" and path == "/oauth2/applications/@me":
            return _ok({"id": str(APP_ID), "name": "liqbot", "description": "", "icon": None,
                        "bot_public": True, "bot_require_code_grant": False,
                        "owner": _user(1, "owner"), "verify_key": "00", "flags": 0})  # fmt: skip
        if m == "PUT" and parts[:1] == ["applications"] and parts[-1] == "commands":
            self.sync_puts += 1
            if self.sync_failures:
                f = self.sync_failures.popleft()
                return _ok(f.body, f.status, f.headers)
            self.synced = list(body or [])
            self.synced_event.set()
            out = [dict(c, id=str(next(self._ids)), application_id=str(APP_ID), version="1")
                   for c in self.synced]  # fmt: skip
            return _ok(out)
        if m == "POST" and parts[0] == "interactions" and parts[-1] == "callback":
            iid = int(parts[1])
            fut = self.callbacks.get(iid)
            if fut is not None and not fut.done():
                fut.set_result(body)
            resp: dict[str, Any] = {"interaction": {"id": str(iid), "type": 2}}
            if body and body.get("type") == 4:
                msg = self._message(CHANNEL_ID, body.get("data") or {})
                resp["interaction"]["response_message_id"] = msg["id"]
                resp["resource"] = {"type": 4, "message": msg}
            return _ok(resp)
        if m == "POST" and parts[0] == "webhooks":
            async with self.message_event:
                self.followups.append(Posted(None, body or {}, files))
                self.message_event.notify_all()
            return _ok(self._message(CHANNEL_ID, body or {}))
        if m == "PATCH" and parts[0] == "webhooks" and parts[-1] == "@original":
            async with self.message_event:
                self.edited.append(Posted(None, body or {}, files))
                self.message_event.notify_all()
            return _ok(self._message(CHANNEL_ID, body or {}))
        if m == "POST" and path == "/users/@me/channels":
            uid = int(body["recipient_id"])
            return _ok({"id": str(self.dm_channel_for(uid)), "type": 1,
                        "recipients": [_user(uid, f"user{uid}")], "last_message_id": None})  # fmt: skip
        if m == "POST" and parts[0] == "channels" and parts[-1] == "messages":
            cid = int(parts[1])
            if self.failures[cid]:
                f = self.failures[cid].popleft()
                return _ok(f.body, f.status, f.headers)
            async with self.message_event:
                self.channel_messages[cid].append(Posted(cid, body or {}, files))
                self.message_event.notify_all()
            return _ok(self._message(cid, body or {}))
        return _ok({"message": "Unknown", "code": 0}, 404)


async def _body(request: web.Request) -> tuple[Any, list[Upload]]:
    """The JSON body, or for multipart (a message with files) its payload_json and files."""
    if not request.can_read_body:
        return None, []
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        files = [
            Upload(key, value.filename, value.file.read())
            for key, value in form.items()
            if isinstance(value, web.FileField)
        ]
        raw = form.get("payload_json")
        return (json.loads(raw) if isinstance(raw, str) else None), files
    return await request.json(), []


def _ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # body bytes + an explicit header: aiohttp's content_type= would append "; charset=utf-8"
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": _JSON},
    )
