"""A tick's commit, written while the tick still renders (issue 18).

A tick's new states and its outbox rows go into one transaction, as they always did; what
changed is when they are written. The transaction opens right after the evaluation: the states
are written while the engine renders the messages, and each slice of rendered messages while the
next slices render, so the store's work and the rendering overlap instead of adding up.

On SQLite each part is ONE statement over a JSON array (`json_each`). SQLite lets go of the GIL
for the whole of a statement, so the database thread writes on the second core while the event
loop renders. An executemany steps once per row, and every step's return waits for the GIL the
renderer holds (up to the interpreter's 5 ms switch interval): 213,583 state rows beside 0.8 s of
rendering took 1.37 s, as one statement 0.90 s, the rendering's own time. PostgreSQL keeps
executemany (asyncpg pipelines the rows to the server, which does the work).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from bot.domain.alert_parts import Body
from bot.domain.models import Status, Transition
from bot.domain.moves import StateRow, StateValues, Transitions
from bot.store.outbox_parts import BodyIds, BodyRow
from bot.store.rows import OutboxItem

# Outbox rows per statement: few statements, since each hand-over between the event loop and
# the database thread can wait up to 5 ms for the GIL while the renderer runs.
FLUSH_ROWS = 5_000

_STATE_COLUMNS = ("status", "level", "episode", "fired_ms", "last_alert_ms")
_STATE_UPDATE = ", ".join(f"{c} = excluded.{c}" for c in _STATE_COLUMNS)

# The groups' values are read once each (MATERIALIZED): read per id instead, SQLite parsed a
# whole group's list again for each of its ids.
_SQLITE_GROUPS = (
    "WITH g AS MATERIALIZED (SELECT json_extract(value, '$[0]') AS status, "
    "json_extract(value, '$[1]') AS level, json_extract(value, '$[2]') AS episode, "
    "json_extract(value, '$[3]') AS fired_ms, json_extract(value, '$[4]') AS last_alert_ms, "
    "json_extract(value, '$[5]') AS ids FROM json_each(?)) "
    "INSERT INTO alert_states (sub_id, status, level, episode, fired_ms, last_alert_ms) "
    "SELECT i.value, g.status, g.level, g.episode, g.fired_ms, g.last_alert_ms "
    "FROM g, json_each(g.ids) AS i "
)
# First without a look-up of each rule (WHERE true: SQLite's upsert after a SELECT needs a
# WHERE): the foreign key checks the rules new to `alert_states`, and an update needs no check
# (its row is there, so its rule is: a removal deletes the state with it). A rule removed
# since the tick evaluated fails that statement, which SQLite undoes alone; then the checked
# one (WHERE EXISTS) skips the removed instead of losing everyone else's alerts. 213,583
# states in `sqlite3` alone: as updates 391-427 -> 197-206 ms (as inserts about the same).
_SQLITE_STATES_FAST = (
    _SQLITE_GROUPS + f"WHERE true ON CONFLICT(sub_id) DO UPDATE SET {_STATE_UPDATE}"
)
_SQLITE_STATES = (
    _SQLITE_GROUPS + "WHERE EXISTS (SELECT 1 FROM subscriptions WHERE id = i.value) "
    f"ON CONFLICT(sub_id) DO UPDATE SET {_STATE_UPDATE}"
)
_STATES = (  # PostgreSQL's, a row at a time (FOR KEY SHARE: the removal waits for the tick)
    "INSERT INTO alert_states (sub_id, status, level, episode, fired_ms, last_alert_ms) "
    "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS "
    "(SELECT 1 FROM subscriptions WHERE id = ?1{share_lock}) "
    f"ON CONFLICT(sub_id) DO UPDATE SET {_STATE_UPDATE}"
)
# The bodies' texts go as one BLOB, each cut out of it by its byte offset and length (the
# array holds [id, created_ms, offset, length]): a crash tick's ~13 MB of body JSON, escaped
# into a JSON array, took ~50-100 ms to escape and ~360 ms for SQLite to parse out again.
_SQLITE_BODIES = (
    "INSERT INTO outbox_bodies (id, created_ms, body) SELECT json_extract(value, '$[0]'), "
    "json_extract(value, '$[1]'), "
    "CAST(substr(?2, json_extract(value, '$[2]'), json_extract(value, '$[3]')) AS TEXT) "
    "FROM json_each(?1)"
)
# ON CONFLICT(dedupe_key), not OR IGNORE: that would also swallow NOT NULL and CHECK failures,
# silently dropping a broken alert instead of failing the tick. Rows go in the array's order,
# so the outbox ids keep the tick's order. WHERE true: SQLite's upsert after a SELECT needs it.
_SQLITE_OUTBOX = (
    "INSERT INTO outbox (chat_key, message, dedupe_key, created_ms, next_ms, expires_ms) "
    "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[3]'), "
    "json_extract(value, '$[4]') FROM json_each(?) WHERE true "
    "ON CONFLICT(dedupe_key) DO NOTHING"
)
_OUTBOX = (
    "INSERT INTO outbox (chat_key, message, dedupe_key, created_ms, next_ms, expires_ms) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(dedupe_key) DO NOTHING"
)
_BODIES = "INSERT INTO outbox_bodies (id, created_ms, body) VALUES (?, ?, ?)"

# A NUL character as JSON writes it: SQLite's JSON functions end a string at a NUL, so a slice
# holding one goes as bound values. A message's own escaped NUL (its text is JSON already)
# matches too and takes that path as well, needlessly: it only costs speed, and is never seen.
_NUL = "\\u0000"

# one outbox row as written: (chat_key, message column, dedupe_key, created_ms, expires_ms)
Row = tuple[str, str, str, int, int | None]


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def packed_bodies(bodies: Sequence[BodyRow]) -> tuple[str, bytes]:
    """Bodies as `_SQLITE_BODIES` reads them: the JSON array of [id, created_ms, offset,
    length] (SQLite's offsets count bytes from 1) and the BLOB of their UTF-8 texts."""
    texts = [text.encode() for _, _, text in bodies]
    where: list[list[int]] = []
    at = 1
    for (body_id, created_ms, _), text in zip(bodies, texts, strict=True):
        where.append([body_id, created_ms, at, len(text)])
        at += len(text)
    return _dumps(where), b"".join(texts)


def _row_of(t: Transition) -> StateRow:
    n = t.new
    return (t.sub_id, Status(n.status).value, n.level, n.episode, n.fired_ms, n.last_alert_ms)


def state_rows(
    transitions: Sequence[Transition] | Transitions, also: Sequence[Transition] = ()
) -> list[StateRow]:
    """The tick's new states as store rows, in key order: the upserts and the subscription
    look-ups walk the B-trees in order, not at random (213,583 states: ~1.8 s -> ~0.45 s)."""
    if isinstance(transitions, Transitions):
        rows = transitions.state_rows()
    else:
        rows = [_row_of(t) for t in transitions]
    rows += [_row_of(t) for t in also]  # the other rule kinds' moves (bot.domain.extra_rules)
    rows.sort(key=itemgetter(0))
    return rows


def state_groups(
    transitions: Sequence[Transition] | Transitions, also: Sequence[Transition] = ()
) -> dict[StateValues, list[int]]:
    """The tick's new states by value, each group's ids in key order (see `state_rows`).

    Grouped and ordered by one sort of (the value's number, the id) in one integer each:
    a crash tick's 213,583 states took ~0.2 s as a dict look-up, a list append and a sort per
    group."""
    if isinstance(transitions, Transitions):
        values, codes, ids = transitions.state_codes()
        extra: Iterable[Transition] = also
    else:
        values, codes, ids, extra = [], [], [], [*transitions, *also]
    numbers = {v: n for n, v in enumerate(values)}
    for t in extra:  # the other rule kinds' moves (bot.domain.extra_rules), few
        row = _row_of(t)
        codes.append(numbers.setdefault(row[1:], len(numbers)))
        ids.append(row[0])
    if not ids:
        return {}
    values = list(numbers)
    code = np.array(codes, np.int64)
    sub_id = np.array(ids, np.int64)
    span = int(sub_id.max()) + 1
    if int(sub_id.min()) >= 0 and len(values) * span < 2**62:
        key = code * span + sub_id
        key.sort()
        code, sub_id = key // span, key % span
    else:  # ids beyond one integer's room (never made by the store's AUTOINCREMENT)
        order = np.lexsort((sub_id, code))
        code, sub_id = code[order], sub_id[order]
    cuts = np.flatnonzero(np.diff(code)) + 1
    starts = [0, *cuts.tolist()]
    return {
        values[int(code[at])]: part.tolist()
        for at, part in zip(starts, np.split(sub_id, cuts), strict=True)
    }


class TickCommit:
    """The writes of one tick inside its open transaction, each started as soon as it is known
    and run one after another in that order; `finish` waits for them all (the transaction then
    commits), `abandon` lets the running one end and starts no other (it then rolls back)."""

    def __init__(self, c: Any, dialect: str, share_lock: str, next_body_id: int) -> None:
        self._c = c
        self._sqlite = dialect == "sqlite"
        self._share_lock = share_lock  # PostgreSQL: the subscription look-up's FOR KEY SHARE
        self._ids = BodyIds(next_body_id)
        self._rows: list[Row] = []
        self._bodies: list[BodyRow] = []
        self._last: asyncio.Future[Any] | None = None  # the last write started
        self._started: list[asyncio.Future[Any]] = []  # SQLite: every write started
        self._stopped = False
        self._sealed = False

    def states(
        self, transitions: Sequence[Transition] | Transitions, also: Sequence[Transition] = ()
    ) -> None:
        """Start writing the tick's new states."""
        if not transitions and not also:
            return
        if self._sqlite:
            groups = state_groups(transitions, also)
            self._start(self._sqlite_states(_dumps([[*v, ids] for v, ids in groups.items()])))
            return
        rows = state_rows(transitions, also)
        sql = _STATES.format(share_lock=self._share_lock)
        self._then(lambda: self._c.executemany(sql, rows))

    def add(self, items: Iterable[OutboxItem | Row]) -> None:
        """Encode these outbox items (in order, after those added before) and start writing
        them once a statement's worth has gathered; a `Row` is one encoded already (its bodies
        named through `body_id`). Raises a write's error as soon as it is known, so a failed
        tick stops rendering."""
        if self._sealed:
            raise RuntimeError("this tick's commit is sealed: no more items")
        self._raise_failure()
        rows, encode, bodies = self._rows, self._ids.encode_one, self._bodies
        for x in items:
            if isinstance(x, tuple):
                rows.append(x)
            else:
                text = encode(x, bodies)
                rows.append((x.chat_key, text, x.dedupe_key, x.created_ms, x.expires_ms))
        if len(rows) >= FLUSH_ROWS:
            self._flush()

    def body_id(self, body: Body, created_ms: int) -> int:
        """The id `body` is stored under, for rows encoded by the caller (`Row`); written with
        the next statement, before the rows that name it."""
        return self._ids.name(body, created_ms, self._bodies)

    def flush(self) -> None:
        """Start writing what has gathered now (bodies named through `body_id`, rows added),
        without waiting for a statement's worth."""
        if self._sealed:
            raise RuntimeError("this tick's commit is sealed: no more items")
        self._raise_failure()
        self._flush()

    def seal(self) -> None:
        """No more items: start writing what is left now, so that it runs on the database
        thread while the caller goes on (the engine applies the moves to its book meanwhile).
        The COMMIT is not queued behind: SQLite undoes only a failed statement, and a COMMIT
        that ran after one would keep the rest of the tick. `finish` waits for every write;
        the transaction commits after it."""
        self._raise_failure()
        self._flush()
        self._sealed = True

    async def finish(self) -> None:
        """Write what is left and wait for every write; raises the first one's error."""
        if not self._sealed:
            self._flush()
        if self._sqlite:  # each in turn: the first failure is the one raised
            for write in self._started:
                await write
        elif self._last is not None:
            await self._last

    async def abandon(self) -> None:
        """Start no more writes and wait for the one running (its error, if any, is the
        caller's to report: the transaction is rolled back either way)."""
        self._stopped = True
        for write in [*self._started, *([self._last] if self._last is not None else [])]:
            with contextlib.suppress(Exception):
                await write

    def _flush(self) -> None:
        bodies, rows = self._bodies, self._rows
        self._bodies, self._rows = [], []
        if self._sqlite:
            if bodies:  # a tick's shared words, before the rows naming them
                self._execute(_SQLITE_BODIES, *packed_bodies(bodies))
            if rows:
                text = _dumps(rows)
                if _NUL not in text:
                    self._execute(_SQLITE_OUTBOX, text)
                else:  # SQLite's JSON would cut the string there: bound values keep it
                    self._execute_many(_OUTBOX, [(c, m, k, at, at, ex) for c, m, k, at, ex in rows])
            return
        if bodies:
            self._then(lambda: self._c.executemany(_BODIES, bodies))
        if rows:
            self._then(
                lambda: self._c.executemany(
                    _OUTBOX, [(c, m, k, at, at, ex) for c, m, k, at, ex in rows]
                )
            )

    async def _sqlite_states(self, groups: str) -> None:
        """SQLite: the states, unchecked first, checked if a rule was removed meanwhile."""
        try:
            await self._c.execute(_SQLITE_STATES_FAST, (groups,))
        except sqlite3.IntegrityError:  # FOREIGN KEY constraint failed: undone, go again
            await self._c.execute(_SQLITE_STATES, (groups,))

    def _start(self, write: Awaitable[Any]) -> None:
        """SQLite: start `write` now (its statements queue on the connection's thread)."""
        self._last = asyncio.ensure_future(write)
        self._started.append(self._last)

    def _execute(self, sql: str, array: str, *more: object) -> None:
        """SQLite: hand one statement over a JSON array (and `more` values) to the connection's
        thread now. Its queue runs them in order, back to back, without waiting for the event
        loop between them; after a failed one the rest still run, and the rollback undoes them
        all."""
        self._start(self._c.execute(sql, (array, *more)))

    def _execute_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """SQLite: hand one executemany to the connection's thread now (as `_execute`)."""
        self._start(self._c.executemany(sql, rows))

    def _then(self, write: Callable[[], Awaitable[Any]]) -> None:
        """Start `write` once the writes before it are done (none after a failed one)."""
        before = self._last

        async def step() -> None:
            if before is not None:
                await before  # a failure before this one is this one's too
            if not self._stopped:
                await write()

        self._last = asyncio.ensure_future(step())

    def _raise_failure(self) -> None:
        for write in self._started or ([self._last] if self._last is not None else []):
            if write.done() and not write.cancelled() and (error := write.exception()):
                raise error
