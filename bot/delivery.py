"""Delivery of outbox messages to the platforms: the Sender port and its outcomes.

The Delivery loop (draining the outbox) lives below these types.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.domain.message import Message


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # transient: network, 5xx, 429; try again after `retry_after` seconds
    PERMANENT = "permanent"  # blocked, kicked, chat gone: pause the chat
    MIGRATED = "migrated"  # the chat has a new key (Telegram group -> supergroup)


@dataclass(frozen=True, slots=True)
class SendOutcome:
    outcome: Outcome
    retry_after: float = 0.0
    reason: str = ""
    new_chat_key: str = ""

    @classmethod
    def sent(cls) -> SendOutcome:
        return cls(Outcome.SENT)

    @classmethod
    def retry(cls, after_s: float = 0.0, reason: str = "") -> SendOutcome:
        return cls(Outcome.RETRY, retry_after=after_s, reason=reason)

    @classmethod
    def permanent(cls, reason: str) -> SendOutcome:
        return cls(Outcome.PERMANENT, reason=reason)

    @classmethod
    def migrated(cls, new_chat_key: str, reason: str = "") -> SendOutcome:
        return cls(Outcome.MIGRATED, new_chat_key=new_chat_key, reason=reason)


class Sender(Protocol):
    platform: str

    async def send(self, chat_key: str, message: Message) -> SendOutcome:
        """Deliver one message; never raises: every failure is an outcome."""
        ...


def platform_of(chat_key: str) -> str:
    return chat_key.split(":", 1)[0]
