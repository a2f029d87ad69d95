"""The operator's one HTTP port (aiohttp, in the service's event loop).

`GET /healthz` (200, or 503 with the reasons), `GET /metrics` (Prometheus text), and the
Telegram webhook when Telegram runs in webhook mode. The port is `$PORT` when set (the
convention of container platforms), else `http.port`; with neither, the server is off.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from bot.ops.metrics import CONTENT_TYPE, Metrics
from bot.ops.service_health import ServiceHealth

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1 << 20  # a Telegram update is a few KB; refuse anything absurd

# (secret header or None, body) -> HTTP status; TelegramBot.accept_update
WebhookHandler = Callable[[str | None, bytes], Awaitable[int]]


class PortError(ValueError):
    pass


def resolve_port(config_port: int | None, env: Mapping[str, str] | None = None) -> int | None:
    """$PORT when set, else the configured port; None means no server."""
    e = os.environ if env is None else env
    raw = e.get("PORT", "").strip()
    if not raw:
        return config_port
    if not raw.isdigit() or int(raw) > 65535:
        raise PortError(f"PORT must be a port number (0-65535), not {raw!r}")
    return int(raw)


class HttpServer:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port  # port 0: any free one; the bound port after start
        self.app = web.Application(client_max_size=MAX_UPDATE_BYTES)
        self._runner: web.AppRunner | None = None

    def serve_health(self, health: ServiceHealth, metrics: Metrics) -> None:
        async def healthz(request: web.Request) -> web.Response:
            status, body = await health.healthz()
            return web.json_response(body, status=status)

        async def metrics_page(request: web.Request) -> web.Response:
            try:
                await health.read_outbox(health.now_ms())  # the one gauge that needs the store
            except Exception as e:  # a slow store must not hide every other metric
                log.warning("metrics: outbox not read: %s", type(e).__name__)
            return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

        self.app.router.add_get("/healthz", healthz)
        self.app.router.add_get("/metrics", metrics_page)

    def serve_webhook(self, path: str, handler: WebhookHandler) -> str:
        """Route Telegram's POSTs on `path` to the bot; returns the route as served."""
        route = "/" + path.strip("/")

        async def webhook(request: web.Request) -> web.Response:
            body = await request.read()
            status = await handler(request.headers.get(SECRET_HEADER), body)
            return web.Response(status=status)

        self.app.router.add_post(route, webhook)
        return route

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the bound one, when 0 asked for any
        log.info("http server listening on %s:%d (/healthz, /metrics)", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
