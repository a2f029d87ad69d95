from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.domain.message import Field, Message, Table, Tone
from bot.domain.models import AlertState, Side, Status, Subscription, Transition
from bot.store import BucketRow, Database, GapRow, OutboxItem


def msg(title: str) -> Message:
    return Message(
        title=title,
        lines=("BTC longs $120M in 1h",),
        table=Table(headers=("venue", "usd"), rows=(("binance", "$80M"),)),
        fields=(Field("level", "1"),),
        footer="sampled",
        tone=Tone.LONG,
    )


def item(chat: str, key: str, created_ms: int = 1_000) -> OutboxItem:
    return OutboxItem(chat_key=chat, message=msg(key), dedupe_key=key, created_ms=created_ms)


def fired(sub: Subscription, at_ms: int, episode: int = 1) -> Transition:
    new = AlertState(
        sub.id, Status.FIRED, level=1, episode=episode, fired_ms=at_ms, last_alert_ms=at_ms
    )
    return Transition(sub.id, AlertState(sub.id), new)


async def add(db: Database, chat: str = "telegram:1", coin: str = "BTC") -> Subscription:
    return await db.add_subscription(chat, coin, 60, Side.LONG, 100e6, now_ms=10)


# ---- chats -----------------------------------------------------------------------------------


async def test_chats_ensure_pause_resume(db: Database) -> None:
    assert await db.get_chat("telegram:-5") is None
    await db.ensure_chat("telegram:-5", "group", now_ms=7)
    chat = await db.get_chat("telegram:-5")
    assert chat is not None and (chat.kind, chat.paused_reason, chat.created_ms) == (
        "group",
        None,
        7,
    )
    assert await db.pause_chat("telegram:-5", "bot was kicked", now_ms=9) is True
    assert await db.pause_chat("telegram:-5", "again", now_ms=10) is False  # only the first time
    chat = await db.get_chat("telegram:-5")
    assert chat is not None and (chat.paused_reason, chat.paused_ms) == ("bot was kicked", 9)
    await db.ensure_chat("telegram:-5", "group", now_ms=99)  # seeing it again does not resume
    assert (await db.get_chat("telegram:-5")).paused_reason == "bot was kicked"  # type: ignore[union-attr]
    assert await db.resume_chat("telegram:-5") is True
    assert await db.resume_chat("telegram:-5") is False
    assert (await db.get_chat("telegram:-5")).created_ms == 7  # type: ignore[union-attr]


async def test_pausing_an_unknown_chat_creates_it_paused(db: Database) -> None:
    assert await db.pause_chat("discord:channel:9", "missing access", now_ms=1) is True
    chat = await db.get_chat("discord:channel:9")
    assert chat is not None and chat.kind == "channel" and chat.paused_reason == "missing access"


# ---- subscriptions ---------------------------------------------------------------------------


async def test_a_chats_rules_share_one_chat_key_object(db: Database) -> None:
    """1M rules of ~50k chats hold one key string per chat, not one per rule: less memory,
    and a crash tick's grouping by chat reads ~50k strings, not 213k scattered copies."""
    made = [
        await add(db, "".join(["telegram:", str(n)]), coin)  # a new string object each time
        for n in (1, 2)
        for coin in ("BTC", "ETH", "SOL")
    ]
    loaded = await db.all_subscriptions()
    again = await db.subscriptions_by_id([s.id for s in made])
    objects: dict[str, set[int]] = {}
    for s in [*made, *loaded, *again]:
        objects.setdefault(s.chat_key, set()).add(id(s.chat_key))
    assert {k: len(v) for k, v in objects.items()} == {"telegram:1": 1, "telegram:2": 1}


async def test_subscriptions_crud_and_scoping(db: Database) -> None:
    a = await add(db, "telegram:1", "BTC")
    b = await db.add_subscription(
        "telegram:1", "ALL", 1440, Side.TOTAL, 1e9, now_ms=11, origin="config"
    )
    c = await add(db, "telegram:2", "ETH")
    assert (a.id, b.id) < (b.id, c.id)
    assert await db.list_subscriptions("telegram:1") == [a, b]
    assert b.side is Side.TOTAL and b.origin == "config" and b.window == 1440
    assert await db.count_subscriptions("telegram:1") == 2
    assert await db.remove_subscription("telegram:2", a.id) is False  # not that chat's
    assert await db.remove_subscription("telegram:1", a.id) is True
    assert await db.remove_subscription("telegram:1", a.id) is False
    assert await db.remove_all_subscriptions("telegram:1") == 1
    assert await db.list_subscriptions("telegram:1") == []
    assert await db.list_subscriptions("telegram:2") == [c]


