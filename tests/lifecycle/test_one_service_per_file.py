"""Two `liqbot run` on one SQLite file would both lead (both evaluate, both send every alert):
the second is refused with one line and exits 1. A SIGKILLed holder leaves no stale lock (the
kernel frees it), and read-only commands (`check-config`) never need it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.lifecycle.process import REPO, ServiceProcess
from tests.offline import sources_off


def _config(db: Path) -> dict[str, Any]:
    return {
        "storage": {"path": str(db)},
        "sources": sources_off(),
        "telegram": {"enabled": False},
        "discord": {"enabled": False},
        "console": {"enabled": "off"},
        "logging": {"level": "INFO"},
    }


def _running(line: str) -> bool:
    return line.startswith("liqbot run:") or "bot.runtime.app: liqbot run:" in line


async def test_a_second_service_on_the_same_file_is_refused_until_the_first_dies(
    tmp_path: Path,
) -> None:
    db = tmp_path / "shared" / "liqbot.sqlite3"
    first = ServiceProcess(_mkdir(tmp_path / "first"), _config(db), {})
    second = ServiceProcess(_mkdir(tmp_path / "second"), _config(db), {})
    try:
        await first.start()
        await first.wait_log(_running)
        assert first.proc is not None

        await second.start()
        assert second.proc is not None
        assert await asyncio.wait_for(second.proc.wait(), 30) == 1
        await second.terminate()  # collects its whole log
        assert second.logs[-1] == [
            f"liqbot: another liqbot is already running on {db} (pid {first.proc.pid}): stop "
            "it first, or give this one its own storage.path (replicas need PostgreSQL: "
            "docs/scaling.md)"
        ]
        assert first.proc.returncode is None  # the first one goes on

        # a read-only command on the same config while the service holds the file
        check = subprocess.run(
            [sys.executable, "-m", "bot", "check-config", str(first.config_path)],
            cwd=REPO, env=first.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert check.returncode == 0, check.stderr

        assert await first.kill() == -9  # no goodbye: the kernel frees the lock
        await second.start()
        await second.wait_log(_running)
        assert await second.terminate() == 0
        assert "Traceback" not in first.log_text() + second.log_text()
    finally:
        await first.close()
        await second.close()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path
