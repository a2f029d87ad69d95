"""`alerts:`, `limits:`, `broadcasts:`, `webhooks:` and `digests:`: what is said and to whom."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from bot.config.base import Duration, Strict, normalize_chat
from bot.domain.command_types import CommandError, Subscribe
from bot.domain.commands import parse_command


class AlertsConfig(Strict):
    rearm_ratio: float = Field(0.8, gt=0, lt=1)  # re-arm below this share of the threshold
    min_quiet: Duration = 15 * 60  # at least this long between one episode's fire and re-arming
    escalation_factor: float = Field(2.0, gt=1, le=100)
    tick: Duration = 10  # seconds between evaluations (new data also triggers one)
    # deprecated, ignored: new data is evaluated at once (check-config says so when it is set)
    debounce: float | None = Field(None, ge=0, le=10)
    max_delivery_age: Duration = 6 * 3600  # an alert older than this is dropped, not sent
    attach_chart: bool = False  # a PNG of the alert's coin and window goes with each alert


class LimitsConfig(Strict):
    subscriptions_per_chat: int = Field(50, ge=1, le=10_000)


class Broadcast(Strict):
    # -100123 (a number in YAML), "@channel", "discord:<channel id>", "console:local"
    chat: Annotated[str, BeforeValidator(lambda v: normalize_chat(v))]
    rule: str  # written like a /subscribe line: "btc 1h 100m shorts"
    # a Telegram forum topic of that chat (its message_thread_id): the alerts go there
    topic: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _topic_on_telegram(self) -> Broadcast:
        if self.topic is not None and not self.chat.startswith("telegram:"):
            raise ValueError("topic: only a Telegram chat has forum topics")
        return self

    @field_validator("rule")
    @classmethod
    def _rule(cls, v: str) -> str:
        # validated with the rest of the file, so every mistake shows in one pass
        try:
            cmd = parse_command("/subscribe " + v)
        except CommandError as e:
            raise ValueError(str(e)) from None
        if not isinstance(cmd, Subscribe):
            raise ValueError("write it like a /subscribe line: 'btc 1h 100m shorts'")
        return v


class WebhookTargetConfig(Strict):
    """An HTTP endpoint that receives alerts as signed JSON POSTs (chat key webhook:<name>)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    url: str = Field(pattern=r"^https?://")
    rule: str  # written like a /subscribe line: "btc 1h 100m shorts"
    secret_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # the variable holding the key
    timeout: Duration = 10

    @field_validator("rule")
    @classmethod
    def _rule(cls, v: str) -> str:
        return Broadcast._rule(v)  # the same check as a broadcast's, in the same pass

    @property
    def shown_url(self) -> str:
        """The URL as printed (check-config): its scheme and host only, since webhook URLs often
        carry a token in the path or the query (https://hooks.example/T0/B0/XXXX)."""
        scheme, _, rest = self.url.partition("://")
        host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
        return f"{scheme}://{host}/…"


class DigestConfig(Strict):
    """A daily summary to a chat at a local time of day."""

    chat: Annotated[str, BeforeValidator(lambda v: normalize_chat(v))]  # webhook:<name> too
    at: str = "08:00"
    tz: str = "UTC"  # an IANA zone: Europe/Berlin, America/New_York

    @field_validator("at")
    @classmethod
    def _at(cls, v: str) -> str:
        from bot.domain.digest import DigestError, parse_local_time

        try:
            m = parse_local_time(v)
        except DigestError as e:
            raise ValueError(str(e)) from None
        return f"{m // 60:02d}:{m % 60:02d}"

    @field_validator("tz")
    @classmethod
    def _tz(cls, v: str) -> str:
        from bot.domain.digest import DigestError, parse_zone

        try:
            return parse_zone(v)  # the zone's own spelling: europe/berlin -> Europe/Berlin
        except DigestError as e:
            raise ValueError(str(e)) from None
