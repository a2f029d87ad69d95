"""The whole service wired by app.build with a Telegram token, against the fake Bot API."""

from __future__ import annotations

from pathlib import Path

from bot.config import Secrets, parse_config
from bot.domain.models import Liquidation, Side
from bot.runtime import app
from tests.fakes.telegram_api import FakeTelegram
from tests.offline import sources_off
from tests.telegram.harness import make_stack

TOKEN = "123456:TEST-token"


async def test_command_and_alert_through_the_composed_service(tmp_path: Path) -> None:
    fake = FakeTelegram(TOKEN)
    await fake.start()
    config = parse_config(
        {
            "storage": {"path": str(tmp_path / "tg.sqlite3")},
            "telegram": {"base_url": fake.base_url, "base_file_url": fake.base_file_url},
            "sources": sources_off(),
            "broadcasts": [{"chat": "-100777", "rule": "all 1h 300m shorts"}],
            "alerts": {"debounce": 0},
        }
    )
    rt = await app.build(config, Secrets(telegram_token=TOKEN))
    try:
        assert set(rt.senders) == {"telegram"} and rt.console is None  # a token: no console
        await app.start(rt)
        fake.message(42, "/subscribe btc 1h 100m shorts")
        await fake.wait_sent(1, 42)
        assert "Subscribed" in fake.texts(42)[0]
        now = rt.clock.now_ms()
        rt.market.up("binance", now)
        rt.market.events("binance", [Liquidation("binance", "BTC", Side.SHORT, 350e6, now)])
        await fake.wait_sent(2, 42)
        await fake.wait_sent(1, -100777)  # the operator's broadcast to a channel
        alert = fake.texts(42)[1]
        assert "BTC shorts liquidated in 1h" in alert and "$350.00M" in alert
        assert "Market-wide shorts liquidated in 1h" in fake.texts(-100777)[0]
    finally:
        await app.stop(rt)
        await fake.stop()


async def test_a_paused_chat_keeps_its_rules_across_a_restart(tmp_path: Path) -> None:
    """The composition loads every subscription, paused chats' too (the engine silences them):
    a user who unblocks the bot and sends /start after a restart gets alerts again at once."""
    fake = FakeTelegram(TOKEN)
    await fake.start()
    try:
        first = await make_stack(tmp_path, fake)
        assert "Subscribed" in await first.ask(42, "/subscribe btc 1h 100m")
        await first.db.pause_chat("telegram:42", "Forbidden: bot was blocked by the user")
        await first.close()

        stack = await make_stack(tmp_path, fake)  # a new process on the same file
        try:
            assert "Welcome back" in await stack.ask(42, "/start")
            now = stack.clock.now_ms()
            stack.market.events("binance", [Liquidation("binance", "BTC", Side.LONG, 150e6, now)])
            assert await stack.rt.engine.tick() == 1
            assert (await stack.rt.delivery.drain()).sent == 1
            assert "BTC liquidations in 1h" in fake.texts(42)[-1]
        finally:
            await stack.close()
    finally:
        await fake.stop()
