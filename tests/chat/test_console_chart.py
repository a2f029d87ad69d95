"""The console shows a /chart picture as a file in the temp dir, its path beside the text."""

from __future__ import annotations

import asyncio
import io
import re
import tempfile
from pathlib import Path

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from bot.chat.console import ConsoleChat
from bot.chat.service import CommandService
from bot.domain.message import Message
from bot.domain.rules import RuleBook
from bot.features.charts import PNG_SIGNATURE
from bot.runtime.delivery import SendOutcome
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


async def _until(check) -> None:  # type: ignore[no-untyped-def]
    """Let the loop run (no timed sleep) until prompt_toolkit has consumed the keys."""
    for _ in range(100_000):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("the prompt never got there")


async def test_an_alert_at_the_terminal_leaves_the_typed_line_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Type `/liqs bt`, an alert prints, type `c` and Enter: `/liqs btc` runs (issue 10.11);
    the up arrow brings the last line back."""
    db = await Database.open(tmp_path / "bot.db")
    try:
        chat = ConsoleChat(CommandService(db, FakeMarket(), RuleBook(), clock=lambda: T))
        with create_pipe_input() as keys:
            run = asyncio.create_task(chat._run_terminal(keys, DummyOutput()))
            await _until(lambda: chat.session is not None and chat.session.app.is_running)
            keys.send_text("/liqs bt")
            buffer = chat.session.default_buffer
            await _until(lambda: buffer.text == "/liqs bt")
            sent = await chat.send("console:local", Message("Short squeeze: BTC 1h"))
            assert sent == SendOutcome.sent()
            assert buffer.text == "/liqs bt"  # the half-typed line survives the alert
            keys.send_text("c\r")
            await _until(lambda: "Liquidations: BTC" in capsys.readouterr().out)
            keys.send_text("\x1b[A")  # up arrow: history
            await _until(lambda: buffer.text == "/liqs btc")
            keys.send_text("\x15quit\r")  # Ctrl-U clears the line, then quit
            assert await run is True
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("line", "first"),
    [
        ("/", "A lone slash is not a command; write the command's name right after the slash"),
        ("//", "'//' is not a command; write the command's name right after the slash"),
        ("<b>bold</b> & stuff", "Try /liqs btc for the market now, or /help for every command."),
        (
            "x" * 10_000,
            "Unknown command /xxxxxxxxxxxxxxxxxxx…; the commands are /liqs, /top, /chart, ",
        ),
        ("liqs bt\u200bc", "Liquidations: BTC"),  # the slash is optional; the paste is cleaned
    ],
)
async def test_console_answers_every_line_once(tmp_path: Path, line: str, first: str) -> None:
    db = await Database.open(tmp_path / "bot.db")
    try:
        out = io.StringIO()
        chat = ConsoleChat(CommandService(db, FakeMarket(), RuleBook(), clock=lambda: T), out)
        await chat.handle_line(line)
    finally:
        await db.close()
    blocks = [b for b in out.getvalue().split("\n\n") if b.strip()]
    assert len(blocks) == 1 and first in blocks[0] and len(blocks[0]) < 600
