"""Render once (issue 18 item 1): a seeded crash tick through the real engine, store and delivery
sends every chat exactly the text today's renderer gives, on both engines, also after a restart
between enqueue and send; the shared words are stored once and pruned with the outbox."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from bench import bench_rules as br
from bot.domain.alert_parts import body_ids
from bot.domain.alert_payload import alerts_payload
from bot.domain.market import WINDOWS
from bot.domain.message import ChartRef, Message, plain_text
from bot.domain.models import ALL, Alert, AlertKind, Side, Snapshot, Subscription
from bot.domain.quiet import load_quiet
from bot.domain.render_alerts import AlertContext
from bot.domain.rules import RuleBook
from bot.locale import get_lang
from bot.runtime.delivery import Delivery, SendOutcome
from bot.runtime.engine import Engine
from bot.store import Database
from tests.reference_render import reference_render_alerts

ZONES = {"telegram:3": "Asia/Kolkata", "discord:channel:7": "America/New_York"}
COINS = br.COINS[:6]


class Market:
    """The LiveMarket the engine reads: one snapshot at a time, every series touched."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.now = snapshot

    def snapshot(self, now_ms: int) -> Snapshot:
        return self.now

    def take_touched(self) -> None:
        return None


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def now_ms(self) -> int:
        return self.now

    def __call__(self) -> int:
        return self.now


class Recorder:
    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.sent: dict[str, list[Message]] = {}

    async def send(self, chat_key: str, message: Message, *, delivery_id: str = "") -> SendOutcome:
        self.sent.setdefault(chat_key, []).append(message)
        return SendOutcome.sent()


def chat_of(i: int) -> str:
    kinds = ("telegram:{}", "discord:channel:{}", "console:{}", "webhook:w{}")
    return kinds[i % 7 % 4].format(i % 23)


async def seeded_store(db: Database, rng: random.Random) -> list[Subscription]:
    """~500 rules in 23 chats on six coins and the market; telegram:1 has 60 (a long message)."""
    subs = []
    lo, hi = 12.0, 19.5  # log-uniform thresholds, $160K .. $300M
    for i in range(520):
        chat = "telegram:1" if i < 60 else chat_of(i)
        origin = "config" if i % 97 == 5 else "user"
        subs.append(
            await db.add_subscription(
                chat, rng.choice([*COINS, ALL]), rng.choice(WINDOWS), rng.choice(list(Side)),
                round(2.718281828 ** rng.uniform(lo, hi), -3), 0, origin,
            )
        )  # fmt: skip
    for chat, tz in ZONES.items():
        await db.set_chat_tz(chat, tz)
    return subs


async def seeded_crash(db: Database, seed: int = 18) -> tuple[RuleBook, Snapshot, int]:
    """The seeded store's book after a history (some rules fired, some re-armed), and a crash
    snapshot 5 s later with its time: most rules cross at once."""
    rng = random.Random(seed)
    book = RuleBook()
    book.load(await seeded_store(db, rng), {})
    now = br.T0
    for scale in (0.05, 0.3, 0.1):
        now += 20 * br.MIN
        book.apply(book.evaluate(br.market(rng, scale, now), now))
    now += 5_000
    return book, br.market(rng, 1.5, now, 0.1), now


