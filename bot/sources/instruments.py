"""Instrument lists over REST, shared by the streaming sources: one GET, one refresh loop.

A venue module says what to fetch and how to parse it (pure, in bot.domain.venues); this
keeps the HTTP and the periodic refresh (hourly, or soon after an unknown symbol appears)
in one place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bot.domain.frames import FrameError

log = logging.getLogger(__name__)

REFRESH_ERRORS = (httpx.HTTPError, FrameError, ValueError, OSError)


async def get_json(url: str, params: dict[str, str] | None, timeout_s: float) -> Any:
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        r = await client.get(url, params=params)
        r.raise_for_status()
        return r.json()


async def refresh_forever(
    name: str,
    refresh: Callable[[], Awaitable[None]],
    every_s: float,
    wanted: asyncio.Event,
    min_gap_s: float = 60.0,
) -> None:
    """Call `refresh` every `every_s`, or soon after `wanted` is set; never raises."""
    while True:
        try:
            async with asyncio.timeout(every_s):
                await wanted.wait()
        except TimeoutError:
            pass
        wanted.clear()
        try:
            await refresh()
        except REFRESH_ERRORS as e:
            log.warning("%s: instrument refresh failed: %s", name, e)
        await asyncio.sleep(min(min_gap_s, every_s))  # at most one refresh a minute
