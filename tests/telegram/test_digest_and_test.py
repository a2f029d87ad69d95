"""/test and /digest on Telegram, through python-telegram-bot against the fake Bot API and the
composed service: the test message arrives through the outbox; a digest is set, shown and
stopped (who may change it in groups is tested in tests/chat/test_service.py)."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import make_stack

TOKEN = "123456:TEST-token"


async def test_test_and_digest_on_telegram(tmp_path: Path) -> None:
    fake = FakeTelegram(TOKEN)
    await fake.start()
    try:
        stack = await make_stack(tmp_path, fake)
        try:
            assert "Test queued" in await stack.ask(42, "/test")
            assert (await stack.rt.delivery.drain()).sent == 1
            await fake.wait_sent(2, 42)
            assert "Test message" in fake.texts(42)[-1]
            reply = await stack.ask(42, "/digest 07:30 America/New_York")
            assert "Every day at 07:30 America/New_York" in reply
            assert "Every day at 07:30 America/New_York" in await stack.ask(42, "/digest")
            assert "Daily digest off" in await stack.ask(42, "/digest off")
        finally:
            await stack.close()
    finally:
        await fake.stop()
