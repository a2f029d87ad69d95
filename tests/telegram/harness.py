"""The production wiring behind the Telegram adapter: `app.build` from a Config that points at
the fake Bot API, SQLite on tmp_path. The scheduler stays off: tests drive the engine and the
delivery of the composed Runtime themselves, so counts are exact."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.chat.service import CommandService
from bot.chat.telegram_bot import TelegramBot
from bot.config import Config, Secrets, parse_config
from bot.domain.models import Liquidation, Side
from bot.domain.rules import RuleBook
from bot.runtime import app
from bot.runtime.clock import Clock
from bot.runtime.market_view import LiveMarket
from bot.store import Database
from tests.fakes.telegram_api import FakeTelegram
from tests.offline import sources_off

SYNC_CHAT = 99999
VENUES = ("binance", "bybit", "okx", "bitget", "bitmex", "htx", "deribit")
# No pacing in functional tests (the limits have their own tests): rates no test comes near.
UNPACED = {"global_per_second": 1e6, "per_chat_per_second": 1e6, "per_group_per_minute": 1e6}
DB_NAME = "bot.db"


class SkewClock(Clock):
    """Wall time plus a jump, so backoffs and quiet times come due without sleeping."""

    def __init__(self) -> None:
        self.ahead_ms = 0

    def now_ms(self) -> int:
        return super().now_ms() + self.ahead_ms


@dataclass
class Stack:
    fake: FakeTelegram
    rt: app.Runtime
    clock: SkewClock

    @property
    def db(self) -> Database:
        return self.rt.db

    @property
    def market(self) -> LiveMarket:
        return self.rt.market

    @property
    def book(self) -> RuleBook:
        return self.rt.book

    @property
    def service(self) -> CommandService:
        return self.rt.service

    @property
    def bot(self) -> TelegramBot:
        (bot,) = self.rt.bots
        return bot

    async def ask(self, chat_id: int, text: str, **kw: object) -> str:
        """Post a message as a user and return the bot's reply (all parts joined)."""
        before = len(self.fake.texts(chat_id))
        self.fake.message(chat_id, text, **kw)  # type: ignore[arg-type]
        await self.fake.wait_sent(before + 1, chat_id)
        await self.fake.wait_consumed()  # the update was handled before the next one
        return "\n".join(self.fake.texts(chat_id)[before:])

    async def settle(self) -> None:
        """Wait until every update pushed so far was handled. Chats are handled concurrently,
        so a later answer proves nothing about other chats: wait until the fake saw every
        update confirmed (so PTB queued them all), then until PTB's queue is worked off."""
        await self.fake.wait_consumed()
        await self.bot.app.update_queue.join()

    async def close(self) -> None:
        """A clean stop, as on SIGTERM: last evaluation and drain, save, close."""
        await app.stop(self.rt)

    async def kill(self) -> None:
        """What a kill leaves behind: nothing more is evaluated, sent or saved."""
        for bot in self.rt.bots:
            await bot.stop()  # only to free the sockets of this test process
        await self.rt.db.close()


def stack_config(tmp_path: Path, fake: FakeTelegram, **telegram: Any) -> Config:
    """The config of a test stack: the fake's URLs, no pacing, no live sources."""
    return parse_config(
        {
            "storage": {"path": str(tmp_path / DB_NAME)},
            "telegram": {
                "base_url": fake.base_url,
                "base_file_url": fake.base_file_url,
                "rate": UNPACED,
                **telegram,
            },
            "sources": sources_off(coinglass={}),  # CoinGlass stays on: off without a key
        }
    )


def seed_market(market: LiveMarket, now: int) -> None:
    """Every venue up for a day (complete windows) and two liquidations."""
    for v in VENUES:
        market.up(v, now - 25 * 3_600_000)
    market.events(
        "binance",
        [
            Liquidation("binance", "BTC", Side.LONG, 12_500_000.0, now - 120_000, "BTCUSDT"),
            Liquidation("binance", "ETH", Side.SHORT, 3_000_000.0, now - 60_000, "ETHUSDT"),
        ],
    )


async def make_stack(
    tmp_path: Path,
    fake: FakeTelegram,
    service_wrapper: Callable[[Any], Any] | None = None,
    *,
    config: Config | None = None,
    secrets: Secrets | None = None,
) -> Stack:
    clock = SkewClock()
    rt = await app.build(
        config or stack_config(tmp_path, fake),
        secrets or Secrets(telegram_token=fake.token),
        clock=clock,
    )
    seed_market(rt.market, clock.now_ms())
    stack = Stack(fake, rt, clock)
    if service_wrapper is not None:
        stack.bot.service = service_wrapper(stack.bot.service)
    await app.start(rt, jobs=False)
    if stack.bot.mode == "polling":
        await fake.wait_parked()
    return stack
