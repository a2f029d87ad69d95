"""`liqbot run` on PostgreSQL, as a user starts it: DATABASE_URL, a subscription made in the
console chat, and the same subscription still there after a restart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.offline import LIVE_SOURCES
from tests.pg import PgServer

ROOT = Path(__file__).resolve().parents[2]


def run(cwd: Path, url: str, stdin: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQBOT_")}
    for k in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "COINGLASS_API_KEY"):
        env.pop(k, None)
    # every source off (whatever venues the config knows): no test reaches the internet
    env |= {f"LIQBOT_SOURCES__{v.upper()}__ENABLED": "false" for v in LIVE_SOURCES}
    env |= {"DATABASE_URL": url, "PYTHONPATH": str(ROOT), "LIQBOT_LOGGING__LEVEL": "DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=cwd, input=stdin, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_run_keeps_subscriptions_in_postgresql(pg_server: PgServer, tmp_path: Path) -> None:
    url = pg_server.create_database()
    first = run(tmp_path, url, "/subscribe btc 1h 100m\nquit\n")
    assert first.returncode == 0, first.stderr
    assert "store: postgresql at postgresql://postgres:***@127.0.0.1" in first.stderr
    again = run(tmp_path, url, "/list\nquit\n")
    assert again.returncode == 0, again.stderr
    assert "#1  BTC   1h   total  $100M  armed" in again.stdout  # it survived the restart
    for res in (first, again):
        assert pg_server.password not in res.stdout + res.stderr  # DEBUG logs included
    assert not (tmp_path / "data" / "liqbot.sqlite3").exists()  # nothing went to the file
