"""Store queries the engine and the composition root rely on."""

from __future__ import annotations

from bot.domain.aggregate import BucketRow
from bot.domain.models import Side
from bot.store import Database

T = 1_800_000_000_000


async def test_paused_chats_and_all_subscriptions(db: Database) -> None:
    a = await db.add_subscription("telegram:1", "BTC", 60, Side.TOTAL, 1e8, T)
    b = await db.add_subscription("telegram:2", "ETH", 60, Side.LONG, 1e8, T)
    await db.pause_chat("telegram:2", "bot was blocked by the user", T)
    assert await db.paused_chats() == {"telegram:2"}
    # the engine keeps paused chats' rules (silenced) so /start resumes them without a restart
    assert [s.id for s in await db.all_subscriptions()] == [a.id, b.id]
    assert [s.id for s in await db.active_subscriptions()] == [a.id]
    await db.resume_chat("telegram:2")
    assert await db.paused_chats() == set()


async def test_chats_with_config_broadcasts(db: Database) -> None:
    await db.add_subscription("telegram:@chan", "ALL", 60, Side.SHORT, 4e8, T, origin="config")
    await db.add_subscription("telegram:9", "BTC", 60, Side.TOTAL, 1e8, T)
    assert await db.chats_with_origin("config") == {"telegram:@chan"}


async def test_migration_listeners_hear_every_move(db: Database) -> None:
    heard: list[tuple[str, str]] = []
    db.on_chat_migrated.append(lambda old, new: heard.append((old, new)))
    await db.add_subscription("telegram:-5", "BTC", 60, Side.TOTAL, 1e8, T)
    await db.migrate_chat("telegram:-5", "telegram:-1005", T)
    assert heard == [("telegram:-5", "telegram:-1005")]


async def test_buckets_are_kept_to_the_dollar(db: Database) -> None:
    await db.upsert_buckets([BucketRow(T, "BTC", "bybit", 1234.56, 0.4)])
    [row] = await db.load_buckets(T - 1)
    assert (row.longs, row.shorts) == (1235.0, 0.0)


async def test_count_active_subscriptions_skips_paused_chats(db: Database) -> None:
    await db.add_subscription("telegram:1", "BTC", 60, Side.TOTAL, 1e8, T)
    await db.add_subscription("telegram:2", "ETH", 60, Side.TOTAL, 1e8, T)
    await db.pause_chat("telegram:2", "kicked", T)
    assert await db.count_active_subscriptions() == 1


async def test_digests_and_the_alert_titles_they_read(db: Database) -> None:
    from bot.domain.digest import DigestSpec
    from bot.domain.message import Message
    from bot.store import OutboxItem

    await db.set_digest("telegram:1", 9 * 60, "Europe/Berlin", T)
    await db.set_digest("telegram:1", 8 * 60, "UTC", T)  # a new time replaces the old one
    assert await db.all_digests() == [DigestSpec("telegram:1", 480, "UTC")]
    await db.enqueue(
        [
            OutboxItem("telegram:1", Message("BTC longs"), "alert:1", T),
            OutboxItem("telegram:1", Message("Big liquidation: $2.40M BTC long"), "single:ab", T),
            OutboxItem("telegram:1", Message("Test message"), "test:telegram:1:1", T),
            OutboxItem("telegram:1", Message("Daily digest"), "digest:telegram:1:2026-12-01", T),
        ]
    )
    assert await db.alert_titles("telegram:1", T) == [  # the day's alerts of both kinds only
        (T, "BTC longs"),
        (T, "Big liquidation: $2.40M BTC long"),
    ]
    assert await db.outbox_has("alert:1") and not await db.outbox_has("alert:2")
    assert await db.remove_digest("telegram:1") and await db.all_digests() == []


async def test_venue_single_and_relative_rules_round_trip(db: Database) -> None:
    sub = await db.add_subscription(
        "telegram:1", "BTC", 60, Side.LONG, 1e6, T, venue="bybit", kind="single", factor=None
    )
    rel = await db.add_subscription("telegram:1", "ETH", 60, Side.TOTAL, 5e7, T, factor=3.0)
    assert await db.list_subscriptions("telegram:1") == [sub, rel]
    assert (sub.venue, sub.kind, rel.factor) == ("bybit", "single", 3.0)
