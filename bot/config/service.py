"""`storage:`, `logging:`, `http:`, `replica:` and `operators:`: running the service."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from bot.config.base import Duration, Strict, normalize_chat
from bot.store.location import StoreLocationError, parse_location


class StorageConfig(Strict):
    path: str = "data/liqbot.sqlite3"
    # postgresql://user:pass@host:5432/db: the shared store (docs/scaling.md); empty: `path`
    url: str = Field("", repr=False)  # repr=False: it may hold a password
    retention_days: int = Field(7, ge=1, le=90)

    @field_validator("url")
    @classmethod
    def _store_url(cls, v: str) -> str:
        if v.strip():
            try:
                parse_location(v)
            except StoreLocationError as e:  # the message is redacted already
                raise ValueError(str(e)) from None
        return v.strip()

    @property
    def location(self) -> str:
        """What the store opens: the URL when one is set, else the SQLite file."""
        return self.url or self.path


class LoggingConfig(Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"  # json: one object per line, for log collectors
    file: str = ""  # append to this file instead of stderr (keeps the console chat readable)


class HttpConfig(Strict):
    """The operator's port: /healthz, /metrics and the Telegram webhook. $PORT wins over port."""

    # this machine only; the Docker image sets LIQBOT_HTTP__HOST=0.0.0.0 (a container needs it)
    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=0, le=65535)  # None: off (unless $PORT); 0: any free port
    stale_after: Duration = 120  # /healthz fails when no evaluation finished for this long
    no_source_for: Duration = 5 * 60  # ... when no data source has been up for this long
    outbox_stuck_after: Duration = 10 * 60  # ... when the oldest due message waited this long


class ReplicaConfig(Strict):
    """Replicas on one PostgreSQL store (docs/scaling.md); with SQLite the process just leads."""

    id: str = ""  # this replica's name in /status and /healthz; empty: hostname-pid
    poll: float = Field(1.0, ge=0.1, le=10)  # seconds between tries for (or checks of) the lock
    # seconds of silence after which PostgreSQL frees a leader's lock (frozen, machine gone)
    lease: float = Field(5.0, ge=1, le=60)

    @model_validator(mode="after")
    def _lease_covers_polls(self) -> ReplicaConfig:
        if self.lease < 2 * self.poll:
            raise ValueError("replica.lease must be at least twice replica.poll")
        return self


def _operator_list(v: Any) -> Any:
    return {"chats": v} if isinstance(v, list | tuple) else v


class OperatorsConfig(Strict):
    """Who hears of failures and recoveries (once per transition), through the outbox."""

    chats: tuple[str, ...] = ()  # Telegram chat ids, discord:<channel id>, console:local
    source_down_after: Duration = 5 * 60  # a source down this long is reported
    delivery_failing_after: Duration = 10 * 60  # a platform failing every send this long
    check_every: Duration = 15  # seconds between looks at the service's state
    heartbeat: str = ""  # "09:00": a daily "still running" message at that UTC time; "" none

    @field_validator("chats", mode="before")
    @classmethod
    def _chat_keys(cls, v: Any) -> Any:
        if isinstance(v, list | tuple):
            return tuple(normalize_chat(str(c)) for c in v)
        return v

    @field_validator("heartbeat")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        v = v.strip()
        if v:
            hh, _, mm = v.partition(":")
            if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
                raise ValueError("expected a UTC time of day like 09:00, or empty for none")
            v = f"{int(hh):02d}:{int(mm):02d}"
        return v

    @field_validator("check_every")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1 second")
        return v
