"""Storage: one SQLite file behind the Database class."""

from bot.store.database import Database
from bot.store.migrations import SCHEMA_VERSION, SchemaTooNewError
from bot.store.rows import BucketRow, ChatRow, GapRow, OutboxItem, OutboxRow

__all__ = [
    "SCHEMA_VERSION",
    "BucketRow",
    "ChatRow",
    "Database",
    "GapRow",
    "OutboxItem",
    "OutboxRow",
    "SchemaTooNewError",
]
