"""What every table group's mixin of Database calls: declared here, provided by Database."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.store.backend import Backend
    from bot.store.outbox_parts import BodyCache


def _guess_kind(chat_key: str) -> str:
    """A chat kind from its key, for chats first seen outside an adapter (config, migration)."""
    if chat_key.startswith("telegram:-"):
        return "group"
    if chat_key.startswith("discord:channel:"):
        return "channel"
    return "private"


def _now_ms(now_ms: int | None) -> int:
    return int(time.time() * 1000) if now_ms is None else now_ms


class QueryHelpers:
    """The helpers of Database the mixins (chats.py, subscriptions.py, outbox.py) use."""

    if TYPE_CHECKING:  # provided by Database and ReplicaQueries
        _backend: Backend
        body_cache: BodyCache
        fencing: Callable[[], int | None] | None
        on_chat_migrated: list[Callable[[str, str], object]]

        @property
        def dialect(self) -> str: ...
        def _tx(self) -> AbstractAsyncContextManager[Any]: ...
        async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
        async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
        async def _write(self, sql: str, params: Sequence[Any] = ()) -> int: ...
        async def _leader_write(self, sql: str, params: Sequence[Any]) -> int: ...
        async def _rules_changed(self, c: Any, chat_key: str) -> None: ...
        @asynccontextmanager  # the same type as ReplicaQueries'
        async def _leader_tx(self) -> AsyncIterator[Any]:
            yield
