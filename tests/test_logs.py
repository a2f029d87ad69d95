"""Log output: text or one JSON object per line, to stderr or a file, secrets masked in both."""

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ops.logs import setup_logging

TOKEN = "123456:SECRET-token-value"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for h in root.handlers:
        h.close()
    root.handlers[:], root.level = handlers, level


def _emit() -> None:
    log = logging.getLogger("bot.test")
    log.info("POST https://api.telegram.org/bot%s/getMe", TOKEN)
    try:
        raise RuntimeError(f"failed with {TOKEN}")
    except RuntimeError:
        log.exception("send failed")
    # APScheduler's expected skip when a poked job still runs: not news, not shown
    logging.getLogger("apscheduler.scheduler").warning(
        'Execution of job "drain" skipped: maximum number of running instances reached (1)'
    )
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed by 0:00:03")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_are_masked_in_both_formats(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "logs" / "liqbot.log"  # logging.file: its directory is created
    setup_logging("INFO", [TOKEN], fmt=fmt, file=str(out))
    _emit()
    text = out.read_text()
    assert TOKEN not in text
    assert "maximum number of running instances" not in text and "was missed by" in text
    if fmt == "text":
        assert "/bot***/getMe" in text and "RuntimeError: failed with ***" in text
        return
    lines = [json.loads(line) for line in text.splitlines()]  # one object per line
    assert [r["level"] for r in lines] == ["INFO", "ERROR", "WARNING"]
    first, second = lines[0], lines[1]
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["logger"] == "bot.test"
    assert first["message"] == "POST https://api.telegram.org/bot***/getMe"
    assert first["time"].endswith("+00:00")
    assert second["message"] == "send failed"
    assert second["exception"].startswith("Traceback") and second["exception"].endswith(
        "RuntimeError: failed with ***"
    )


def test_json_without_secrets_keeps_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", [], fmt="json")  # stderr by default
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logging.getLogger("bot.x").exception("tick failed")
    record = json.loads(capsys.readouterr().err.strip())
    assert record["message"] == "tick failed" and "ZeroDivisionError" in record["exception"]
