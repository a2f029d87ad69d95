"""Outbox messages kept as parts (bot.domain.alert_parts): written as one row per chat plus each
shared body once per tick, and composed back into the full Message when read.

A crash tick's ~50,000 messages were ~66 MB of JSON, nearly all of it the same words about a few
thousand crossings; kept as parts, a chat's row holds only its rules' facts and body names.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from bot.domain.alert_parts import Body, PartsMessage, body_ids, from_row
from bot.domain.message import Message
from bot.locale import get_lang
from bot.store.rows import OutboxItem

# (id, created_ms, body): one stored body
BodyRow = tuple[int, int, str]
# one SELECT of stored bodies: (sql, params) -> rows of (id, body)
Select = Callable[[str, Sequence[Any]], Awaitable[list[Any]]]

_IDS_PER_SELECT = 500  # well below SQLite's and PostgreSQL's parameter limits


def dumps(d: object) -> str:
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def message_json(message: Message) -> str:
    return dumps(message.to_dict())


def encode(items: Iterable[OutboxItem], bodies: list[BodyRow], next_id: int) -> list[str]:
    """Each item's `message` column; the bodies its parts name are appended to `bodies` with
    ids from `next_id` on, each once per tick (created_ms: pruned with that tick's rows)."""
    ids: dict[tuple[int, int], int] = {}  # (created_ms, id(body)) -> its stored id
    out: list[str] = []
    for item in items:
        m = item.message
        if isinstance(m, Message):
            out.append(message_json(m))
            continue
        ms = item.created_ms
        names = []
        for b in m.bodies:
            n = ids.get((ms, id(b)))
            if n is None:
                n = ids[(ms, id(b))] = next_id + len(ids)
                bodies.append((n, ms, b.to_json()))
            names.append(n)
        out.append(m.row_json(names))
    return out


async def decode(texts: Sequence[str], select: Select) -> list[Message]:
    """The Messages of `message` columns, parts rows composed from their bodies."""
    loaded = [json.loads(text) for text in texts]
    wanted = sorted({i for d in loaded if "parts" in d for i in body_ids(d)})
    bodies: dict[int, Body] = {}
    for at in range(0, len(wanted), _IDS_PER_SELECT):
        chunk = wanted[at : at + _IDS_PER_SELECT]
        marks = ",".join("?" * len(chunk))
        for i, text in await select(
            f"SELECT id, body FROM outbox_bodies WHERE id IN ({marks})", chunk
        ):
            bodies[int(i)] = Body.from_json(text)

    def body(i: int) -> Body:
        hit = bodies.get(i)
        if hit is None:  # pruning keeps a tick's bodies while any row of it is left
            raise LookupError(f"outbox body {i} is missing")
        return hit

    return [_message(d, body) if "parts" in d else Message.from_dict(d) for d in loaded]


def _message(row: dict[str, Any], body: Callable[[int], Body]) -> Message:
    parts = from_row(row, body)
    return parts.message(get_lang(parts.lang))


def whole(item: OutboxItem) -> OutboxItem:
    """The item with its message composed: for writes that store no bodies (`enqueue`)."""
    m = item.message
    if isinstance(m, PartsMessage):
        return OutboxItem(item.chat_key, m.message(get_lang(m.lang)), item.dedupe_key, item.created_ms,
                          item.expires_ms)  # fmt: skip
    return item
