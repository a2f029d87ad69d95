"""The real stack behind the Telegram adapter: SQLite on tmp_path, LiveMarket, RuleBook, service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.chat.service import CommandService, ServiceSettings
from bot.chat.telegram_bot import TelegramBot
from bot.chat.telegram_sender import TelegramLimits
from bot.clock import Clock
from bot.domain.aggregate import Aggregator
from bot.domain.health import SourceHealth
from bot.domain.models import Liquidation, Side
from bot.domain.rules import Policy, RuleBook
from bot.market_view import LiveMarket
from bot.store import Database
from tests.fakes.telegram_api import BOT_USERNAME, FakeTelegram

# No pacing in functional tests: the limits have their own tests.
FAST = TelegramLimits(global_per_s=0, per_chat_interval_s=0, group_per_window=0)
SYNC_CHAT = 99999
VENUES = ("binance", "bybit", "okx")


@dataclass
class Stack:
    fake: FakeTelegram
    db: Database
    market: LiveMarket
    book: RuleBook
    service: CommandService
    bot: TelegramBot
    bot_clock: Clock

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
        await self.bot.stop()
        await self.db.close()


def make_market(clock: Clock) -> LiveMarket:
    now = clock.now_ms()
    health = SourceHealth(VENUES, now - 25 * 3_600_000)
    market = LiveMarket(Aggregator(venues=VENUES), health, clock)
    for v in VENUES:
        market.up(v, now - 25 * 3_600_000)
    market.events(
        "binance",
        [
            Liquidation("binance", "BTC", Side.LONG, 12_500_000.0, now - 120_000, "BTCUSDT"),
            Liquidation("binance", "ETH", Side.SHORT, 3_000_000.0, now - 60_000, "ETHUSDT"),
        ],
    )
    return market


async def make_stack(
    tmp_path: Path,
    fake: FakeTelegram,
    service_wrapper=None,
    limits: TelegramLimits = FAST,
    stop_grace_s: float = 5.0,
) -> Stack:
    db = await Database.open(tmp_path / "bot.db")
    clock = Clock()
    market = make_market(clock)
    book = RuleBook(Policy())
    book.load(await db.active_subscriptions(), await db.load_states())
    service = CommandService(
        db, market, book, ServiceSettings(bot_username=BOT_USERNAME), clock.now_ms
    )
    svc = service_wrapper(service) if service_wrapper else service
    bot = TelegramBot(
        fake.token,
        svc,
        db,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        limits=limits,
        poll_timeout_s=2.0,
        stop_grace_s=stop_grace_s,
    )
    await bot.start()
    await fake.wait_parked()
    return Stack(fake, db, market, book, service, bot, clock)
