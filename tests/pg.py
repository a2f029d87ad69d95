"""A throwaway PostgreSQL server for tests and benchmarks: a real one, nothing mocked.

`PgServer.start()` runs initdb in a temporary directory and starts `postgres` on a free port of
127.0.0.1 (its unix socket stays in that directory too); `stop()` shuts it down and removes it.
initdb and postgres refuse to run as root, so as root (CI) they run as the `postgres` user.

The binaries are found through `pg_config --bindir`, then /usr/lib/postgresql/<newest>/bin,
then PATH. Without them the PostgreSQL tests skip, saying why, except under CI=true, where
they fail: CI must not pass by silently testing SQLite alone.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Fast and disposable for tests: losing the data on a power cut does not matter here.
TEST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def find_bindir() -> Path | None:
    """The directory holding initdb and postgres, or None."""
    candidates: list[Path] = []
    try:
        out = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, timeout=10, check=True
        )
        candidates.append(Path(out.stdout.strip()))
    except (OSError, subprocess.SubprocessError):
        pass

    def version(p: str) -> float:
        try:
            return float(Path(p).parent.name)
        except ValueError:
            return 0.0

    candidates += [
        Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version)[::-1]
    ]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for d in candidates:
        if (d / "initdb").is_file() and (d / "postgres").is_file() and (d / "pg_ctl").is_file():
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One temporary cluster; `url(db)` addresses a database on it (user postgres)."""

    def __init__(self, bindir: Path, settings: tuple[str, ...] = TEST_SETTINGS) -> None:
        self.bindir = bindir
        self.settings = settings
        self.root = Path(tempfile.mkdtemp(prefix="liqbot-pg-"))
        self.data = self.root / "data"
        self.port = 0
        # TCP asks for a password (so the tests see one in every URL, and its redaction);
        # the unix socket in `root` trusts the local tools (createdb)
        self.password = "pw-" + uuid.uuid4().hex[:16]
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = [_runuser(), "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}")

    def start(self) -> PgServer:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", f"--pwfile={pwfile}",
            "--auth-local=trust", "--auth-host=scram-sha-256",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        options = [f"-c {s}" for s in self.settings]
        for attempt in range(3):  # another process may take the free port before we bind it
            self.port = _free_port()
            opts = " ".join(
                [f"-p {self.port}", "-c listen_addresses=127.0.0.1",
                 f"-c unix_socket_directories={self.root}", *options]
            )  # fmt: skip
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                    "-o", opts, "-w", "-t", "60", "start",
                )  # fmt: skip
                return self
            except RuntimeError:
                if attempt == 2:
                    log = (self.root / "server.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"postgres did not start:\n{log}") from None
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        self._run("createdb", "-h", str(self.root), "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    async def create_schema(self) -> str:
        """A new empty schema in the `postgres` database; returns a URL whose connections use it
        (`?search_path=`): a fresh store per test in milliseconds, where createdb takes ~0.5 s."""
        import asyncpg  # the test dependency of the PostgreSQL store only

        name = "t_" + uuid.uuid4().hex[:12]
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f"CREATE SCHEMA {name}")
        finally:
            await conn.close()
        return f"{self.url()}?search_path={name}"

    def stop(self) -> None:
        try:
            if self.port:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def unavailable_reason() -> str:
    return (
        "PostgreSQL not found (no pg_config --bindir, /usr/lib/postgresql/*/bin or initdb on "
        "PATH): install Debian's `postgresql` package to run the PostgreSQL store tests"
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server (skips without one, fails under CI=true)."""
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true but " + unavailable_reason(), pytrace=False)
        pytest.skip(unavailable_reason())
    server = PgServer(bindir).start()
    try:
        yield server
    finally:
        server.stop()


def _runuser() -> str:
    """util-linux's runuser, also when /usr/sbin is not on PATH (a bare `env -i` shell)."""
    found = shutil.which("runuser")
    if found:
        return found
    for p in ("/usr/sbin/runuser", "/sbin/runuser"):
        if os.path.exists(p):
            return p
    return "runuser"  # not installed: the FileNotFoundError names it