async def test_ids_are_never_reused(db_path: Path) -> None:
    db = await Database.open(db_path)
    first = await add(db)
    second = await add(db)
    await db.remove_subscription("telegram:1", second.id)
    await db.close()
    db = await Database.open(db_path)
    third = await add(db)
    await db.close()
    assert third.id > second.id > first.id


async def test_paused_chats_are_not_active(db: Database) -> None:
    a = await add(db, "telegram:1")
    b = await add(db, "console:local")
    await db.pause_chat("telegram:1", "blocked")
    assert await db.active_subscriptions() == [b]
    await db.resume_chat("telegram:1")
    assert await db.active_subscriptions() == [a, b]


# ---- states and outbox -----------------------------------------------------------------------


async def test_commit_transitions_writes_states_and_outbox(db: Database) -> None:
    sub = await add(db)
    await db.commit_transitions([fired(sub, 500)], [item("telegram:1", "s1:e1:l1", 500)])
    states = await db.load_states()
    assert states == {sub.id: fired(sub, 500).new}
    due = await db.due_outbox(now_ms=500, limit=10)
    assert [(r.chat_key, r.attempts, r.created_ms) for r in due] == [("telegram:1", 0, 500)]
    assert due[0].message == msg("s1:e1:l1")  # the message round-trips through JSON


async def test_commit_transitions_is_all_or_nothing(db: Database) -> None:
    sub = await add(db)
    before = await db.load_states()
    bad = OutboxItem(chat_key=None, message=msg("x"), dedupe_key="k2", created_ms=1)  # type: ignore[arg-type]
    with pytest.raises(Exception, match=r"(?i)not[ -]null"):  # either engine's wording
        await db.commit_transitions([fired(sub, 500)], [item("telegram:1", "k1"), bad])
    assert await db.load_states() == before  # the state was not recorded without its alert
    assert await db.due_outbox(now_ms=10**12, limit=10) == []  # nor the first alert
    # and the connection is usable afterwards: the same tick retried goes through
    await db.commit_transitions([fired(sub, 500)], [item("telegram:1", "k1")])
    assert (await db.load_states())[sub.id].status is Status.FIRED


async def test_a_unique_violation_in_the_outbox_rolls_back_the_states(db: Database) -> None:
    a, b = await add(db), await add(db)
    # a unique index the rows below break (dedupe keys alone never conflict: they are skipped)
    await db._write("CREATE UNIQUE INDEX outbox_one_per_chat ON outbox(chat_key)")
    with pytest.raises(Exception, match=r"(?i)unique"):
        await db.commit_transitions(
            [fired(a, 500), fired(b, 500)], [item("telegram:1", "k1"), item("telegram:1", "k2")]
        )
    assert await db.load_states() == {}  # neither state without its alert
    assert await db.due_outbox(now_ms=10**12, limit=10) == []


async def test_fired_state_survives_restart(db_path: Path) -> None:
    db = await Database.open(db_path)
    sub = await add(db)
    await db.commit_transitions([fired(sub, 500, episode=3)], [])
    await db.close()
    db = await Database.open(db_path)
    try:
        state = (await db.load_states())[sub.id]
        assert (state.status, state.level, state.episode, state.fired_ms) == (
            Status.FIRED,
            1,
            3,
            500,
        )
    finally:
        await db.close()


async def test_state_of_a_removed_subscription_is_dropped_not_fatal(db: Database) -> None:
    gone, kept = await add(db), await add(db)
    await db.commit_transitions([fired(gone, 1)], [])
    await db.remove_subscription("telegram:1", gone.id)
    assert gone.id not in await db.load_states()  # cascade
    # a tick evaluated before the removal commits after it: the others' alerts still land
    await db.commit_transitions([fired(gone, 2), fired(kept, 2)], [item("telegram:1", "k")])
    assert set(await db.load_states()) == {kept.id}
    assert len(await db.due_outbox(10**12, 10)) == 1


async def test_dedupe_key_enqueues_once(db: Database) -> None:
    sub = await add(db)
    t = fired(sub, 5)
    await db.commit_transitions([t], [item("telegram:1", "s:1:1")])
    await db.commit_transitions([t], [item("telegram:1", "s:1:1")])  # the tick retried
    assert await db.enqueue([item("telegram:1", "s:1:1"), item("telegram:1", "notice")]) == 1
    keys = [r.message.title for r in await db.due_outbox(10**12, 10)]
    assert keys == ["s:1:1", "notice"]


