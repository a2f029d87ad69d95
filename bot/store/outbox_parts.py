"""Outbox messages kept as parts (bot.domain.alert_parts): written as one row per chat plus each
shared body once per tick, and composed back into the full Message when read.

A crash tick's ~50,000 messages were ~66 MB of JSON, nearly all of it the same words about a few
thousand crossings; kept as parts, a chat's row holds only its rules' facts and body names.
"""

from __future__ import annotations

import json
from collections import OrderedDict
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
    return BodyIds(next_id).encode(items, bodies)


class BodyIds:
    """The ids a tick's shared bodies are stored under, from `next_id` on, each body once: one
    encoder over all of a tick's items, which may come in several slices (a body can be shared
    by chats in any of them)."""

    def __init__(self, next_id: int) -> None:
        self._next = next_id
        # (created_ms, id(body)) -> (its stored id, the body: held, so that its id() stays its)
        self._ids: dict[tuple[int, int], tuple[int, Body]] = {}

    def encode(self, items: Iterable[OutboxItem], bodies: list[BodyRow]) -> list[str]:
        """Each item's `message` column; bodies not stored before are appended to `bodies`."""
        return [self.encode_one(item, bodies) for item in items]

    def encode_one(self, item: OutboxItem, bodies: list[BodyRow]) -> str:
        m = item.message
        if isinstance(m, Message):
            return message_json(m)
        return m.row_json([self.name(b, item.created_ms, bodies) for b in m.bodies])

    def name(self, body: Body, created_ms: int, bodies: list[BodyRow]) -> int:
        """The id `body` is stored under in the tick of `created_ms`; named the first time, it
        is appended to `bodies` (to be written before the rows that name it)."""
        known = self._ids.get((created_ms, id(body)))
        if known is None:
            known = self._ids[(created_ms, id(body))] = (self._next + len(self._ids), body)
            bodies.append((known[0], created_ms, body.to_json()))
        return known[0]


class BodyCache:
    """Bodies already read and indexed, by (id, created_ms), most recently used last.

    A crash tick's body can name every chat's rule (100,000 entries): read and indexed again for
    each drain pass of 500 rows, that was ~O(chats^2) of CPU and took the paid fan-out from
    ~950/s to ~700/s at 100,000 chats. Bodies are never changed once written; an id is reused
    only after its body was pruned, by a later tick, so (id, created_ms) names one body.
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self._max = max_entries  # rules held across all cached bodies (memory bound)
        self._held = 0
        self._bodies: OrderedDict[tuple[int, int], Body] = OrderedDict()

    def get(self, key: tuple[int, int]) -> Body | None:
        body = self._bodies.get(key)
        if body is not None:
            self._bodies.move_to_end(key)
        return body

    def put(self, key: tuple[int, int], body: Body) -> None:
        if key in self._bodies:
            return
        self._bodies[key] = body
        self._held += len(body)
        while self._held > self._max and len(self._bodies) > 1:
            _, old = self._bodies.popitem(last=False)
            self._held -= len(old)

    def __len__(self) -> int:
        return len(self._bodies)


async def decode(texts: Sequence[str], select: Select, cache: BodyCache) -> list[Message]:
    """The Messages of `message` columns, parts rows composed from their bodies (read from
    `cache` where it holds them: only the missing bodies' text is selected)."""
    loaded = [json.loads(text) for text in texts]
    wanted = sorted({i for d in loaded if "parts" in d for i in body_ids(d)})
    bodies: dict[int, Body] = {}
    for at in range(0, len(wanted), _IDS_PER_SELECT):
        chunk = wanted[at : at + _IDS_PER_SELECT]
        marks = ",".join("?" * len(chunk))
        missing: dict[int, int] = {}  # id -> created_ms of the bodies not cached
        for i, ms in await select(
            f"SELECT id, created_ms FROM outbox_bodies WHERE id IN ({marks})", chunk
        ):
            hit = cache.get((int(i), int(ms)))
            if hit is None:
                missing[int(i)] = int(ms)
            else:
                bodies[int(i)] = hit
        if missing:
            marks = ",".join("?" * len(missing))
            for i, text in await select(
                f"SELECT id, body FROM outbox_bodies WHERE id IN ({marks})", list(missing)
            ):
                bodies[int(i)] = read = Body.from_json(text)
                cache.put((int(i), missing[int(i)]), read)

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
