"""The Bot API's sending wire: python-telegram-bot's request port on one pooled aiohttp client.

PTB's default backend (httpx over httpcore) scans its whole connection pool for expiry on every
request (`getpeername` per idle connection): in the paid fan-out profile that scan and httpx's
request building were half of a send's CPU (BENCHMARKS.md, issue 18 item 2). aiohttp keeps idle
connections in a per-host deque and posts the same form body with a fraction of the work.

Only the transport changes: PTB still builds the parameters (`RequestData`), and its
`BaseRequest.post` still turns the answer into a result or the documented errors (RetryAfter
with its retry_after, ChatMigrated, Forbidden, BadRequest, ...), so every caller and every
outcome mapping stays PTB's. The body is the same `application/x-www-form-urlencoded` (or
multipart with files) that PTB's own HTTPXRequest sends.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_DEFAULT: Any = BaseRequest.DEFAULT_NONE
_JSON = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """A `telegram.request.BaseRequest` over one `aiohttp.ClientSession` (keep-alive pool of
    `connections`). Timeouts as PTB's HTTPXRequest: 5 s connect/read/write, 20 s to upload."""

    __slots__ = (
        "_connect",
        "_connections",
        "_json_bodies",
        "_media_write",
        "_read",
        "_session",
        "_write",
    )

    def __init__(
        self,
        connections: int = 16,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._connections = connections
        self._read, self._write, self._connect = read_timeout, write_timeout, connect_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        # post_json's bodies, by the id of the (empty) RequestData that carries the call
        self._json_bodies: dict[int, bytes] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # the session binds to the running loop: made here, not in __init__
            connector = aiohttp.TCPConnector(limit=self._connections, keepalive_timeout=30.0)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def post_json(self, url: str, body: dict[str, Any]) -> Any:
        """POST `body` as one JSON object (Telegram takes `application/json` for every method
        without an upload): the outbox's sendMessage, built as plain dicts and serialised
        once. The call still goes through PTB's `post`, so the answer is parsed and its errors
        raised (RetryAfter, ChatMigrated, Forbidden, BadRequest, ...) exactly as for PTB's
        own methods. Returns the result."""
        carrier = RequestData()
        self._json_bodies[id(carrier)] = json.dumps(body, ensure_ascii=False).encode()
        try:
            return await self.post(url, carrier)
        finally:
            del self._json_bodies[id(carrier)]

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = _DEFAULT,
        write_timeout: Any = _DEFAULT,
        connect_timeout: Any = _DEFAULT,
        pool_timeout: Any = _DEFAULT,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            await self.initialize()  # first use (PTB's Bot.initialize may not have run yet)
        assert self._session is not None
        files = request_data.multipart_data if request_data else {}
        body: Any = None
        headers = None
        raw = self._json_bodies.get(id(request_data)) if request_data is not None else None
        if raw is not None:
            body, headers = raw, _JSON
        elif request_data is not None:
            if files:
                body = _multipart(request_data.json_parameters, files)
            else:
                body = request_data.json_parameters  # form-encoded, as HTTPXRequest sends it
        read: float | None = self._read if read_timeout is _DEFAULT else read_timeout
        connect: float | None = self._connect if connect_timeout is _DEFAULT else connect_timeout
        write: float | None = self._media_write if files else self._write
        write = write if write_timeout is _DEFAULT else write_timeout
        # aiohttp has no write timeout of its own: the whole request is bounded by all three
        total = None
        if read is not None and write is not None and connect is not None:
            total = read + write + connect
        timeout = aiohttp.ClientTimeout(total=total, sock_connect=connect, sock_read=read)
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as res:
                return res.status, await res.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err


def _multipart(fields: dict[str, str], files: dict[str, Any]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        if name not in files:
            form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
