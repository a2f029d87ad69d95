"""Concurrent update handling for python-telegram-bot, in order within each chat.

PTB handles updates one at a time by default: a group reply waiting out the group's pacing
(one message per 3 s) holds up every other chat's commands. This processor runs updates
concurrently and serialises only those of the same chat, so a chat's commands are answered in
the order they were sent while other chats never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)

# Updates in flight at once, across all chats. Updates of one chat wait for each other while
# holding a slot: only a chat with thousands of queued commands could crowd the others out.
MAX_IN_FLIGHT = 4096


class _ChatLane:
    """One chat's lock and how many of its updates hold or wait for it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()  # FIFO: waiters acquire in the order they arrived
        self.users = 0


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Concurrent across chats, sequential (in arrival order) within one chat.

    PTB starts one task per update in arrival order; each takes its chat's lock before its
    first await, and asyncio.Lock wakes waiters first come first served, so the order holds.
    Updates without a chat (poll answers, unparsable updates) run unserialised.
    """

    def __init__(self, max_concurrent_updates: int = MAX_IN_FLIGHT) -> None:
        super().__init__(max_concurrent_updates)
        self._lanes: dict[int, _ChatLane] = {}
        self._running: set[asyncio.Task[Any]] = set()
        self._closing = False

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if self._closing:
            _discard(coroutine)  # shutting down: do not start new work
            return
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            chat_id = _chat_id(update)
            if chat_id is None:
                await coroutine
                return
            lane = self._lanes.get(chat_id)
            if lane is None:
                lane = self._lanes[chat_id] = _ChatLane()
            lane.users += 1
            try:
                async with lane.lock:
                    await coroutine
            except asyncio.CancelledError:
                _discard(coroutine)  # cancelled while waiting its turn: it never ran
                raise
            finally:
                lane.users -= 1
                if lane.users == 0:
                    del self._lanes[chat_id]  # idle chats cost nothing
        finally:
            if task is not None:
                self._running.discard(task)

    def busy_chats(self) -> int:
        """Chats with an update being handled or waiting (for tests and diagnostics)."""
        return len(self._lanes)

    async def wind_down(self, grace_s: float) -> None:
        """Stop taking new updates; give running handlers `grace_s`, then cancel the rest
        (a reply still waiting for its chat's flood pacing at shutdown is dropped)."""
        self._closing = True
        running = set(self._running)
        if not running:
            return
        _, pending = await asyncio.wait(running, timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            log.info("telegram: %d reply(ies) cancelled at shutdown", len(pending))
            await asyncio.gather(*pending, return_exceptions=True)

    async def initialize(self) -> None:
        self._closing = False

    async def shutdown(self) -> None:
        self._closing = True


def _chat_id(update: object) -> int | None:
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return None


def _discard(coroutine: Awaitable[Any]) -> None:
    close = getattr(coroutine, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):
            close()