def today(alerts: list[Alert], chat: str, snap: Snapshot, book: RuleBook, now: int) -> Message:
    """What main's engine enqueued for the chat: today's renderer, buttons, chart, data."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(ZONES[chat]) if chat in ZONES else None
    m = reference_render_alerts(alerts, AlertContext(snap, book.policy), tz)
    if chat.startswith("webhook:"):
        m = replace(m, data=alerts_payload(alerts))
    if chat.startswith(("telegram:", "discord:")):
        m = replace(m, buttons=alerts[0].sub.id)
    chart = ChartRef(alerts[0].sub.coin, alerts[0].sub.window, now, ZONES.get(chat, "UTC"))
    return replace(m, chart=chart)


async def drain_all(db: Database, now: int) -> dict[str, list[Message]]:
    senders = {p: Recorder(p) for p in ("telegram", "discord", "console", "webhook")}
    delivery = Delivery(db, senders, Clock(now), batch=50)  # type: ignore[arg-type]
    while (await delivery.drain()).fetched:
        pass
    return {k: v for s in senders.values() for k, v in s.sent.items()}


async def test_a_crash_sends_every_chat_todays_text_byte_for_byte_after_a_restart(
    db_path: Path | str,
) -> None:
    db = await Database.open(db_path)
    book, crash, now = await seeded_crash(db)
    by_chat = book.evaluate(crash, now).alerts_by_chat()
    expected = {chat: today(alerts, chat, crash, book, now) for chat, alerts in by_chat.items()}
    # main's rows, each with its key, chats in key order (the order the outbox's index takes)
    rows = [
        (chat, "alert:" + ",".join(f"{a.sub.id}.{a.episode}.{a.level}" for a in alerts))
        for chat, alerts in sorted(by_chat.items())
    ]
    market, clock = Market(crash), Clock(now)
    engine = Engine(db, book, market, clock, attach_chart=True)  # type: ignore[arg-type]
    assert await engine.tick() == len(expected) > 15
    stored = await db._all("SELECT chat_key, dedupe_key FROM outbox ORDER BY id")
    assert [tuple(r) for r in stored] == rows
    (bodies,) = await db._one("SELECT count(*) FROM outbox_bodies")
    (parts,) = await db._one("SELECT count(*) FROM outbox WHERE message LIKE '{\"parts\"%'")
    assert bodies > 0 and parts > 10  # most rows are kept as parts ...
    assert await db._one("SELECT count(*) FROM outbox WHERE chat_key LIKE 'webhook:%' "
                         "AND message LIKE '{\"parts\"%'") == (0,)  # fmt: skip
    await db.close()  # ... and a restart between enqueue and send changes nothing

    db = await Database.open(db_path)
    try:
        sent = await drain_all(db, now + 1_000)
        assert set(sent) == set(expected)
        (long,) = sent["telegram:1"]  # many alerts: one short line each (the compact layout)
        assert "liquidation alerts" in long.title and " ≥ $" in long.lines[0]
        for chat, want in expected.items():
            (got,) = sent[chat]  # exactly once
            assert plain_text(got) == plain_text(want), chat
            assert got == want and got.buttons == want.buttons and got.data == want.data, chat
        # the digest reads the titles back through the parts too
        titles = await db.alert_titles("telegram:3", 0)
        assert [t for _, t in titles] == [expected["telegram:3"].title]
        # pruned with the outbox: nothing of the tick is left once its rows are
        assert await db.prune_outbox(now + 1) == len(expected)
        assert await db._one("SELECT count(*) FROM outbox_bodies") == (0,)
    finally:
        await db.close()


async def test_bodies_stay_while_a_row_of_their_tick_is_pending(db: Database) -> None:
    rng = random.Random(5)
    subs = await seeded_store(db, rng)
    book = RuleBook()
    book.load(subs, {})
    now = br.T0 + br.MIN
    crash = br.market(rng, 1.5, now, 0.1)
    engine = Engine(db, book, Market(crash), Clock(now))  # type: ignore[arg-type]
    made = await engine.tick()
    await db.pause_chat("telegram:1", "blocked", now)  # one chat's row stays pending
    sent = await drain_all(db, now)
    assert len(sent) == made - 1
    assert await db.prune_outbox(now + 1) == made - 1
    (left,) = await db._one("SELECT count(*) FROM outbox_bodies")
    assert left > 0
    await db.resume_chat("telegram:1")
    later = await drain_all(db, now)
    assert list(later) == ["telegram:1"]


LANGS = {
    "telegram:1": "ru", "telegram:3": "zh", "discord:channel:7": "es",
    "console:4": "ru",
}  # fmt: skip
QUIET = {"telegram:1": "00:00-23:59", "telegram:3": "00:00-23:59 except big", "console:4": "01:00-02:00"}  # fmt: skip


def main_items(
    by_chat: dict[str, list[Alert]], snap: Snapshot, book: RuleBook, now: int
) -> list[tuple[str, str, int | None, Message]]:
    """main's `outbox_items` (topics, quiet hours, languages) over today's renderer: each
    (chat, topic)'s row key, expiry and message, in main's order (chats by key, each chat's
    topics in the order of their first alert)."""
    out = []
    for chat, chat_alerts in sorted(by_chat.items()):
        lang = get_lang(LANGS.get(chat))
        ctx = AlertContext(snap, book.policy, lang=lang)
        zone = ZoneInfo(ZONES[chat]) if chat in ZONES else None
        hours = load_quiet(QUIET.get(chat))
        topics: dict[int | None, list[Alert]] = {}
        for a in chat_alerts:
            topics.setdefault(a.sub.thread, []).append(a)
        for thread, alerts in topics.items():
            key = "alert:" + ",".join(f"{a.sub.id}.{a.episode}.{a.level}" for a in alerts)
            expires = now + max(a.sub.window for a in alerts) * 60_000
            m = reference_render_alerts(alerts, ctx, zone)
            if chat.startswith("webhook:"):
                m = replace(m, data=alerts_payload(alerts))
            if chat.startswith(("telegram:", "discord:")):
                m = replace(m, buttons=alerts[0].sub.id)
            # the chart is drawn in the chat's zone (ChartRef.zone, given by the engine)
            chart = ChartRef(alerts[0].sub.coin, alerts[0].sub.window, now, ZONES.get(chat, "UTC"))
            m = replace(m, chart=chart)
            if thread is not None:
                m = replace(m, thread=thread)
            if hours is not None:
                big = any(a.kind is AlertKind.ESCALATED for a in alerts)
                m = replace(m, silent=hours.silences(now, zone, big=big))
            out.append((chat, key, expires, m))
    return out


async def test_topics_quiet_hours_and_languages_as_main_gives_them(db: Database) -> None:
    """Chats in Russian, Chinese and Spanish, some with quiet hours, two with forum topics:
    the engine's rows (kept as parts or whole) are main's, one per (chat, topic), in its order,
    with its keys and expiries, and send main's text, topic, silence and language."""
    rng = random.Random(19)
    subs = await seeded_store(db, rng)
    for i, (chat, thread) in enumerate([("telegram:1", 5), ("telegram:1", 9), ("telegram:3", 5)]):
        for coin in (ALL, "BTC", "ETH"):
            subs.append(
                await db.add_subscription(
                    chat, coin, 60, Side.TOTAL, 1e5 * (i + 1), 0, thread=thread
                )
            )  # fmt: skip
    for chat, code in LANGS.items():
        await db.set_chat_lang(chat, code)
    for chat, text in QUIET.items():
        await db.set_chat_quiet(chat, text)
    book = RuleBook()
    book.load(subs, {})
    now = br.T0
    for scale in (0.05, 0.3, 0.1):
        now += 20 * br.MIN
        book.apply(book.evaluate(br.market(rng, scale, now), now))
    now += 5_000
    crash = br.market(rng, 1.5, now, 0.1)
    expected = main_items(book.evaluate(crash, now).alerts_by_chat(), crash, book, now)
    assert {m.lang for *_, m in expected} == {"en", "ru", "zh", "es"}
    assert {m.silent for *_, m in expected} == {True, False, None}
    assert sum(1 for chat, *_ in expected if chat == "telegram:1") == 3  # the chat, two topics
    engine = Engine(db, book, Market(crash), Clock(now), attach_chart=True)  # type: ignore[arg-type]
    assert await engine.tick() == len(expected)
    stored = await db._all("SELECT chat_key, dedupe_key, expires_ms FROM outbox ORDER BY id")
    assert [tuple(r) for r in stored] == [(c, k, e) for c, k, e, _ in expected]
    rows = await db._all("SELECT chat_key FROM outbox WHERE message LIKE '{\"parts\"%'", ())
    assert len(rows) > 10 and "ru" in {LANGS.get(r[0]) for r in rows}  # Russian words shared
    sent = await drain_all(db, now + 1_000)
    for chat in {c for c, *_ in expected}:
        want = [m for c, *_, m in expected if c == chat]
        got = sent[chat]
        assert [plain_text(m) for m in got] == [plain_text(m) for m in want], chat
        assert got == want, chat
        for g, w in zip(got, want, strict=True):
            assert (g.buttons, g.data, g.chart, g.thread, g.silent, g.lang) == (
                w.buttons, w.data, w.chart, w.thread, w.silent, w.lang,
            ), chat  # fmt: skip


