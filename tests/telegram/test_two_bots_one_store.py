"""A store that served one bot token and then serves another (a new bot, a token moved to a
new bot): Telegram numbers updates per bot, so bot B's update 5 is not bot A's update 5."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.harness import make_stack

TOKEN_A = "111111:first-bot-token"
TOKEN_B = "222222:second-bot-token"


def _nth_update_is(fake: FakeTelegram, uid: int) -> None:
    """The fake numbers its updates from 1, as Telegram does for a new bot: make the next
    one `uid` (earlier ids are already confirmed, as if handled long ago)."""
    fake._next_update_id = uid


async def test_another_bot_on_the_same_store_answers_its_own_update_ids(tmp_path: Path) -> None:
    bot_a, bot_b = FakeTelegram(TOKEN_A), FakeTelegram(TOKEN_B)
    await bot_a.start()
    await bot_b.start()
    try:
        first = await make_stack(tmp_path, bot_a)
        try:
            _nth_update_is(bot_a, 5)
            assert "Subscribed" in await first.ask(42, "/subscribe btc 1h 100m")
            assert bot_a.served_at.keys() == {5}
        finally:
            await first.close()

        second = await make_stack(tmp_path, bot_b)  # the same SQLite file, another token
        try:
            _nth_update_is(bot_b, 5)
            assert "Subscribed" in await second.ask(43, "/subscribe eth 1h 100m")
            assert bot_b.served_at.keys() == {5}
            rows = await second.db._all(
                "SELECT bot_id, update_id FROM telegram_updates ORDER BY bot_id"
            )
            assert [tuple(r) for r in rows] == [(111111, 5), (222222, 5)]
            # the same bot's redelivery of update 5 is still skipped
            assert not await second.db.claim_update(5, 1, bot_id=222222)
        finally:
            await second.close()
    finally:
        await bot_a.stop()
        await bot_b.stop()
