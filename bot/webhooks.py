"""Webhook delivery: the third platform. Each outbox message to `webhook:<name>` is POSTed as
JSON, signed, to the URL the config gives that name.

Receivers verify `X-Liqbot-Signature: sha256=<hex>`, the HMAC-SHA256 (key: the webhook's secret)
of `<X-Liqbot-Timestamp>.<raw body>`, and reject stale timestamps (replays). Outcomes follow the
other platforms: 2xx sent; 5xx, timeouts, network errors and 429 (honouring Retry-After) are
retried by delivery; 410 Gone pauses the webhook at once; other 4xx pause it once they persist
(`client_errors_to_pause` in a row), since a receiver that rejects every request will not start
accepting the same request later by itself. URLs may hold tokens: logs name the webhook only.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.clock import Clock
from bot.config import Config, ConfigError, Secrets
from bot.delivery import SendOutcome
from bot.domain.message import Message, plain_text

log = logging.getLogger(__name__)

PLATFORM = "webhook"
SIGNATURE_HEADER = "X-Liqbot-Signature"
TIMESTAMP_HEADER = "X-Liqbot-Timestamp"
USER_AGENT = "liqbot-webhook/1"


@dataclass(frozen=True)
class WebhookTarget:
    name: str
    url: str
    secret: str  # from the environment variable the config names; never logged
    timeout_s: float = 10.0


def chat_key(name: str) -> str:
    return f"{PLATFORM}:{name}"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value: `sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (constant-time compare); the tests' receiver uses it too."""
    if not timestamp.isdigit():
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def payload(name: str, message: Message) -> dict[str, Any]:
    """The JSON body: the message's data (an alert's fields) plus its rendered text."""
    data = dict(message.data or {})
    data.setdefault("type", "message")
    data["webhook"] = name
    data["title"] = message.title
    data["text"] = plain_text(message)
    return data


def _retry_after_s(headers: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(headers.get("Retry-After", "0") or 0))
    except ValueError:  # an HTTP date: rare; delivery's own backoff applies
        return 0.0


class WebhookSender:
    """bot.delivery.Sender for `webhook:<name>` keys. Never raises.

    `clock` gives milliseconds (the one clock) for the signed timestamp.
    """

    platform = PLATFORM

    def __init__(
        self,
        targets: Mapping[str, WebhookTarget],
        clock: Callable[[], int],
        client_errors_to_pause: int = 3,
    ) -> None:
        self.targets = dict(targets)
        self._clock = clock
        self._client_errors_to_pause = client_errors_to_pause
        self._client_errors: dict[str, int] = {}
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Nothing to connect: the session opens with the first POST."""

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        return self._session

    async def send(self, chat_key: str, message: Message) -> SendOutcome:
        name = chat_key.split(":", 1)[1] if ":" in chat_key else ""
        target = self.targets.get(name)
        if target is None:
            return SendOutcome.permanent(f"webhook '{name}' is not in the config")
        body = json.dumps(payload(name, message), separators=(",", ":"), ensure_ascii=False)
        raw = body.encode()
        ts = self._clock() // 1000
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(target.secret, ts, raw),
        }
        try:
            async with self._http().post(
                target.url,
                data=raw,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=target.timeout_s),
                allow_redirects=False,  # a redirect would resend the signed body elsewhere
            ) as resp:
                status = resp.status
                retry_after = _retry_after_s(resp.headers)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            return SendOutcome.retry(0.0, f"webhook {name}: timed out")
        except (aiohttp.ClientError, OSError) as e:
            return SendOutcome.retry(0.0, f"webhook {name}: network: {type(e).__name__}")
        except Exception as e:  # never raise into the delivery loop
            log.exception("webhook %s: unexpected send failure", name)
            return SendOutcome.retry(0.0, f"webhook {name}: unexpected: {type(e).__name__}")
        return self._outcome(name, status, retry_after)

    def _outcome(self, name: str, status: int, retry_after: float) -> SendOutcome:
        if 200 <= status < 300:
            self._client_errors.pop(name, None)
            return SendOutcome.sent()
        if status == 410:
            return SendOutcome.permanent(f"webhook {name}: 410 Gone")
        if status == 429:
            return SendOutcome.retry(retry_after, f"webhook {name}: 429 Too Many Requests")
        if status >= 500:
            return SendOutcome.retry(retry_after, f"webhook {name}: HTTP {status}")
        # 3xx (not followed) and other 4xx: the receiver rejects us; pause once it persists
        n = self._client_errors[name] = self._client_errors.get(name, 0) + 1
        if n >= self._client_errors_to_pause:
            self._client_errors.pop(name, None)
            return SendOutcome.permanent(f"webhook {name}: HTTP {status}, {n} times in a row")
        return SendOutcome.retry(0.0, f"webhook {name}: HTTP {status}")


def build_webhooks(config: Config, secrets: Secrets, clock: Clock) -> WebhookSender | None:
    """The webhook platform, or None without webhooks. A webhook without its secret in the
    environment stops the start: unsigned alerts would let anyone forge them."""
    targets = {}
    for i, w in enumerate(config.webhooks):
        secret = secrets.named(w.secret_env)
        if not secret:
            raise ConfigError(
                f"webhooks.{i}.secret_env: the environment variable {w.secret_env} is not set; "
                "it holds the key that signs each POST"
            )
        targets[w.name] = WebhookTarget(w.name, w.url, secret, float(w.timeout))
    return WebhookSender(targets, clock.now_ms) if targets else None
