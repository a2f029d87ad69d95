"""`python -m bot run --config PATH` as a child process, for whole-life tests.

The child gets a minimal environment (no secret of the developer's shell leaks in), its stderr
(the service's log) is collected line by line, and its clock can be shifted forward by the test
(see clockshift/sitecustomize.py). Nothing here sleeps: waits are on log lines or the exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

CLOCKSHIFT = Path(__file__).resolve().parent / "clockshift"
REPO = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """One configured service; each `start()` is a new process on the same config and files."""

    def __init__(self, workdir: Path, config: dict[str, Any], env: dict[str, str]) -> None:
        self.workdir = workdir
        self.config_path = workdir / "config.yaml"
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.clock_file = workdir / "clock-shift-ms"
        self.shift_ms = 0
        self._write_shift()
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(CLOCKSHIFT),
            "TEST_LIQBOT_CLOCK_FILE": str(self.clock_file),
            "MPLCONFIGDIR": str(workdir / "mpl"),  # matplotlib's cache, off the home directory
            "HOME": str(workdir),
            **env,
        }
        self.proc: asyncio.subprocess.Process | None = None
        self.logs: list[list[str]] = []  # stderr lines of every run, in order
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()

    # ---- life ------------------------------------------------------------------------------
    async def start(self) -> None:
        assert self.proc is None or self.proc.returncode is not None, "already running"
        self.logs.append([])
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(self.config_path),
            cwd=REPO,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read(self.proc, self.logs[-1]))

    async def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a supervisor stops a worker; returns the exit code."""
        return await self._signal(signal.SIGTERM, timeout)

    async def kill(self, timeout: float = 30.0) -> int:
        """SIGKILL: no goodbye, nothing flushed."""
        return await self._signal(signal.SIGKILL, timeout)

    async def _signal(self, sig: int, timeout: float) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, timeout)  # the whole log, to its last line
        return code

    async def close(self) -> None:
        """Never leave a child behind, whatever the test did."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.proc.wait(), 10)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    # ---- the clock ---------------------------------------------------------------------------
    def shift_clock(self, ms: int) -> None:
        """Move the service's clock forward by `ms` (the running process and later ones)."""
        self.shift_ms += ms
        self._write_shift()

    def now_ms(self) -> int:
        """The service's clock, as the child sees it."""
        return int(time.time() * 1000) + self.shift_ms

    def _write_shift(self) -> None:
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(str(self.shift_ms), encoding="ascii")
        os.replace(tmp, self.clock_file)  # atomic: the child never reads half a number

    # ---- the log -----------------------------------------------------------------------------
    async def _read(self, proc: asyncio.subprocess.Process, into: list[str]) -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            async with self._changed:
                into.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def wait_log(self, pred: Callable[[str], bool], timeout: float = 30.0) -> str:
        """Wait for a line of the current run's log that matches; fails if the process exits."""
        lines = self.logs[-1]
        proc = self.proc
        assert proc is not None

        def found() -> str | None:
            return next((line for line in lines if pred(line)), None)

        def done() -> bool:
            return found() is not None or (self._reader is not None and self._reader.done())

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(done), timeout)
        line = found()
        assert line is not None, "the service exited:\n" + "\n".join(lines[-30:])
        return line

    def log_text(self) -> str:
        return "\n".join("\n".join(run) for run in self.logs)
