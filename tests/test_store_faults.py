"""A store `liqbot run` cannot use, as an operator meets it (subprocesses): a damaged or foreign
SQLite file, one from a newer version, a malformed DATABASE_URL. Each is one line on stderr, no
traceback, no password: exit 1 for the store (the supervisor may retry), 2 for a bad config
(it may not: deploy/liqbot.service's RestartPreventExitStatus=2)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.domain.models import Side
from bot.store import Database
from tests.offline import sources_off

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "secret-Pw-91"


def _run(cwd: Path, store: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    config = {
        "storage": {"path": store},
        "sources": sources_off(),
        "telegram": {"enabled": False},
        "discord": {"enabled": False},
        "console": {"enabled": "off"},
    }
    (cwd / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if not k.startswith("LIQBOT_")}
    for k in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "COINGLASS_API_KEY", "DATABASE_URL"):
        base.pop(k, None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=cwd, capture_output=True, text=True, timeout=60,
        env=base | {"PYTHONPATH": str(ROOT)} | (env or {}),
    )  # fmt: skip


def _one_line(res: subprocess.CompletedProcess, code: int) -> str:
    assert res.returncode == code, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("liqbot: ")
    return lines[0]


def _real_store(path: Path, rows: int = 400) -> None:
    """A store as the bot writes it, big enough to damage in the middle."""

    async def fill() -> None:
        db = await Database.open(path)
        try:
            for i in range(rows):
                await db.add_subscription(f"telegram:{i}", "BTC", 60, Side.LONG, 1e6, 0)
        finally:
            await db.close()

    asyncio.run(fill())


DAMAGED = (
    "the file is damaged or not a liqbot store; restore it from a backup, or move it aside to "
    "start with an empty one"
)


def test_a_file_of_garbage_bytes(tmp_path: Path) -> None:
    (tmp_path / "liqbot.sqlite3").write_bytes(os.urandom(8192))
    line = _one_line(_run(tmp_path, "liqbot.sqlite3"), 1)
    assert (
        line
        == f"liqbot: cannot use the SQLite file liqbot.sqlite3: file is not a database: {DAMAGED}"
    )


@pytest.mark.parametrize("damage", ["truncated", "pages overwritten"])
def test_a_damaged_store(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "liqbot.sqlite3"
    _real_store(path)
    size = path.stat().st_size
    assert size > 40 * 4096
    with path.open("r+b") as f:
        if damage == "truncated":
            f.truncate(size // 3)
        else:  # the middle of the file, where the subscriptions' pages are
            f.seek(4096 * 8)
            f.write(b"\xff" * 4096 * 24)
    line = _one_line(_run(tmp_path, "liqbot.sqlite3"), 1)
    assert line == (
        f"liqbot: cannot use the SQLite file liqbot.sqlite3: database disk image is malformed: "
        f"{DAMAGED}"
    )


def test_a_store_from_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "liqbot.sqlite3"
    _real_store(path, rows=1)
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 999")
    line = _one_line(_run(tmp_path, "liqbot.sqlite3"), 1)
    assert line.startswith("liqbot: database schema version 999 is newer than this code knows")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"postgresql://u:{PASSWORD}@[bad", "malformed PostgreSQL URL (a [ without its ])"),
        (f"postgresql://u:{PASSWORD}@db:port/x", "malformed PostgreSQL URL (a port that is not"),
        (f"postgresql://u:{PASSWORD}@db:99999/x", "malformed PostgreSQL URL (a port outside"),
        # an unencoded / in the password ends the host part: "u:sec", whose "port" is "sec"
        ("postgresql://u:sec/ret-Pw-91@db/x", "malformed PostgreSQL URL (a port that is not"),
        (f"mysql://u:{PASSWORD}@db/x", "DATABASE_URL must look like sqlite:///"),
        (f"://u:{PASSWORD}@db", "DATABASE_URL must look like sqlite:///"),
    ],
)
def test_a_malformed_database_url_is_a_bad_config(tmp_path: Path, url: str, says: str) -> None:
    res = _run(tmp_path, "liqbot.sqlite3", {"DATABASE_URL": url})
    line = _one_line(res, 2)
    assert says in line
    for secret in (PASSWORD, "sec/ret", "ret-Pw"):
        assert secret not in res.stdout + res.stderr
