"""A subscription change made on another replica reaches the leader's rules by kind: a venue,
single or relative rule goes to the extra rules, never into the plain rule book."""

from __future__ import annotations

from pathlib import Path

from bot.domain.extra_rules import ExtraRules
from bot.domain.models import Side
from bot.domain.rules import Policy, RuleBook
from bot.ops.replicas import RulesSync
from bot.store import Database

T0 = 1_800_000_000_000


async def test_sync_routes_each_rule_kind_to_its_book(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "s.sqlite3")
    try:
        book, extras = RuleBook(Policy()), ExtraRules(Policy())
        sync = RulesSync(db, book, extras)
        chat = "telegram:42"
        plain = await db.add_subscription(chat, "BTC", 60, Side.TOTAL, 100e6, T0)
        venue = await db.add_subscription(chat, "BTC", 60, Side.SHORT, 50e6, T0, venue="binance")
        single = await db.add_subscription(chat, "ETH", 1, Side.TOTAL, 1e6, T0, kind="single")
        await sync.sync({chat})
        assert book.subscription(plain.id) is not None
        assert book.subscription(venue.id) is None and book.subscription(single.id) is None
        assert extras.subscription(venue.id) is not None
        assert extras.subscription(single.id) is not None
        await db.remove_subscription(chat, venue.id)
        await db.remove_subscription(chat, single.id)
        await sync.sync({chat})
        assert extras.subscription(venue.id) is None and extras.subscription(single.id) is None
        assert book.subscription(plain.id) is not None
    finally:
        await db.close()
