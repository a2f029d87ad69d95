"""Rows the store hands out and takes in (plain frozen data, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.aggregate import BucketRow  # the aggregator owns the bucket type
from bot.domain.alert_parts import PartsMessage
from bot.domain.message import Message

__all__ = ["BucketRow", "ChatRow", "GapRow", "OutboxItem", "OutboxRow"]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A message to enqueue; `dedupe_key` makes enqueueing it twice a no-op."""

    chat_key: str
    message: Message | PartsMessage  # parts: stored once per tick and chat (see outbox_parts)
    dedupe_key: str
    created_ms: int
    expires_ms: int | None = None  # dropped, not sent, after this (an alert: created + window)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A pending outbox row as delivery sees it."""

    id: int
    chat_key: str
    message: Message
    attempts: int
    created_ms: int


@dataclass(frozen=True, slots=True)
class ChatRow:
    chat_key: str
    kind: str
    paused_reason: str | None
    created_ms: int
    paused_ms: int | None = None


@dataclass(frozen=True, slots=True)
class GapRow:
    source: str
    start_ms: int
    end_ms: int