async def test_due_outbox_order_backoff_and_marks(db: Database) -> None:
    await db.enqueue(
        [
            item("telegram:1", "a1", 100),
            item("telegram:2", "b1", 100),
            item("telegram:1", "a2", 100),
            item("telegram:1", "a3", 5_000),
        ]
    )
    # chats by their queue's head (equal times: first come first), each chat's rows in order
    assert [r.message.title for r in await db.due_outbox(100, 10)] == ["a1", "a2", "b1"]
    assert [r.message.title for r in await db.due_outbox(100, 2)] == ["a1", "a2"]
    rows = {r.message.title: r for r in await db.due_outbox(5_000, 10)}
    await db.mark_retry(rows["a1"].id, next_ms=9_000, error="429")
    # a1 backs off, so a2 and a3 must wait behind it: a chat's messages never overtake
    assert [r.message.title for r in await db.due_outbox(5_000, 10)] == ["b1"]
    after = await db.due_outbox(9_000, 10)
    # chat 1 holds the freshest alert (a3): its rows go first, in their own order
    assert [(r.message.title, r.attempts) for r in after] == [
        ("a1", 1),
        ("a2", 0),
        ("a3", 0),
        ("b1", 0),
    ]
    assert await db.outbox_status(rows["a1"].id) == ("pending", 1, 9_000, "429")
    await db.mark_sent(rows["a1"].id, 9_001)
    await db.mark_dead(rows["b1"].id, "chat not found")
    assert await db.outbox_status(rows["a1"].id) == ("sent", 2, 9_000, "429")
    assert (await db.outbox_status(rows["b1"].id))[0] == "dead"  # type: ignore[index]
    assert [r.message.title for r in await db.due_outbox(9_000, 10)] == ["a2", "a3"]
    assert await db.prune_outbox(before_ms=200) == 2  # sent and dead rows only
    assert len(await db.due_outbox(9_000, 10)) == 2


async def test_due_outbox_skips_paused_chats_and_filters_platforms(db: Database) -> None:
    await db.enqueue(
        [item("telegram:1", "t"), item("discord:user:2", "d"), item("console:local", "c")]
    )
    await db.pause_chat("telegram:1", "blocked")
    assert [r.message.title for r in await db.due_outbox(10**6, 10)] == ["d", "c"]
    only = await db.due_outbox(10**6, 10, platforms={"console": object()})
    assert [r.chat_key for r in only] == ["console:local"]
    assert await db.due_outbox(10**6, 10, platforms=()) == []
    assert await db.pending_platforms() == {"telegram", "discord", "console"}


async def test_migrate_chat_moves_everything_pending(db: Database) -> None:
    old, new = "telegram:-100", "telegram:-100200"
    await db.ensure_chat(old, "group")
    sub = await add(db, old)
    other = await add(db, "telegram:7")
    await db.set_mute(old, "BTC", 9_000)
    await db.set_mute(old, None, 8_000)
    await db.enqueue([item(old, "sent-one"), item(old, "pending-one")])
    sent = (await db.due_outbox(10**6, 10))[0]
    await db.mark_sent(sent.id, 5)
    await db.migrate_chat(old, new, now_ms=50)
    assert await db.list_subscriptions(old) == []
    assert await db.list_subscriptions(new) == [replace(sub, chat_key=new)]
    assert await db.list_subscriptions("telegram:7") == [other]
    assert (await db.active_mutes(0))[new] == {"BTC": 9_000, None: 8_000}
    assert old not in await db.active_mutes(0)
    assert [(r.chat_key, r.message.title) for r in await db.due_outbox(10**6, 10)] == [
        (new, "pending-one")
    ]
    chat = await db.get_chat(new)
    assert chat is not None and chat.kind == "group" and chat.paused_reason is None
    assert sub.id in {s.id for s in await db.active_subscriptions()}


async def test_mutes(db: Database) -> None:
    await db.set_mute("telegram:1", None, 1_000)
    await db.set_mute("telegram:1", "BTC", 2_000)
    await db.set_mute("telegram:1", "BTC", 3_000)  # extending replaces
    await db.set_mute("telegram:2", "ETH", 500)
    assert await db.active_mutes(400) == {
        "telegram:1": {None: 1_000, "BTC": 3_000},
        "telegram:2": {"ETH": 500},
    }
    assert await db.active_mutes(1_000) == {"telegram:1": {"BTC": 3_000}}  # until is exclusive
    assert await db.clear_mutes("telegram:1", "BTC") == 1
    assert await db.active_mutes(0) == {"telegram:1": {None: 1_000}, "telegram:2": {"ETH": 500}}
    assert await db.clear_mutes("telegram:1") == 1
    assert await db.prune_mutes(600) == 1
    assert await db.active_mutes(0) == {}


