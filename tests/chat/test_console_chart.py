"""The console shows a /chart picture as a file in the temp dir, its path beside the text."""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import pytest

from bot.charts import PNG_SIGNATURE
from bot.chat.console import ConsoleChat
from bot.chat.service import CommandService
from bot.domain.rules import RuleBook
from bot.store import BucketRow, Database
from tests.chat.test_service import FakeMarket

T = 1768313100000


async def test_chart_is_written_to_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    db = await Database.open(tmp_path / "bot.db")
    try:
        await db.upsert_buckets([BucketRow(T // 60_000 * 60_000, "ETH", "okx", 1e6, 2e6)])
        out = io.StringIO()
        chat = ConsoleChat(CommandService(db, FakeMarket(), RuleBook(), clock=lambda: T), out)
        await chat.handle_line("chart eth 2h")
    finally:
        await db.close()
    text = out.getvalue()
    assert "ETH liquidations, last 2h (UTC)" in text
    m = re.search(r"^Chart: (.+\.png)$", text, re.M)
    assert m is not None, text
    path = Path(m.group(1))
    assert path.parent == tmp_path and path.read_bytes().startswith(PNG_SIGNATURE)