async def test_bodies_are_read_once_and_a_reused_id_reads_the_new_words(db: Database) -> None:
    """Delivery reads a tick's bodies once, not per drain pass (a crash tick's body can name
    100,000 rules: re-read per pass of 500 rows, the fan-out's CPU grew with chats squared), and
    a body id reused after pruning (ids go on from the highest left) never gives the old words."""
    rng = random.Random(7)
    subs = await seeded_store(db, rng)
    book = RuleBook()
    book.load(subs, {})
    now = br.T0 + br.MIN
    for scale in (1.5, 2.5):  # two crashes, each tick's bodies pruned before the next
        crash = br.market(rng, scale, now, 0.1)
        by_chat = book.evaluate(crash, now).alerts_by_chat()
        expected = {c: today(alerts, c, crash, book, now) for c, alerts in by_chat.items()}
        engine = Engine(db, book, Market(crash), Clock(now), attach_chart=True)  # type: ignore[arg-type]
        assert await engine.tick() == len(expected)
        ids = [r[0] for r in await db._all("SELECT id FROM outbox_bodies ORDER BY id")]
        assert ids and ids[0] == 1  # the first tick's ids, again for the second
        senders = {p: Recorder(p) for p in ("telegram", "discord", "console", "webhook")}
        delivery = Delivery(db, senders, Clock(now), batch=3)  # type: ignore[arg-type]
        assert (await delivery.drain()).fetched == 3
        # the bodies the first pass read are blanked in the store now: the rows still
        # pending that name them would fail to compose if a later pass read them again
        named = {s: {i for (m,) in await db._all(
            f"SELECT message FROM outbox WHERE status = '{s}' AND message LIKE '{{\"parts\"%'"
        ) for i in body_ids(json.loads(m))} for s in ("sent", "pending")}  # fmt: skip
        read = sorted(named["sent"])
        assert read and named["pending"] & set(read)
        marks = ",".join("?" * len(read))
        await db._write(f"UPDATE outbox_bodies SET body = '{{}}' WHERE id IN ({marks})", read)
        while (await delivery.drain()).fetched:
            pass
        sent = {k: v for s in senders.values() for k, v in s.sent.items()}
        assert set(sent) == set(expected)
        for chat, want in expected.items():
            assert sent[chat] == [want], chat
        assert await db.prune_outbox(now + 1) == len(expected)
        assert await db._one("SELECT count(*) FROM outbox_bodies") == (0,)
        now += 2 * 3_600_000  # every rule re-armed by the next crash


