"""The command line as a user meets it: `liqbot init`, `check-config`, `run` (subprocesses)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.offline import LIVE_SOURCES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = ""):
    base = {k: v for k, v in os.environ.items() if not k.startswith("LIQBOT_")}
    for k in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "COINGLASS_API_KEY", "DATABASE_URL"):
        base.pop(k, None)
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=base | (env or {}),
    )


def test_init_writes_the_example_and_never_overwrites(tmp_path: Path) -> None:
    res = _cli("init", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "config.yaml").read_text() == EXAMPLE.read_text()
    assert res.stdout.strip() == (
        "wrote config.yaml: every key is optional; check it with: liqbot check-config config.yaml"
    )
    (tmp_path / "config.yaml").write_text("limits: {subscriptions_per_chat: 3}\n")
    again = _cli("init", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip() == "liqbot: config.yaml already exists; not overwriting it"
    assert (tmp_path / "config.yaml").read_text() == "limits: {subscriptions_per_chat: 3}\n"
    assert _cli("init", "deploy/mine.yaml", cwd=tmp_path).returncode == 0
    assert (tmp_path / "deploy" / "mine.yaml").read_text() == EXAMPLE.read_text()


def test_check_config_says_where_each_value_comes_from(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("alerts:\n  min_quiet: 5m\n")
    env = {"LIQBOT_ALERTS__REARM_RATIO": "0.7", "TELEGRAM_BOT_TOKEN": "123456:very-secret"}
    res = _cli("check-config", cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    table = res.stdout.split("where each value comes from:\n", 1)[1].split("\n\n", 1)[0]
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in table.splitlines()}
    assert rows["alerts.rearm_ratio"] == ["0.7", "environment (LIQBOT_ALERTS__REARM_RATIO)"]
    assert rows["alerts.min_quiet"] == ["300", "file (config.yaml)"]
    assert rows["alerts.tick"] == ["10", "default"]
    assert rows["TELEGRAM_BOT_TOKEN"] == ["set", "environment"]
    assert rows["DISCORD_BOT_TOKEN"] == ["not", "set"]
    assert "very-secret" not in res.stdout + res.stderr
    assert res.stdout.endswith("config OK (config.yaml)\n")


def test_an_unreachable_postgresql_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://u:pw-Secret-77@127.0.0.1:{port}/liqbot"
    res = _cli("run", cwd=tmp_path, env={"DATABASE_URL": url})
    assert res.returncode == 1
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("liqbot: ")]
    assert len(lines) == 1 and lines[0].startswith(
        f"liqbot: cannot connect to PostgreSQL at postgresql://u:***@127.0.0.1:{port}/liqbot: "
    )
    assert "Traceback" not in res.stderr
    assert "pw-Secret-77" not in res.stdout + res.stderr
    check = _cli("check-config", cwd=tmp_path, env={"DATABASE_URL": url})
    assert "storage.url" in check.stdout and "pw-Secret-77" not in check.stdout + check.stderr


def test_run_on_defaults_says_so_and_keeps_logs_off_the_chat(tmp_path: Path) -> None:
    # no config.yaml: the defaults, with the live feeds switched off from the environment
    feeds = (
        "BINANCE",
        "BYBIT",
        "BYBIT_INVERSE",
        "OKX",
        "GATE",
        "BITGET",
        "BITMEX",
        "HTX",
        "DERIBIT",
    )
    env = {f"LIQBOT_SOURCES__{v}__ENABLED": "false" for v in feeds}
    env |= {"LIQBOT_LOGGING__FORMAT": "json", "LIQBOT_LOGGING__LEVEL": "DEBUG"}
    res = _cli("run", cwd=tmp_path, env=env, stdin="/status\nquit\n")
    assert res.returncode == 0, res.stderr
    banner = res.stdout.split("\n\n", 1)[0].splitlines()
    assert banner[0] == (
        "liqbot run: no config.yaml: running on the defaults (liqbot init writes a documented one);"
        " from the environment: LIQBOT_LOGGING__FORMAT, LIQBOT_LOGGING__LEVEL,"
        " LIQBOT_SOURCES__BINANCE__ENABLED, LIQBOT_SOURCES__BITGET__ENABLED,"
        " LIQBOT_SOURCES__BITMEX__ENABLED, LIQBOT_SOURCES__BYBIT_INVERSE__ENABLED,"
        " LIQBOT_SOURCES__BYBIT__ENABLED,"
        " LIQBOT_SOURCES__DERIBIT__ENABLED, LIQBOT_SOURCES__GATE__ENABLED,"
        " LIQBOT_SOURCES__HTX__ENABLED,"
        " LIQBOT_SOURCES__OKX__ENABLED"
    )
    assert "source binance: off" in banner and "telegram: off (no TELEGRAM_BOT_TOKEN)" in banner
    assert banner[-3:] == [
        "console: this terminal is a chat (try /liqs, /status, /help)",
        "logs: stderr",
        "type quit or press Ctrl+C to stop",
    ]
    assert "Status\nNo data source is configured." in res.stdout  # the chat answered
    # every log line is on stderr, one JSON object each; none reached the chat's stdout
    records = [json.loads(line) for line in res.stderr.splitlines() if line.strip()]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert '"level"' not in res.stdout and " DEBUG " not in res.stdout
    assert (tmp_path / "data" / "liqbot.sqlite3").exists()


def test_console_in_a_terminal_keeps_log_lines_out_of_the_chat(tmp_path: Path) -> None:
    # stdin is a terminal: the log goes to liqbot.log beside the SQLite file, not over the prompt
    import pty
    import select
    import time

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQBOT_")}
    # every live source off but binance (tests/offline.py), which points at a closed port
    env |= {f"LIQBOT_SOURCES__{n.upper()}__ENABLED": "false" for n in LIVE_SOURCES}
    env |= {
        "PYTHONPATH": str(ROOT),
        "LIQBOT_SOURCES__BINANCE__ENABLED": "true",
        "LIQBOT_SOURCES__BINANCE__URL": "ws://127.0.0.1:9/ws",  # refused at once: a warning
    }
    for k in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "COINGLASS_API_KEY", "DATABASE_URL"):
        env.pop(k, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    os.close(slave)
    log = tmp_path / "data" / "liqbot.log"
    out = b""
    deadline = time.monotonic() + 30
    try:
        while b"to stop\n" not in out and time.monotonic() < deadline:  # the banner is out
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            if ready:
                out += os.read(proc.stdout.fileno(), 65536)  # type: ignore[union-attr]
        while time.monotonic() < deadline and "binance" not in (
            log.read_text() if log.exists() else ""
        ):
            select.select([], [], [], 0.1)  # wait for the source's first failure to be logged
        os.write(master, b"quit\n")
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = (out + rest).decode()
    assert proc.returncode == 0, err.decode()
    assert "logs: data/liqbot.log\ntype quit or press Ctrl+C to stop" in text
    assert "WARNING" in log.read_text() and "binance" in log.read_text()
    assert "WARNING" not in text and "binance down" not in text
    assert err.decode() == ""


def test_banner_without_a_console_says_how_to_stop() -> None:
    from bot.cli import run_banner
    from bot.config import Config, Secrets
    from bot.config.settings import Loaded

    loaded = Loaded(Config(), Secrets(telegram_token="123456:abcdef"), {}, Path("c.yaml"))
    lines = run_banner(loaded, console=False, log_target="stderr").splitlines()
    assert lines[0] == "liqbot run: config: c.yaml"
    assert "telegram: on" in lines and "console: this terminal is a chat" not in "\n".join(lines)
    assert lines[-2:] == ["logs: stderr", "stop with SIGINT or SIGTERM"]
    assert "abcdef" not in "\n".join(lines)
