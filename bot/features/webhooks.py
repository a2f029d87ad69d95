"""Webhook delivery: the third platform. Each outbox message to `webhook:<name>` is POSTed as
JSON, signed, to the URL the config gives that name.

Each POST follows Standard Webhooks (https://www.standardwebhooks.com/, spec v1.0.0):
`webhook-id` (the outbox row id: the same on every retry, so receivers drop duplicates by it),
`webhook-timestamp` (unix seconds of this attempt) and `webhook-signature` (`v1,` and the base64
HMAC-SHA256 of `<id>.<timestamp>.<raw body>`; the key is the secret's bytes, or the base64 after
`whsec_` when the secret has that form). The older headers stay for existing receivers:
`X-Liqbot-Signature: sha256=<hex>`, the HMAC-SHA256 (key: the secret as given) of
`<X-Liqbot-Timestamp>.<raw body>`. Receivers reject stale timestamps (replays). Outcomes follow the
other platforms: 2xx sent; 5xx, timeouts, network errors and 429 (honouring Retry-After) are
retried by delivery; 410 Gone pauses the webhook at once; other 4xx pause it once they persist
(`client_errors_to_pause` in a row), since a receiver that rejects every request will not start
accepting the same request later by itself. URLs may hold tokens: logs name the webhook only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.config import Config, ConfigError, Secrets
from bot.domain.message import Message, plain_text
from bot.runtime.clock import Clock
from bot.runtime.delivery import SendOutcome

log = logging.getLogger(__name__)

PLATFORM = "webhook"
SIGNATURE_HEADER = "X-Liqbot-Signature"
TIMESTAMP_HEADER = "X-Liqbot-Timestamp"
STANDARD_PREFIX = "whsec_"  # Standard Webhooks' form of a symmetric secret: whsec_<base64>
USER_AGENT = "liqbot-webhook/1"


@dataclass(frozen=True)
class WebhookTarget:
    name: str
    url: str
    secret: str  # from the environment variable the config names; never logged
    timeout_s: float = 10.0

    @property
    def key(self) -> bytes:
        return standard_key(self.secret)


def chat_key(name: str) -> str:
    return f"{PLATFORM}:{name}"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value: `sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def standard_key(secret: str) -> bytes:
    """The Standard Webhooks HMAC key: `whsec_<base64>` decoded, else the secret's own bytes
    (so one secret serves both schemes; its receiver verifies with `whsec_` + base64 of it).
    ValueError for a `whsec_` secret whose rest is not base64."""
    if not secret.startswith(STANDARD_PREFIX):
        return secret.encode()
    try:
        rest = secret.removeprefix(STANDARD_PREFIX)
        return base64.b64decode(rest + "=" * (-len(rest) % 4), validate=True)  # padding optional
    except binascii.Error:
        raise ValueError("a secret starting with whsec_ must be base64 after it") from None


def standard_signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: `v1,` and the base64 HMAC-SHA256 of `<id>.<timestamp>.<body>`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


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
    """bot.runtime.delivery.Sender for `webhook:<name>` keys. Never raises.

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

    async def send(self, chat_key: str, message: Message, *, delivery_id: str = "") -> SendOutcome:
        """`delivery_id` (the outbox row id) is the webhook-id: one per message, every retry."""
        name = chat_key.split(":", 1)[1] if ":" in chat_key else ""
        target = self.targets.get(name)
        if target is None:
            return SendOutcome.permanent(f"webhook '{name}' is not in the config")
        body = json.dumps(payload(name, message), separators=(",", ":"), ensure_ascii=False)
        raw = body.encode()
        ts = self._clock() // 1000
        msg_id = delivery_id or f"liqbot_{uuid.uuid4().hex}"  # not from the outbox: unique anyway
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": standard_signature(target.key, msg_id, ts, raw),
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
    """The webhook platform, or None without webhooks."""
    targets = webhook_targets(config, secrets)
    return WebhookSender(targets, clock.now_ms) if targets else None


def webhook_targets(config: Config, secrets: Secrets) -> dict[str, WebhookTarget]:
    """Each webhook with its secret. A webhook without its secret in the environment (or with
    a `whsec_` one that is not base64) stops the start: unsigned alerts could be forged.
    check_with_secrets calls it before anything is opened."""
    targets = {}
    for i, w in enumerate(config.webhooks):
        secret = secrets.named(w.secret_env)
        if not secret:
            raise ConfigError(
                f"webhooks.{i}.secret_env: the environment variable {w.secret_env} is not set; "
                "it holds the key that signs each POST"
            )
        try:
            standard_key(secret)
        except ValueError as e:
            raise ConfigError(f"webhooks.{i}.secret_env: {w.secret_env}: {e}") from None
        targets[w.name] = WebhookTarget(w.name, w.url, secret, float(w.timeout))
    return targets
