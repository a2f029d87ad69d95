"""One service per SQLite file: an exclusive lock on `<file>.lock`, held while the store is open.

Two `liqbot run` on one file would both lead (SQLite has no leader election): both evaluate,
both send every alert. The service's store takes this lock as it opens (`Database.open(...,
exclusive=True)`, which `app.build` uses); the second service is refused at once with one line.
Other opens (a test's look at the file, a tool reading it) take no lock; `check-config` and
`history` do not open the store at all.

flock(2) on a file of its own rather than on the database: SQLite's own locks are POSIX record
locks on the database file, which flock must not meet (on NFS, flock is emulated with them). The
kernel drops the lock when the process ends, however it ends (SIGKILL included), so there is no
stale lock to clean up; the file stays (removing it would race with a process opening it).
"""

from __future__ import annotations

import contextlib
import os

from bot.store.location import StoreUnavailableError

try:
    import fcntl
except ImportError:  # not a POSIX system: no lock (the service is deployed on Linux)
    fcntl = None  # type: ignore[assignment]


class StoreInUseError(StoreUnavailableError):
    """Another running service holds this SQLite file."""


class ServiceLock:
    """The held lock; `release()` (or the process's end) frees it."""

    def __init__(self, fd: int, path: str) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def take(cls, db_path: str) -> ServiceLock | None:
        """Lock `<db_path>.lock` or raise StoreInUseError naming the holder's pid."""
        if fcntl is None:
            return None
        path = f"{db_path}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise StoreUnavailableError(f"cannot open the lock file {path}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _holder(fd)
            os.close(fd)
            if isinstance(e, BlockingIOError):
                raise StoreInUseError(
                    f"another liqbot is already running on {db_path}{holder}: stop it first, "
                    "or give this one its own storage.path (replicas need PostgreSQL: "
                    "docs/scaling.md)"
                ) from None
            raise StoreUnavailableError(f"cannot lock {path}: {e.strerror}") from None
        with contextlib.suppress(OSError):  # who holds it, for the next one's message
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor frees the lock
            self._fd = None


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(os.pread(fd, 32, 0).split()[0])
        return f" (pid {pid})"
    return ""
