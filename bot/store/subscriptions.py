"""The store's subscriptions table: each chat's rules, numbered per chat."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from bot.domain.models import Side, Subscription
from bot.store.queries import QueryHelpers, _guess_kind

_SUB_COLS = (
    "id, chat_key, coin, window_min, side, threshold, created_ms, origin, number, venue, kind, "
    "factor, thread_id"
)


# A chat's rules share one chat-key object (sys.intern): 1M rules of ~50k chats hold ~50k key
# strings, not 1M (~60 MB), and a crash tick's grouping by chat reads ~50k strings rather than
# 213,583 scattered copies (bot/runtime/tick_items.py: ~0.1-0.4 s of cache misses, measured).
shared_key = sys.intern

_SIDES = {s.value: s for s in Side}  # a dict lookup: Side(value) is the slow part at 1M rows


def _sub(row: Any) -> Subscription:
    # positional, in _SUB_COLS order: half the time of keywords and Side() at start-up
    (sub_id, chat_key, coin, window, side, threshold, created_ms, origin, number,
     venue, kind, factor, thread) = row  # fmt: skip
    return Subscription(
        sub_id,
        shared_key(chat_key),
        coin,
        window,
        _SIDES[side],
        threshold,
        created_ms,
        origin,
        number or 0,
        venue,
        kind or "window",
        factor,
        thread,
    )


class SubscriptionQueries(QueryHelpers):
    """Mixin of Database: the subscriptions table."""

    # ---- subscriptions -----------------------------------------------------------------------

    async def add_subscription(
        self,
        chat_key: str,
        coin: str,
        window: int,
        side: Side,
        threshold: float,
        now_ms: int,
        origin: str = "user",
        *,
        venue: str | None = None,
        kind: str = "window",
        factor: float | None = None,
        thread: int | None = None,
    ) -> Subscription:
        """Store a rule; `thread`: the Telegram forum topic it was made in (its alerts go
        there)."""
        async with self._tx() as c:
            await c.execute(
                "INSERT INTO chats (chat_key, kind, created_ms) VALUES (?, ?, ?) "
                "ON CONFLICT(chat_key) DO NOTHING",
                (chat_key, _guess_kind(chat_key), now_ms),
            )
            number = None
            if origin != "config":  # the operator's rules take none of the chat's numbers
                async with c.execute(
                    "UPDATE chats SET last_number = last_number + 1 WHERE chat_key = ? "
                    "RETURNING last_number",
                    (chat_key,),
                ) as cur:
                    row = await cur.fetchone()
                assert row is not None
                number = int(row[0])
            async with c.execute(
                "INSERT INTO subscriptions "
                "(chat_key, coin, window_min, side, threshold, origin, created_ms, number, "
                "venue, kind, factor, thread_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    chat_key,
                    coin,
                    int(window),
                    Side(side).value,
                    float(threshold),
                    origin,
                    now_ms,
                    number,
                    venue,
                    kind,
                    factor,
                    thread,
                ),
            ) as cur:
                row = await cur.fetchone()
            assert row is not None
            sub_id = int(row[0])
            await self._rules_changed(c, chat_key)
        return Subscription(
            id=sub_id,
            chat_key=shared_key(chat_key),
            coin=coin,
            window=int(window),
            side=Side(side),
            threshold=float(threshold),
            created_ms=now_ms,
            origin=origin,
            number=number or 0,
            venue=venue,
            kind=kind,
            factor=factor,
            thread=thread,
        )

    async def remove_subscription(self, chat_key: str, sub_id: int) -> bool:
        # chat_key in the WHERE: a chat can only remove its own (its state goes by cascade)
        async with self._tx() as c:
            cur = await c.execute(
                "DELETE FROM subscriptions WHERE id = ? AND chat_key = ?", (sub_id, chat_key)
            )
            if cur.rowcount > 0:
                await self._rules_changed(c, chat_key)
            return bool(cur.rowcount > 0)

    async def remove_all_subscriptions(self, chat_key: str) -> int:
        async with self._tx() as c:
            cur = await c.execute("DELETE FROM subscriptions WHERE chat_key = ?", (chat_key,))
            if cur.rowcount > 0:
                await self._rules_changed(c, chat_key)
            return int(cur.rowcount)

    async def list_subscriptions(self, chat_key: str) -> list[Subscription]:
        rows = await self._all(
            f"SELECT {_SUB_COLS} FROM subscriptions WHERE chat_key = ? ORDER BY id", (chat_key,)
        )
        return [_sub(r) for r in rows]

    async def count_subscriptions(self, chat_key: str) -> int:
        row = await self._one("SELECT count(*) FROM subscriptions WHERE chat_key = ?", (chat_key,))
        return int(row[0])

    async def count_active_subscriptions(self) -> int:
        row = await self._one(
            "SELECT count(*) FROM subscriptions s LEFT JOIN chats c ON c.chat_key = s.chat_key "
            "WHERE c.paused_reason IS NULL"
        )
        return int(row[0])

    async def active_subscriptions(self) -> list[Subscription]:
        """Every subscription whose chat is not paused (a chat with no row is not paused)."""
        rows = await self._all(
            f"SELECT {', '.join('s.' + c.strip() for c in _SUB_COLS.split(','))} "
            "FROM subscriptions s LEFT JOIN chats c ON c.chat_key = s.chat_key "
            "WHERE c.paused_reason IS NULL ORDER BY s.id"
        )
        return [_sub(r) for r in rows]

    async def all_subscriptions(self) -> list[Subscription]:
        """Every subscription, paused chats included (the engine silences those)."""
        rows = await self._all(f"SELECT {_SUB_COLS} FROM subscriptions ORDER BY id")
        return [_sub(r) for r in rows]

    async def subscription_keys(self) -> list[tuple[int, str, int]]:
        """(id, chat_key, number) of every subscription: a takeover compares its book with
        these. A row changes in place only when its chat moves (migrate_chat), so with the id
        they tell every added, removed or moved subscription."""
        rows = await self._all("SELECT id, chat_key, number FROM subscriptions ORDER BY id")
        # number is NULL for the operator's broadcasts (origin config): 0, as _sub reads it
        return [(int(r[0]), str(r[1]), int(r[2] or 0)) for r in rows]

    async def subscriptions_by_id(self, ids: Iterable[int]) -> list[Subscription]:
        out: list[Subscription] = []
        wanted = sorted(set(ids))
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ", ".join("?" * len(part))
            rows = await self._all(
                f"SELECT {_SUB_COLS} FROM subscriptions WHERE id IN ({marks}) ORDER BY id",
                tuple(part),
            )
            out.extend(_sub(r) for r in rows)
        return out

    async def paused_chats(self) -> set[str]:
        rows = await self._all("SELECT chat_key FROM chats WHERE paused_reason IS NOT NULL")
        return {r[0] for r in rows}

    async def chats_with_origin(self, origin: str) -> set[str]:
        """Chats holding subscriptions of this origin ("config": declared broadcasts)."""
        rows = await self._all(
            "SELECT DISTINCT chat_key FROM subscriptions WHERE origin = ?", (origin,)
        )
        return {r[0] for r in rows}
