"""One context per tick shares each series' lines among chats: the text must not change.

A seeded crash (many chats on the same series, every side, venue-only rules, market-wide ones,
escalations) is rendered twice: with ONE `AlertContext` for the whole tick, as the engine does,
and with a reference context that has no memo (each line made by the plain functions, as the
renderer did before issue 18). Every message must be identical, byte for byte.
"""

from __future__ import annotations

import random

from bot.domain.models import ALL, Alert, Side, Snapshot, Subscription, VenueSplit, WindowTotals
from bot.domain.money import format_usd
from bot.domain.render_alerts import AlertContext, _split, _venues, _wave, render_alerts
from bot.domain.rules import Policy, RuleBook

T0 = 1_767_225_600_000
COINS = ("BTC", "ETH", "SOL", "DOGE", ALL)
WINDOWS = (60, 240, 1440)
VENUES = ("binance", "bybit", "okx")


class PlainContext(AlertContext):
    """Today's renderer without the per-tick memo of the shared lines."""

    def wave(self, a: Alert) -> str:
        return _wave(a, self)

    def split(self, a: Alert, wave: str) -> str:
        return _split(a, wave)

    def venues(self, a: Alert) -> str:
        return _venues(a)

    def usd(self, value: float) -> str:
        return format_usd(value)


def crash(rng: random.Random, scale: float, as_of: int) -> Snapshot:
    totals: dict[tuple[str, int], WindowTotals] = {}
    venues: dict[tuple[str, int], tuple[VenueSplit, ...]] = {}
    for w in WINDOWS:
        for coin in COINS[:-1]:
            splits = tuple(
                VenueSplit(v, rng.uniform(0, 4e8) * scale * w / 60, rng.uniform(0, 4e8) * scale)
                for v in VENUES
            )
            venues[(coin, w)] = splits
            totals[(coin, w)] = WindowTotals(
                sum(s.longs for s in splits), sum(s.shorts for s in splits)
            )
        totals[(ALL, w)] = WindowTotals(
            sum(totals[(c, w)].longs for c in COINS[:-1]),
            sum(totals[(c, w)].shorts for c in COINS[:-1]),
        )
    return Snapshot(
        as_of,
        totals,
        venues,
        served_windows=frozenset(WINDOWS),
        complete_windows=frozenset(WINDOWS),
        sources=VENUES,
    )


def test_one_context_per_tick_renders_every_chat_as_the_plain_renderer() -> None:
    rng = random.Random(18)
    subs = [
        Subscription(
            i,
            f"telegram:{rng.randrange(150)}",
            rng.choice(COINS),
            rng.choice(WINDOWS),
            rng.choice(list(Side)),
            rng.choice((5e7, 1e8, 2e8, 4e8, 1e9, 3.3e9)),
            number=i,
            venue=rng.choice((None, None, None, *VENUES)),
        )
        for i in range(1, 1500)
    ]
    book = RuleBook()
    book.load(subs, {})
    policy = Policy()
    checked = 0
    for tick, scale in enumerate((1.0, 3.0, 9.0)):  # fire, then escalate
        snap = crash(rng, scale, T0 + tick * 60_000)
        moves = book.evaluate(snap, snap.as_of_ms)
        by_chat = moves.alerts_by_chat()
        shared = AlertContext(snap, policy)
        for chat, alerts in by_chat.items():
            got = render_alerts(alerts, shared)
            want = render_alerts(alerts, PlainContext(snap, policy))
            assert got == want, chat
            assert got.to_dict() == want.to_dict()
            checked += len(alerts)
        book.apply(moves)
    assert checked > 1000  # the crash really fired most rules, escalations included
