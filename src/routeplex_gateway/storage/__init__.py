"""Storage: accounts, API keys, request metadata and billing in SQLite or PostgreSQL.

`Store` is the interface; `schema` the tables; `migrations/` the Alembic revisions that
create them. Nothing here connects until a `Store` method is awaited.
"""

from routeplex_gateway.storage.errors import AccountExists, InvalidAccountName, StorageError
from routeplex_gateway.storage.records import (
    UNKNOWN_MODEL,
    UNSET,
    Account,
    AdminKey,
    ApiKey,
    DayTotal,
    PolicyRecord,
    SurfaceUsage,
    Unset,
    UsageRow,
)
from routeplex_gateway.storage.store import Store

__all__ = [
    "UNKNOWN_MODEL",
    "UNSET",
    "Account",
    "AccountExists",
    "AdminKey",
    "ApiKey",
    "DayTotal",
    "InvalidAccountName",
    "PolicyRecord",
    "StorageError",
    "Store",
    "SurfaceUsage",
    "Unset",
    "UsageRow",
]