# ---- buckets and gaps ------------------------------------------------------------------------


async def test_buckets_upsert_replaces_load_and_prune(db: Database) -> None:
    m = 60_000
    await db.upsert_buckets(
        [BucketRow(m, "BTC", "binance", 1.0, 2.0), BucketRow(2 * m, "BTC", "binance", 3.0, 0.0)]
    )
    await db.upsert_buckets(
        [
            BucketRow(m, "BTC", "binance", 5.0, 6.0),  # full sums: replace
            BucketRow(m, "BTC", "bybit", 7.0, 8.0),
        ]
    )
    rows = await db.load_buckets(0)
    assert [
        tuple(getattr(r, f) for f in ("minute_ms", "coin", "venue", "longs", "shorts"))
        for r in rows
    ] == [
        (m, "BTC", "binance", 5.0, 6.0),
        (m, "BTC", "bybit", 7.0, 8.0),
        (2 * m, "BTC", "binance", 3.0, 0.0),
    ]
    assert all(isinstance(r, BucketRow) for r in rows)
    assert len(await db.load_buckets(2 * m)) == 1
    assert await db.prune_buckets(2 * m) == 2
    assert len(await db.load_buckets(0)) == 1
    assert await db.upsert_buckets([]) == 0


async def test_bucket_minutes_hold_the_stored_values_bit_for_bit(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bucket_minutes is load_buckets grouped by minute: the same buckets in the same order and
    the same doubles, whatever they hold (the SQLite path writes integral ones as text)."""
    m = 60_000
    keys = [("BTC", "binance"), ("BTC", "okx"), ("ETH", "binance"), ("Ä", "okx")]
    rows = [
        BucketRow(i * m, coin, venue, float(i * 1000 + j), float(j))
        for i in range(1, 7)
        for j, (coin, venue) in enumerate(keys)
        if not (i == 4 and coin == "ETH")  # minute 4 holds other buckets than minutes 1-3
    ]
    # the text's separator in names: in one, and in both of another (as many names each)
    rows.append(BucketRow(5 * m, "A\x1eB", "binance", 1.0, 2.0))
    rows.append(BucketRow(4 * m, "C\x1eD", "x\x1ey", 3.0, 4.0))
    await db.upsert_buckets(rows)
    odd = {  # values upsert_buckets would round: written as they are
        (6 * m, "BTC", "binance"): (0.30000000000000004, 1e15 + 0.5),
        (6 * m, "BTC", "okx"): (2.0**60, 123456789012345.0),  # integral, beyond 2**53
        (6 * m, "Ä", "okx"): (2.0**63, 1e300),  # beyond SQLite's integers
        (5 * m, "ETH", "binance"): (0.0, 1.5),
    }
    for (minute, coin, venue), (longs, shorts) in odd.items():
        await db._write(
            "UPDATE buckets SET longs = ?, shorts = ? WHERE minute_ms = ? AND coin = ? AND venue = ?",
            (longs, shorts, minute, coin, venue),
        )

    def flat(cols: list) -> list[tuple[int, str, str, str, str]]:
        return [
            (minute, coin, venue, values[2 * j].hex(), values[2 * j + 1].hex())
            for minute, ks, values in cols
            for j, (coin, venue) in enumerate(ks)
        ]

    def as_rows(bucket_rows: list[BucketRow]) -> list[tuple[int, str, str, str, str]]:
        return [
            (r.minute_ms, r.coin, r.venue, float(r.longs).hex(), float(r.shorts).hex())
            for r in bucket_rows
        ]

    for since, until in ((0, None), (2 * m, 5 * m), (5 * m, None), (7 * m, None)):
        cols = await db.bucket_minutes(since, until)
        assert flat(cols) == as_rows(await db.load_buckets(since, until))
        assert [c[0] for c in cols] == sorted({c[0] for c in cols})  # one item a minute
    cols = await db.bucket_minutes(0)
    assert cols[0][1] is cols[1][1] is cols[2][1]  # the same buckets: one shared tuple
    assert cols[3][1] != cols[2][1] and len(cols) == 6

    queries = 0
    plain_all = db._all

    async def counted(sql: str, params: tuple = ()) -> list:
        nonlocal queries
        queries += 1
        return await plain_all(sql, params)

    monkeypatch.setattr(db, "_all", counted)
    assert len(flat(await db.bucket_minutes(0, 3 * m))) == 8
    assert queries == 1  # whole dollars: one query, no minute read again as rows


async def test_ten_thousand_buckets_upsert_fast(db: Database) -> None:
    rows = [
        BucketRow(i // 10 * 60_000, f"C{i % 10}", "binance", float(i), 1.0) for i in range(10_000)
    ]
    t0 = time.perf_counter()
    await db.upsert_buckets(rows)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    await db.upsert_buckets(rows)  # all replacing
    again = time.perf_counter() - t0
    print(f"\nupsert 10,000 buckets: {first * 1000:.0f} ms new, {again * 1000:.0f} ms replacing")
    assert len(await db.load_buckets(0)) == 10_000
    assert first < 5 and again < 5  # generous: a row-per-transaction loop takes far longer


async def test_gaps(db: Database) -> None:
    await db.record_gap("bybit", 100, 200)
    await db.record_gap("okx", 300, 400)
    await db.record_gap("binance", 50, 250)
    assert await db.recent_gaps(150) == [
        GapRow("binance", 50, 250),
        GapRow("bybit", 100, 200),
        GapRow("okx", 300, 400),
    ]
    assert await db.recent_gaps(300) == [GapRow("okx", 300, 400)]
    assert await db.prune_gaps(300) == 2
    assert await db.recent_gaps(0) == [GapRow("okx", 300, 400)]


async def test_concurrent_callers_do_not_interleave_transactions(db: Database) -> None:
    import asyncio

    subs = [await add(db, f"telegram:{i}") for i in range(20)]

    async def tick(i: int) -> None:
        s = subs[i]
        await db.commit_transitions([fired(s, i)], [item(s.chat_key, f"k{i}")])

    await asyncio.gather(
        *(tick(i) for i in range(20)),
        *(db.set_mute(f"telegram:{i}", None, 10**9) for i in range(20)),
    )
    assert len(await db.load_states()) == 20
    assert len(await db.due_outbox(10**6, 100)) == 20


async def test_side_reader_reads_the_same_store_beside_it(db: Database, backend: str) -> None:
    await db.upsert_buckets([BucketRow(60_000, "BTC", "binance", 1.0, 2.0)])
    async with db.side_reader() as side:
        assert await side.load_buckets(0) == await db.load_buckets(0)
        # a write on the main connection is seen by the next read beside it (WAL)
        await db.upsert_buckets([BucketRow(120_000, "ETH", "okx", 3.0, 0.0)])
        assert len(await side.bucket_minutes(0)) == 2
        if backend == "sqlite":  # a connection of its own, for reading only
            assert side is not db and side.backend is not db.backend
            with pytest.raises(Exception, match="readonly"):
                await side.upsert_buckets([BucketRow(0, "X", "okx", 1.0, 0.0)])
        else:  # the pool already reads beside other statements
            assert side is db
    if backend == "sqlite":
        with pytest.raises(ValueError):  # closed on leaving
            await side.load_buckets(0)
    assert len(await db.load_buckets(0)) == 2  # the store itself stays open


async def test_side_reader_of_an_in_memory_store_is_the_store() -> None:
    db = await Database.open(":memory:")
    try:
        async with db.side_reader() as side:
            assert side is db  # a second connection would see another, empty database
    finally:
        await db.close()


async def test_mark_sent_many_marks_each_row_once_in_one_go(db: Database) -> None:
    """Delivery's group commit (issue 18 item 2): each row as mark_sent would leave it."""
    await db.enqueue([item("telegram:1", "a"), item("telegram:2", "b"), item("telegram:3", "c")])
    rows = {r.message.title: r for r in await db.due_outbox(10**6, 10)}
    await db.mark_sent_many([])  # nothing to do is not an error
    await db.mark_sent_many([(rows["a"].id, 11), (rows["c"].id, 13)])
    assert [r.message.title for r in await db.due_outbox(10**6, 10)] == ["b"]
    assert (await db.outbox_status(rows["a"].id))[:2] == ("sent", 1)  # type: ignore[index]
    assert (await db.outbox_status(rows["c"].id))[:2] == ("sent", 1)  # type: ignore[index]
    assert (await db.outbox_status(rows["b"].id))[:2] == ("pending", 0)  # type: ignore[index]
