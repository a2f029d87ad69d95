"""Replicas in webhook mode need one shared TELEGRAM_WEBHOOK_SECRET: without it each replica
registers a random secret of its own with setWebhook, and every replica but the last answers
Telegram's POSTs with 403. `liqbot run` and `check-config` refuse that config in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.offline import sources_off

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:replica-token"
PG = "postgresql://liqbot:pw-Replica-5@127.0.0.1:9/liqbot"  # never reached: refused before
REFUSAL = (
    "liqbot: telegram.mode webhook with a PostgreSQL store (replicas) needs "
    "TELEGRAM_WEBHOOK_SECRET, the same on every replica: without it each replica makes its own "
    "and answers 403 to the updates the others registered"
)


def _cli(cwd: Path, *args: str, mode: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    config = {
        "telegram": {"mode": mode, "webhook": {"url": "https://bot.example/telegram"}},
        "sources": sources_off(),
        "discord": {"enabled": False},
        "http": {"port": 0},
    }
    (cwd / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if not k.startswith("LIQBOT_")}
    for k in ("DISCORD_BOT_TOKEN", "COINGLASS_API_KEY", "DATABASE_URL", "TELEGRAM_WEBHOOK_SECRET"):
        base.pop(k, None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60,
        env=base | {"PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": TOKEN} | env,
    )  # fmt: skip


@pytest.mark.parametrize("command", ["run", "check-config"])
def test_webhook_replicas_without_a_shared_secret_do_not_start(
    tmp_path: Path, command: str
) -> None:
    res = _cli(tmp_path, command, mode="webhook", env={"DATABASE_URL": PG})
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.splitlines() == [REFUSAL]
    assert "pw-Replica-5" not in res.stdout + res.stderr


@pytest.mark.parametrize(
    ("mode", "env"),
    [
        ("webhook", {"DATABASE_URL": PG, "TELEGRAM_WEBHOOK_SECRET": "shared-by-all"}),
        ("polling", {"DATABASE_URL": PG}),  # only the leader polls: no secret involved
        ("webhook", {}),  # SQLite: one process, its own random secret is enough
    ],
)
def test_the_configs_that_need_no_shared_secret_pass(
    tmp_path: Path, mode: str, env: dict[str, str]
) -> None:
    res = _cli(tmp_path, "check-config", mode=mode, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith("config OK (config.yaml)\n")