def test_the_body_cache_holds_a_bounded_number_of_rules_most_recently_used_kept() -> None:
    from bot.domain.alert_parts import Body
    from bot.store.outbox_parts import BodyCache

    def body(rules: int) -> Body:
        b = Body.__new__(Body)
        b.subs = list(range(rules))
        return b

    cache = BodyCache(max_entries=10)
    a, b, c = body(4), body(4), body(4)
    cache.put((1, 100), a)
    cache.put((2, 100), b)
    assert cache.get((1, 100)) is a  # used last: b goes first
    cache.put((3, 200), c)
    assert cache.get((2, 100)) is None and cache.get((1, 100)) is a and cache.get((3, 200)) is c
    assert cache.get((1, 200)) is None  # the same id of another tick is another body
    big = body(50)
    cache.put((4, 300), big)  # larger than the bound alone: kept, the rest dropped
    assert len(cache) == 1 and cache.get((4, 300)) is big


async def test_the_rows_the_engine_writes_are_the_items_encoded(db: Database) -> None:
    """TickItems.rows (what the engine commits: the shared messages encoded straight from the
    sorted columns) gives byte for byte what encoding `items` gives (PartsMessage.row_json): the
    same rows in the same order, the same bodies under the same ids. With and without charts,
    so that the everyday row written out in line is checked beside the general one; the chats
    have zones, quiet hours, languages, topics and webhooks."""
    from bot.runtime.tick_items import TickItems
    from bot.store.outbox_parts import BodyIds

    rng = random.Random(21)
    subs = await seeded_store(db, rng)
    subs += [
        await db.add_subscription("telegram:1", coin, 60, Side.TOTAL, 1e5, 0, thread=5)
        for coin in (ALL, "BTC")
    ]
    book = RuleBook()
    book.load(subs, {})
    now = br.T0 + 20 * br.MIN
    book.apply(book.evaluate(br.market(rng, 0.1, now), now))
    now += 5_000
    crash = br.market(rng, 1.5, now, 0.1)
    moves = book.evaluate(crash, now)
    zones = {chat: ZoneInfo(name) for chat, name in ZONES.items()}
    quiet = {chat: q for chat, text in QUIET.items() if (q := load_quiet(text)) is not None}
    langs = {chat: get_lang(code) for chat, code in LANGS.items()}

    def made(chart: bool) -> TickItems:
        t = TickItems(now, AlertContext(crash, book.policy), chart, zones, quiet, langs)
        t.add_series(moves)
        return t

    for chart in (False, True):
        ids, want_bodies = BodyIds(40), []  # type: ignore[var-annotated]
        items = list(made(chart).items())
        want = [
            (i.chat_key, t, i.dedupe_key, i.created_ms, i.expires_ms)
            for i, t in zip(items, ids.encode(items, want_bodies), strict=True)
        ]
        store, bodies = BodyIds(40), []  # type: ignore[var-annotated]
        got = [
            x
            if isinstance(x, tuple)
            else (x.chat_key, store.encode_one(x, bodies), x.dedupe_key, x.created_ms, x.expires_ms)
            for x in made(chart).rows(partial(store.name, bodies=bodies))
        ]
        assert got == want, chart
        assert [(i, ms) for i, ms, _ in bodies] == [(i, ms) for i, ms, _ in want_bodies]
        assert [b for *_, b in bodies] == [b for *_, b in want_bodies]
        kinds = {json.loads(text).get("parts") is not None for _, text, *_ in got}
        assert kinds == {True, False}  # both kept as parts and whole
        assert sum(1 for c, *_ in got if c == "telegram:1") == 2  # the chat and its topic
