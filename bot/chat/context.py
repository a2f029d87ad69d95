"""Who is asking, and where: what a platform adapter tells the shared command service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

ChatKind = Literal["private", "group", "channel"]


async def _yes() -> bool:
    return True


@dataclass(frozen=True)
class ChatContext:
    chat_key: str  # "telegram:123", "discord:channel:456", "console:local"
    platform: str  # "telegram", "discord", "console"
    kind: ChatKind = "private"
    # Asked only for commands that change what the chat receives (subscribe, unsubscribe, mute).
    # Adapters check the platform's admin rights here (getChatMember, Manage Channels).
    can_manage: Callable[[], Awaitable[bool]] = field(default=_yes)
    user: str = ""
    # What the adapter calls a refusal's remedy: "ask a group admin", "needs Manage Channels".
    manage_hint: str = "only the chat's admins can change its alerts"
    # The Telegram forum topic the command was sent in (message_thread_id of a topic message);
    # None: the chat itself (General, or no topics). A /subscribe there alerts into it.
    thread: int | None = None
    # The asker's client language tag (Telegram's language_code, Discord's locale): a private
    # chat's default language until /lang sets one; "" when the platform does not say.
    language: str = ""
