"""A webhook receiver on 127.0.0.1: records each POST and answers with scripted statuses.

It verifies signatures the way a receiver's own code would, with hashlib/hmac (the X-Liqbot
scheme) and the official `standardwebhooks` package (the Standard Webhooks headers), nothing of
ours, so a test catches a signature the bot computes wrongly.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def signed_by(self, secret: str) -> bool:
        ts = self.headers.get("X-Liqbot-Timestamp", "")
        want = hmac.new(secret.encode(), f"{ts}.".encode() + self.body, hashlib.sha256)
        got = self.headers.get("X-Liqbot-Signature", "")
        return hmac.compare_digest("sha256=" + want.hexdigest(), got)

    def standard_verified(self, whsecret: str) -> Any:
        """The body as the official `standardwebhooks` package verifies it (it raises
        WebhookVerificationError otherwise); `whsecret` is the receiver's `whsec_...` secret."""
        return Webhook(whsecret).verify(self.body, self.headers)


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        # per path: statuses (or (status, headers)) to answer with, then 200
        self.script: dict[str, deque[int | tuple[int, dict[str, str]]]] = defaultdict(deque)
        self.hang: set[str] = set()  # paths that never answer (timeouts)
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()
        self._changed = asyncio.Condition()
        self.port = 0

    async def start(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def at(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path == f"/{name}"]

    async def wait_for(self, count: int, name: str, timeout: float = 30.0) -> list[Received]:
        """Wait (on an event, not a sleep) until `name` has received `count` POSTs."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.at(name)) >= count), timeout
            )
        return self.at(name)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        async with self._changed:
            self.received.append(Received(request.path, dict(request.headers), body))
            self._changed.notify_all()
        name = request.match_info["name"]
        if name in self.hang:
            await self._release.wait()
        queue = self.script[name]
        answer = queue.popleft() if queue else 200
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        return web.Response(status=status, text="{}", headers=headers)
