"""Logging set-up: readable lines or JSON, to stderr or a file, and no secret ever printed."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Masks every secret in a record's final text (message and traceback alike)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if len(s) >= 6)

    def _mask(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg, record.args = self._mask(record.getMessage()), None
        if record.exc_info:  # render the traceback now, masked; formatters print exc_text
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self._mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self._mask(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False)


class QuietScheduler(logging.Filter):
    """APScheduler's expected skips: a poked job that is still running is not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def setup_logging(
    level: str, secrets: Iterable[str] = (), *, fmt: str = "text", file: str = ""
) -> None:
    """Every record through one handler: stderr, or `file` (appended), masked, text or JSON."""
    if file:
        Path(file).expanduser().parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(Path(file).expanduser(), encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    handler.addFilter(QuietScheduler())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL, and Telegram's carry the token; APScheduler logs each run
    for noisy in ("httpx", "httpcore", "apscheduler", "websockets", "discord.gateway"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.getLogger("apscheduler.executors.default").setLevel(logging.ERROR)
