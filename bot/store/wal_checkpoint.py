"""The SQLite store's WAL checkpoints, run beside the writer instead of inside its commits.

SQLite's automatic checkpoint runs inside the COMMIT that leaves the WAL past its threshold
(1,000 pages by default), on the writing connection: after a crash tick, whose one transaction
writes ~42,000 pages, that COMMIT took ~130 ms instead of ~27 ms, all of it on the tick's path
(issue 18). So the writer's own threshold is raised far above any tick (`BACKSTOP_PAGES`, still
there should this one fall behind or fail), and after each commit a second connection, on its
own worker thread, copies the WAL into the database file: PASSIVE, it waits for no reader or
writer and never blocks them, and SQLite lets go of the GIL while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aiosqlite

log = logging.getLogger(__name__)

# The writer's own automatic checkpoint, as a backstop: ~400 MB of WAL at 4 KB pages, over twice
# what the 1,000,000-rule crash tick writes in its one transaction.
BACKSTOP_PAGES = 100_000
# Between two checkpoints while commits keep coming (a fan-out marks rows many times a second).
PAUSE_S = 0.1


class SideCheckpoint:
    """Checkpoints the WAL of the file at `path` after commits, one at a time, on a connection
    of its own opened at the first one."""

    def __init__(
        self, path: str, connect: Callable[[str], Awaitable[aiosqlite.Connection]]
    ) -> None:
        self._path = path
        self._connect = connect
        self._conn: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False  # a commit came while a checkpoint ran
        self._failing = False  # said once per failure, not per commit
        self.done = 0  # checkpoints run (the tests read it)

    def committed(self) -> None:
        """A commit on the writer: checkpoint soon (now, or after the one running)."""
        if self._task is not None:
            self._again = True
            return
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            while True:
                self._again = False
                await self._checkpoint()
                if not self._again:
                    return
                await asyncio.sleep(PAUSE_S)
        finally:
            self._task = None

    async def _checkpoint(self) -> None:
        try:
            if self._conn is None:
                self._conn = await self._connect(self._path)
            await self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # the backstop still bounds the WAL: say so, do not fail the commit
            if not self._failing:
                log.warning("checkpointing the SQLite WAL beside the writer failed", exc_info=True)
            self._failing = True
            return
        if self._failing:
            log.info("checkpointing the SQLite WAL beside the writer works again")
        self._failing = False
        self.done += 1

    async def wait(self) -> None:
        """Until no checkpoint runs (tests)."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def close(self) -> None:
        """Stop checkpointing and close its connection (before the writer closes: the last
        connection to close checkpoints what is left and removes the WAL)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
