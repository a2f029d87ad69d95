"""A tick's commit written while it renders (bot/store/tick_commit.py): slices of items give the
rows one encoding of the whole tick gives, any text survives SQLite's JSON statements, and the
tick stays all or nothing however far its writes had got. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.domain.message import Message
from bot.domain.render_alerts import AlertContext
from bot.runtime.tick_items import TickItems
from bot.store import Database, OutboxItem, tick_commit
from bot.store.outbox_parts import encode, message_json
from tests.store.test_database import add, fired, item
from tests.store.test_render_once import seeded_crash

ROWS = (
    "SELECT chat_key, message, dedupe_key, created_ms, next_ms, expires_ms FROM outbox ORDER BY id"
)


async def test_a_crash_written_in_slices_is_the_crash_encoded_at_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tick_commit, "FLUSH_ROWS", 7)  # a statement every 7 rows
    book, crash, now = await seeded_crash(db)
    moves = book.evaluate(crash, now)
    made = TickItems(now, AlertContext(crash, book.policy), attach_chart=True)
    made.add_series(moves)
    items = list(made.items())
    assert len(items) > 3 * 7

    async with db.tick_commit(moves) as commit:
        for at in range(0, len(items), 5):  # slices that do not line up with the statements
            commit.add(items[at : at + 5])

    assert await db.load_states() == {t.sub_id: t.new for t in moves}
    bodies: list[tuple[int, int, str]] = []
    texts = encode(items, bodies, 1)  # one encoder over the whole tick
    want = [
        (i.chat_key, t, i.dedupe_key, now, now, i.expires_ms)
        for i, t in zip(items, texts, strict=True)
    ]
    assert [tuple(r) for r in await db._all(ROWS)] == want  # in the tick's order
    stored = await db._all("SELECT id, created_ms, body FROM outbox_bodies ORDER BY id")
    assert [tuple(r) for r in stored] == bodies
    # a body named by rows of different statements: one stored body, not one per slice
    slices: dict[int, set[int]] = {}
    for n, text in enumerate(texts):
        for b in json.loads(text).get("parts", {}).get("b", []):
            slices.setdefault(b, set()).add(n // 7)
    assert any(len(s) > 1 for s in slices.values())


async def test_any_text_is_stored_as_it_was_given(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tick_commit, "FLUSH_ROWS", 1)  # each row its own statement
    texts = [
        'a quote " a backslash \\ a slash / a newline \n a tab \t a return \r',
        "ж 😀 \u2028 \u2029 \ufeff é",
        "a NUL \x00 inside",
        "an escape written out: \\u0000 \\n",
    ]
    items = [
        OutboxItem(f"telegram:{n}", Message(title=t, lines=(t,)), f"k{n}", 5)
        for n, t in enumerate(texts)
    ]
    if db.dialect == "sqlite":  # PostgreSQL's text holds no NUL at all (it refuses the row)
        items.append(OutboxItem("webhook:a\x00b", Message(title="x"), "key with a NUL \x00", 5))
    await db.commit_transitions([], items)
    rows = await db._all("SELECT chat_key, message, dedupe_key FROM outbox ORDER BY id")
    assert [tuple(r) for r in rows] == [
        (i.chat_key, message_json(i.message), i.dedupe_key)  # type: ignore[arg-type]
        for i in items
    ]
    due = await db.due_outbox(now_ms=10, limit=10)
    assert [r.message.title for r in due][:4] == texts


class _Words:
    """What the store reads of a body: its text (bot.domain.alert_parts.Body.to_json)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def to_json(self) -> str:
        return self.text


async def test_any_body_text_is_stored_as_it_was_given(db: Database) -> None:
    # several bodies in one statement, multi-byte text among them: each is cut out of the
    # statement's packed texts at its own place (bytes, not characters, on SQLite)
    texts = [
        "plain",
        "ж 😀 \u2028 é — multi-byte before the next body",
        'a quote " a backslash \\ a newline \n an escape written out: \\u0000',
        "x",
        "😀" * 1000,
        "the last one",
    ]
    if db.dialect == "sqlite":  # PostgreSQL's text holds no NUL at all
        texts.insert(3, "a NUL \x00 inside")
    async with db.tick_commit([]) as commit:
        ids = [commit.body_id(_Words(t), 7) for t in texts]  # type: ignore[arg-type]
        commit.flush()
    stored = await db._all("SELECT id, created_ms, body FROM outbox_bodies ORDER BY id")
    assert [tuple(r) for r in stored] == [(i, 7, t) for i, t in zip(ids, texts, strict=True)]
    if db.dialect == "sqlite":  # text, as the rows' JSON reads it back, not the BLOB it came in
        kinds = await db._all("SELECT DISTINCT typeof(body) FROM outbox_bodies")
        assert [tuple(r) for r in kinds] == [("text",)]


async def test_an_error_while_rendering_keeps_none_of_the_written_slices(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tick_commit, "FLUSH_ROWS", 1)
    sub = await add(db)
    with pytest.raises(RuntimeError, match="renderer broke"):
        async with db.tick_commit([fired(sub, 500)]) as commit:
            commit.add([item("telegram:1", "k1")])
            commit.add([item("telegram:1", "k2")])
            await commit.finish()  # the states and both rows are written ...
            raise RuntimeError("renderer broke")  # ... and the tick fails after them
    assert await db.load_states() == {}
    assert await db._all(ROWS) == []
    # the store is free and whole: the same tick retried goes through
    await db.commit_transitions([fired(sub, 500)], [item("telegram:1", "k1")])
    assert len(await db._all(ROWS)) == 1


async def test_a_failed_write_stops_the_tick_at_its_next_slice(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tick_commit, "FLUSH_ROWS", 1)
    sub = await add(db)
    bad = OutboxItem(chat_key=None, message=Message(title="x"), dedupe_key="k2", created_ms=1)  # type: ignore[arg-type]
    slices = 0
    with pytest.raises(Exception, match=r"(?i)not[ -]null"):  # either engine's wording
        async with db.tick_commit([fired(sub, 500)]) as commit:
            commit.add([item("telegram:1", "k1"), bad])
            for _ in range(500):  # the renderer goes on until a slice hears of the failure
                await asyncio.sleep(0.005)
                commit.add([])
                slices += 1
    assert slices < 500
    assert await db.load_states() == {}
    assert await db._all(ROWS) == []
