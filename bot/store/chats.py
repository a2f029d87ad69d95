"""The store's chats and mutes tables: who the bot talks to, paused chats, moved chats, mutes."""

from __future__ import annotations

from bot.store.queries import QueryHelpers, _guess_kind, _now_ms
from bot.store.rows import ChatRow

_WHOLE_CHAT = ""  # mutes.coin for "the whole chat"


class ChatQueries(QueryHelpers):
    """Mixin of Database: the chats and mutes tables."""

    # ---- chats -------------------------------------------------------------------------------

    async def ensure_chat(
        self, chat_key: str, kind: str = "private", now_ms: int | None = None
    ) -> None:
        # The adapter knows the kind best: the latest one it reports wins.
        await self._write(
            "INSERT INTO chats (chat_key, kind, created_ms) VALUES (?, ?, ?) "
            "ON CONFLICT(chat_key) DO UPDATE SET kind = excluded.kind",
            (chat_key, kind, _now_ms(now_ms)),
        )

    async def get_chat(self, chat_key: str) -> ChatRow | None:
        row = await self._one(
            "SELECT chat_key, kind, paused_reason, created_ms, paused_ms FROM chats "
            "WHERE chat_key = ?",
            (chat_key,),
        )
        return ChatRow(*row) if row else None

    async def chat_tz(self, chat_key: str) -> str | None:
        """The chat's time zone set with /tz (an IANA name), None for UTC (the default)."""
        row = await self._one("SELECT tz FROM chats WHERE chat_key = ?", (chat_key,))
        return row[0] if row and row[0] else None

    async def chat_zones(self) -> dict[str, str]:
        """Every chat with a time zone of its own (/tz): chat key -> IANA name."""
        rows = await self._all("SELECT chat_key, tz FROM chats WHERE tz IS NOT NULL", ())
        return {k: tz for k, tz in rows}

    async def set_chat_tz(self, chat_key: str, tz: str | None) -> None:
        """Set (None: clear, back to UTC) the chat's zone; ensure_chat first."""
        await self._write("UPDATE chats SET tz = ? WHERE chat_key = ?", (tz, chat_key))

    async def chat_quiet(self, chat_key: str) -> str | None:
        """The chat's quiet hours set with /quiet ("23:00-07:00 except big"), None for none."""
        row = await self._one("SELECT quiet FROM chats WHERE chat_key = ?", (chat_key,))
        return row[0] if row and row[0] else None

    async def chats_quiet(self) -> dict[str, str]:
        """Every chat with quiet hours (/quiet): chat key -> their text."""
        rows = await self._all("SELECT chat_key, quiet FROM chats WHERE quiet IS NOT NULL", ())
        return {k: q for k, q in rows}

    async def set_chat_quiet(self, chat_key: str, quiet: str | None) -> None:
        """Set (None: clear) the chat's quiet hours, as QuietHours.text(); ensure_chat first."""
        await self._write("UPDATE chats SET quiet = ? WHERE chat_key = ?", (quiet, chat_key))

    async def chat_lang(self, chat_key: str) -> tuple[str | None, str | None]:
        """(/lang's setting, the language seen in a private chat); None where there is none."""
        row = await self._one("SELECT lang, lang_auto FROM chats WHERE chat_key = ?", (chat_key,))
        return (row[0] or None, row[1] or None) if row else (None, None)

    async def chat_langs(self) -> dict[str, str]:
        """Every chat whose language is not the default English: chat key -> its language
        (the /lang setting, else the one seen in a private chat)."""
        rows = await self._all(
            "SELECT chat_key, COALESCE(lang, lang_auto) FROM chats "
            "WHERE COALESCE(lang, lang_auto) IS NOT NULL AND COALESCE(lang, lang_auto) <> 'en'",
            (),
        )
        return {k: lang for k, lang in rows}

    async def set_chat_lang(self, chat_key: str, lang: str | None) -> None:
        """Set (None: back to the default) the chat's /lang; ensure_chat first."""
        await self._write("UPDATE chats SET lang = ? WHERE chat_key = ?", (lang, chat_key))

    async def set_chat_lang_auto(self, chat_key: str, lang: str | None) -> None:
        """The language a private chat's user writes in (their client's); ensure_chat first."""
        await self._write("UPDATE chats SET lang_auto = ? WHERE chat_key = ?", (lang, chat_key))

    async def pause_chat(
        self, chat_key: str, reason: str, now_ms: int | None = None, *, as_leader: bool = False
    ) -> bool:
        """Stop delivering to (and evaluating for) a chat. True only the first time.

        `as_leader`: delivery's pause after a permanent failure, a leader-only write, fenced
        when replicas share the store (NotLeaderError after a takeover). Without it: a chat
        adapter's pause (blocked, kicked), which any replica serving a webhook may make.
        """
        now_ms = _now_ms(now_ms)
        async with self._leader_tx() if as_leader else self._tx() as c:
            await c.execute(
                "INSERT INTO chats (chat_key, kind, created_ms) VALUES (?, ?, ?) "
                "ON CONFLICT(chat_key) DO NOTHING",
                (chat_key, _guess_kind(chat_key), now_ms),
            )
            cur = await c.execute(
                "UPDATE chats SET paused_reason = ?, paused_ms = ? "
                "WHERE chat_key = ? AND paused_reason IS NULL",
                (reason or "paused", now_ms, chat_key),
            )
            return cur.rowcount > 0

    async def resume_chat(self, chat_key: str) -> bool:
        n = await self._write(
            "UPDATE chats SET paused_reason = NULL, paused_ms = NULL "
            "WHERE chat_key = ? AND paused_reason IS NOT NULL",
            (chat_key,),
        )
        return n > 0

    async def migrate_chat(
        self, old_key: str, new_key: str, now_ms: int | None = None, *, as_leader: bool = False
    ) -> None:
        """A chat got a new key (Telegram group -> supergroup): move what belongs to it.

        `as_leader` as for pause_chat: delivery's move (fenced) or the adapter's (any replica).
        """
        if old_key == new_key:
            return
        now_ms = _now_ms(now_ms)
        async with self._leader_tx() if as_leader else self._tx() as c:
            async with c.execute("SELECT kind FROM chats WHERE chat_key = ?", (old_key,)) as cur:
                row = await cur.fetchone()
            kind = row[0] if row else _guess_kind(new_key)
            await c.execute(
                "INSERT INTO chats (chat_key, kind, created_ms) VALUES (?, ?, ?) "
                "ON CONFLICT(chat_key) DO UPDATE SET paused_reason = NULL, paused_ms = NULL",
                (new_key, kind, now_ms),
            )
            # numbers move along, after the new chat's own (usually none): none collide
            async with c.execute(
                "SELECT chat_key, last_number FROM chats WHERE chat_key IN (?, ?)",
                (old_key, new_key),
            ) as cur:
                last = {r[0]: r[1] for r in await cur.fetchall()}
            await c.execute(
                "UPDATE subscriptions SET chat_key = ?, number = number + ? WHERE chat_key = ?",
                (new_key, last.get(new_key, 0), old_key),
            )
            await c.execute(
                "UPDATE chats SET last_number = ? WHERE chat_key = ?",
                (last.get(new_key, 0) + last.get(old_key, 0), new_key),
            )
            # the time zone (/tz), quiet hours (/quiet) and language (/lang) move along unless
            # the new chat has its own
            for col in ("tz", "quiet", "lang"):
                await c.execute(
                    f"UPDATE chats SET {col} = (SELECT o.{col} FROM chats o WHERE o.chat_key = ?) "
                    f"WHERE chat_key = ? AND {col} IS NULL",
                    (old_key, new_key),
                )
            # a mute already on the new key for the same coin gives way to the moving one
            await c.execute(
                "DELETE FROM mutes WHERE chat_key = ? "
                "AND coin IN (SELECT coin FROM mutes WHERE chat_key = ?)",
                (new_key, old_key),
            )
            await c.execute("UPDATE mutes SET chat_key = ? WHERE chat_key = ?", (new_key, old_key))
            await c.execute(
                "UPDATE outbox SET chat_key = ? WHERE chat_key = ? AND status = 'pending'",
                (new_key, old_key),
            )
            # the digest follows unless the new chat has its own
            await c.execute(
                "UPDATE digests SET chat_key = ? WHERE chat_key = ? "
                "AND NOT EXISTS (SELECT 1 FROM digests d WHERE d.chat_key = ?)",
                (new_key, old_key, new_key),
            )
            await c.execute(
                "UPDATE chats SET paused_reason = ?, paused_ms = ? WHERE chat_key = ?",
                (f"migrated to {new_key}", now_ms, old_key),
            )
            await self._rules_changed(c, old_key)
            await self._rules_changed(c, new_key)
        for listener in self.on_chat_migrated:
            listener(old_key, new_key)

    # ---- mutes -------------------------------------------------------------------------------

    async def set_mute(self, chat_key: str, coin: str | None, until_ms: int) -> None:
        await self._write(
            "INSERT INTO mutes (chat_key, coin, until_ms) VALUES (?, ?, ?) "
            "ON CONFLICT(chat_key, coin) DO UPDATE SET until_ms = excluded.until_ms",
            (chat_key, coin or _WHOLE_CHAT, until_ms),
        )

    async def clear_mutes(self, chat_key: str, coin: str | None = None) -> int:
        if coin is None:
            return await self._write("DELETE FROM mutes WHERE chat_key = ?", (chat_key,))
        return await self._write(
            "DELETE FROM mutes WHERE chat_key = ? AND coin = ?", (chat_key, coin)
        )

    async def active_mutes(self, now_ms: int) -> dict[str, dict[str | None, int]]:
        rows = await self._all(
            "SELECT chat_key, coin, until_ms FROM mutes WHERE until_ms > ?", (now_ms,)
        )
        out: dict[str, dict[str | None, int]] = {}
        for chat_key, coin, until_ms in rows:
            out.setdefault(chat_key, {})[coin or None] = until_ms
        return out

    async def prune_mutes(self, now_ms: int) -> int:
        return await self._write("DELETE FROM mutes WHERE until_ms <= ?", (now_ms,))
