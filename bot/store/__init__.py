"""Storage: one Database interface over an SQLite file or a PostgreSQL database."""

from bot.store.database import Database
from bot.store.location import (
    StoreLocation,
    StoreLocationError,
    StoreUnavailableError,
    parse_location,
    redact,
)
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
    "StoreLocation",
    "StoreLocationError",
    "StoreUnavailableError",
    "parse_location",
    "redact",
]
