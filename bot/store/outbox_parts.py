"""Outbox messages kept as parts (bot.domain.alert_parts): written as one row per chat plus each
shared body once per tick, and composed back into the full Message when read.

A crash tick's ~50,000 messages were ~66 MB of JSON, nearly all of it the same words about a few
thousand crossings; kept as parts, a chat's row holds only its rules' facts and body names.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from bot.domain.alert_parts import PartsMessage, SeriesText, body_key, from_row, parts_names
from bot.domain.message import Message
from bot.store.rows import OutboxItem

# (created_ms, name, body): one stored body
BodyRow = tuple[int, str, str]
# one SELECT of stored bodies: (sql, params) -> rows of (name, body)
Select = Callable[[str, Sequence[Any]], Awaitable[list[Any]]]

_NAMES_PER_SELECT = 500  # well below SQLite's and PostgreSQL's parameter limits


def dumps(d: object) -> str:
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def message_json(message: Message) -> str:
    return dumps(message.to_dict())


def encode(items: Iterable[OutboxItem], bodies: list[BodyRow]) -> list[str]:
    """Each item's `message` column; the bodies its parts name are appended to `bodies`, each
    (tick, body) once."""
    names: dict[tuple[int, int], str] = {}  # (created_ms, id(series)) -> its name
    out: list[str] = []
    for item in items:
        m = item.message
        if isinstance(m, Message):
            out.append(message_json(m))
            continue
        ms = item.created_ms

        def name(s: SeriesText, ms: int = ms) -> str:
            n = names.get((ms, id(s)))
            if n is None:
                body = s.to_json()
                n = names[(ms, id(s))] = body_key(body)
                bodies.append((ms, n, body))
            return n

        out.append(dumps(m.row_dict(name)))
    return out


async def decode(rows: Sequence[tuple[int, str]], select: Select) -> list[Message]:
    """The Messages of (created_ms, message column) rows, parts rows composed from their bodies."""
    loaded = [json.loads(text) for _, text in rows]
    wanted: dict[int, set[str]] = {}
    for (ms, _), d in zip(rows, loaded, strict=True):
        if "parts" in d:
            wanted.setdefault(ms, set()).update(parts_names(d))
    bodies: dict[tuple[int, str], SeriesText] = {}
    for ms, names in wanted.items():
        ordered = sorted(names)
        for i in range(0, len(ordered), _NAMES_PER_SELECT):
            chunk = ordered[i : i + _NAMES_PER_SELECT]
            marks = ",".join("?" * len(chunk))
            for name, body in await select(
                f"SELECT name, body FROM outbox_bodies WHERE created_ms = ? AND name IN ({marks})",
                [ms, *chunk],
            ):
                bodies[(ms, name)] = SeriesText.from_json(body)
    out: list[Message] = []
    for (ms, _), d in zip(rows, loaded, strict=True):
        if "parts" not in d:
            out.append(Message.from_dict(d))
            continue

        def body(name: str, ms: int = ms) -> SeriesText:
            hit = bodies.get((ms, name))
            if hit is None:  # pruning keeps a tick's bodies while any row of it is left
                raise LookupError(f"outbox body {name} of {ms} is missing")
            return hit

        out.append(from_row(d, body).message())
    return out


def whole(item: OutboxItem) -> OutboxItem:
    """The item with its message composed: for writes that store no bodies (`enqueue`)."""
    m = item.message
    if isinstance(m, PartsMessage):
        return OutboxItem(item.chat_key, m.message(), item.dedupe_key, item.created_ms,
                          item.expires_ms)  # fmt: skip
    return item
