"""Schema migrations: forward-only steps keyed by `PRAGMA user_version`.

Step i (0-based) takes a file from version i to i+1. Never edit a released step; append a new one.
"""

from __future__ import annotations

import aiosqlite

MIGRATIONS: list[tuple[str, ...]] = [
    (  # 1: the initial schema
        """CREATE TABLE chats (
            chat_key TEXT PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'private',
            paused_reason TEXT,
            paused_ms INTEGER,
            created_ms INTEGER NOT NULL
        )""",
        # AUTOINCREMENT: an id is never reused, so "/unsubscribe 3" can't hit a newer rule.
        """CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_key TEXT NOT NULL,
            coin TEXT NOT NULL,
            window_min INTEGER NOT NULL,
            side TEXT NOT NULL,
            threshold REAL NOT NULL,
            origin TEXT NOT NULL DEFAULT 'user',
            created_ms INTEGER NOT NULL
        )""",
        "CREATE INDEX subscriptions_chat ON subscriptions(chat_key, id)",
        """CREATE TABLE alert_states (
            sub_id INTEGER PRIMARY KEY REFERENCES subscriptions(id) ON DELETE CASCADE,
            status TEXT NOT NULL,
            level INTEGER NOT NULL,
            episode INTEGER NOT NULL,
            fired_ms INTEGER,
            last_alert_ms INTEGER
        )""",
        # coin '' = the whole chat (a NULL would defeat the primary key)
        """CREATE TABLE mutes (
            chat_key TEXT NOT NULL,
            coin TEXT NOT NULL DEFAULT '',
            until_ms INTEGER NOT NULL,
            PRIMARY KEY (chat_key, coin)
        ) WITHOUT ROWID""",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_key TEXT NOT NULL,
            message TEXT NOT NULL,
            dedupe_key TEXT NOT NULL UNIQUE,
            created_ms INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_ms INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
            sent_ms INTEGER,
            last_error TEXT
        )""",
        "CREATE INDEX outbox_pending ON outbox(status, chat_key, id)",
        """CREATE TABLE buckets (
            minute_ms INTEGER NOT NULL,
            coin TEXT NOT NULL,
            venue TEXT NOT NULL,
            longs REAL NOT NULL,
            shorts REAL NOT NULL,
            PRIMARY KEY (minute_ms, coin, venue)
        ) WITHOUT ROWID""",
        """CREATE TABLE gaps (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            start_ms INTEGER NOT NULL,
            end_ms INTEGER NOT NULL
        )""",
        "CREATE INDEX gaps_end ON gaps(end_ms)",
    ),
    (  # 2: subscription numbers per chat (#1 is a chat's first); operator rules have none
        "ALTER TABLE subscriptions ADD COLUMN number INTEGER",
        # the chat's last number given out: never reused, so "/unsubscribe 3" can't hit a newer rule
        "ALTER TABLE chats ADD COLUMN last_number INTEGER NOT NULL DEFAULT 0",
        # existing rules keep the number their chat has seen (their global id)
        "UPDATE subscriptions SET number = id WHERE origin != 'config'",
        # every chat with rules has a row already (add_subscription makes it); a safety net
        """INSERT OR IGNORE INTO chats (chat_key, kind, created_ms)
            SELECT DISTINCT chat_key, CASE
                WHEN chat_key LIKE 'telegram:-%' THEN 'group'
                WHEN chat_key LIKE 'discord:channel:%' THEN 'channel'
                ELSE 'private' END, 0
            FROM subscriptions""",
        """UPDATE chats SET last_number = COALESCE(
            (SELECT max(number) FROM subscriptions s WHERE s.chat_key = chats.chat_key), 0)""",
        "CREATE UNIQUE INDEX subscriptions_number ON subscriptions(chat_key, number)",
    ),
    (  # 3: small settings (the Discord command-set hash), and alerts that expire
        "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        # when an alert stops being news (created + its window); NULL: no window of its own
        "ALTER TABLE outbox ADD COLUMN expires_ms INTEGER",
        "CREATE INDEX outbox_expiry ON outbox(status, expires_ms)",
        # due_outbox picks chats newest first by walking this, instead of sorting the backlog
        "CREATE INDEX outbox_fresh ON outbox(status, created_ms DESC)",
        "CREATE INDEX chats_kind ON chats(kind)",
    ),
    (  # 4: daily digests set with /digest (the config's are read from the config at start)
        """CREATE TABLE digests (
            chat_key TEXT PRIMARY KEY,
            at_min INTEGER NOT NULL,
            tz TEXT NOT NULL,
            created_ms INTEGER NOT NULL
        )""",
    ),
    (  # 5: venue filters, single-liquidation rules, relative thresholds (issue 14)
        "ALTER TABLE subscriptions ADD COLUMN venue TEXT",  # NULL: every venue
        "ALTER TABLE subscriptions ADD COLUMN kind TEXT NOT NULL DEFAULT 'window'",
        "ALTER TABLE subscriptions ADD COLUMN factor REAL",  # NULL: a fixed threshold
    ),
    (  # 6: replicas (docs/scaling.md): the leader's epoch, and Telegram updates handled once
        # one row; every takeover increments `epoch`, and the leader's writes check it
        """CREATE TABLE leadership (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            epoch INTEGER NOT NULL,
            leader TEXT NOT NULL DEFAULT '',
            since_ms INTEGER NOT NULL DEFAULT 0
        )""",
        "INSERT INTO leadership (id, epoch) VALUES (1, 0)",
        # the first replica to record an update_id handles it; a redelivery finds it here
        """CREATE TABLE telegram_updates (
            update_id INTEGER PRIMARY KEY,
            seen_ms INTEGER NOT NULL
        )""",
        "CREATE INDEX telegram_updates_seen ON telegram_updates(seen_ms)",
    ),
    (  # 7: update ids are per bot: a store reused by another bot token must not skip its
        # updates (SQLite cannot change a primary key: the table is rebuilt). Rows kept from
        # before get bot 0, which no bot has: they are pruned within the day.
        """CREATE TABLE telegram_updates_by_bot (
            bot_id INTEGER NOT NULL DEFAULT 0,
            update_id INTEGER NOT NULL,
            seen_ms INTEGER NOT NULL,
            PRIMARY KEY (bot_id, update_id)
        )""",
        "INSERT INTO telegram_updates_by_bot (bot_id, update_id, seen_ms) "
        "SELECT 0, update_id, seen_ms FROM telegram_updates",
        "DROP TABLE telegram_updates",
        "ALTER TABLE telegram_updates_by_bot RENAME TO telegram_updates",
        "CREATE INDEX telegram_updates_seen ON telegram_updates(seen_ms)",
    ),
    (  # 8: a chat's time zone (/tz), an IANA name; NULL: UTC
        "ALTER TABLE chats ADD COLUMN tz TEXT",
    ),
    (  # 9: quiet hours (/quiet, "23:00-07:00 except big"; NULL: none) and the Telegram
        # forum topic a subscription alerts into (message_thread_id; NULL: the chat itself)
        "ALTER TABLE chats ADD COLUMN quiet TEXT",
        "ALTER TABLE subscriptions ADD COLUMN thread_id INTEGER",
    ),
    (  # 10: a chat's language: lang set with /lang (NULL: the default), lang_auto the last
        # supported language a private chat's user writes in (Telegram's language_code)
        "ALTER TABLE chats ADD COLUMN lang TEXT",
        "ALTER TABLE chats ADD COLUMN lang_auto TEXT",
    ),
    (  # 11: render once (issue 18): the words a tick's alerts of one series crossing share and
        # the facts of its rules (number, threshold, level), stored once per tick; an outbox row
        # kept as parts names its bodies and rules. Pruned with the outbox: a tick's bodies go
        # when no row of that tick (created_ms) is left.
        """CREATE TABLE outbox_bodies (
            id INTEGER PRIMARY KEY,
            created_ms INTEGER NOT NULL,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX outbox_bodies_created ON outbox_bodies(created_ms)",
    ),
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNewError(RuntimeError):
    """The file was written by a newer version of the bot; refusing to touch it."""


async def migrate(conn: aiosqlite.Connection, steps: list[tuple[str, ...]] = MIGRATIONS) -> int:
    """Bring the file up to `len(steps)`, each step in its own transaction. Returns the version."""
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = int(row[0]) if row else 0
    if version > len(steps):
        raise SchemaTooNewError(
            f"database schema version {version} is newer than this code knows ({len(steps)}); "
            "upgrade the bot or use another file"
        )
    for target in range(version + 1, len(steps) + 1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for sql in steps[target - 1]:
                await conn.execute(sql)
            # user_version lives in the file header and is part of this transaction
            await conn.execute(f"PRAGMA user_version = {target}")
            await conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
    return len(steps)
