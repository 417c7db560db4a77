"""The store: the one interface to RoutePlex's database, SQLite or PostgreSQL alike.

Every method runs in its own short transaction and turns database failures into
`StorageError` (see `errors.translated`), so callers never see a driver exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from routeplex_gateway.metering.record import RequestMetadata
from routeplex_gateway.storage import accounts as account_rows
from routeplex_gateway.storage import admin_keys as admin_rows
from routeplex_gateway.storage import api_keys as key_rows
from routeplex_gateway.storage import migrator
from routeplex_gateway.storage import request_metadata as metadata_rows
from routeplex_gateway.storage import revoked_sessions as session_rows
from routeplex_gateway.storage import usage as usage_rows
from routeplex_gateway.storage.connection import (
    SQLITE_BEGIN_MODE,
    Backend,
    async_url,
    create_engine,
    sqlite_directory,
)
from routeplex_gateway.storage.errors import AccountExists, translated
from routeplex_gateway.storage.private_files import create_private_database
from routeplex_gateway.storage.records import (
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

DEFAULT_POOL_SIZE = 5


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """Accounts, API keys, request metadata and billing rows behind one async interface."""

    def __init__(self, engine: AsyncEngine, backend: Backend) -> None:
        # Normally built by `Store.open`, which configures the engine for its backend.
        self._engine = engine
        self._backend: Backend = backend

    @classmethod
    @translated("open the database")
    async def open(cls, url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Store:
        """A store for `url` (`sqlite:///path.db` or `postgresql://user@host:port/db`).

        No connection is made yet; `ping` or `migrate` will find out whether one can be.
        """
        backend, driver_url = async_url(url)
        if backend == "sqlite" and sqlite_directory(driver_url) is not None:  # a file
            database = Path(driver_url.database or "")
            await asyncio.to_thread(create_private_database, database)
        return cls(create_engine(backend, driver_url, pool_size=pool_size), backend)

    @property
    def backend(self) -> Backend:
        return self._backend

    async def close(self) -> None:
        await self._engine.dispose()

    @translated("ping")
    async def ping(self) -> None:
        """Raise `StorageError` unless the database answers."""
        async with self._engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    @translated("migrate")
    async def migrate(self) -> None:
        """Upgrade the schema to the newest revision (a no-op when it already is)."""
        await migrator.upgrade_to_head(self._engine)

    @translated("read the schema revision")
    async def schema_revision(self) -> str | None:
        """The schema revision the database is at; None if it was never migrated."""
        return await migrator.current_revision(self._engine)

    # Accounts

    @translated("create account")
    async def create_account(
        self, name: str, *, plan: str = "evaluation", email: str | None = None
    ) -> Account:
        """Create an account; `AccountExists` if the name is taken, `InvalidAccountName` if
        no account may have it."""
        account_rows.check_name(name)
        # The only constraint a new account can break is the unique name. AccountExists is
        # raised after `suppress` has finished with the IntegrityError, so it does not carry
        # it as context: the driver's message quotes the name.
        with suppress(IntegrityError):
            async with self._engine.begin() as connection:
                return await account_rows.insert_account(
                    connection, name=name, plan=plan, email=email, now=_now()
                )
        raise AccountExists("an account with that name already exists")

    @translated("read account")
    async def get_account(self, account_id: str) -> Account | None:
        async with self._engine.connect() as connection:
            return await account_rows.account_by_id(connection, account_id)

    @translated("read account")
    async def get_account_by_name(self, name: str) -> Account | None:
        async with self._engine.connect() as connection:
            return await account_rows.account_by_name(connection, name)

    @translated("list accounts")
    async def list_accounts(self) -> list[Account]:
        async with self._engine.connect() as connection:
            return await account_rows.all_accounts(connection)

    @translated("update account")
    async def update_account(
        self,
        account_id: str,
        *,
        plan: str | Unset = UNSET,
        limits: Mapping[str, Any] | Unset | None = UNSET,
        email: str | Unset | None = UNSET,
        disabled: bool | Unset = UNSET,
        data_policy: str | Unset | None = UNSET,
    ) -> Account | None:
        """Change only the fields given; None if there is no such account.

        `limits=None` clears the overrides (the plan's limits apply); leaving it out (`UNSET`)
        keeps them. `data_policy` is a requirement's label (`data_policy.DataRequirement`),
        None or '' for none. Bumps `updated_at`, so `keys_changed_since` returns the account's keys
        again. Given no fields, changes nothing and returns the account as it is.
        """
        async with self._engine.begin() as connection:
            return await account_rows.update_account(
                connection,
                account_id,
                plan=plan,
                limits=limits,
                email=email,
                disabled=disabled,
                data_policy=data_policy,
                now=_now(),
            )

    @translated("delete account")
    async def delete_account(self, account_id: str) -> bool:
        """Delete the account and its keys; False if there is no such account.

        Request metadata and billing rows are history and stay (they hold ids only). Deleted
        keys do not show in `keys_changed_since`: a process that cached one keeps it until it
        reloads every key, so disable the account (`update_account(..., disabled=True)`) and
        let the caches hear of that before deleting it.
        """
        async with self._engine.connect() as connection:
            if self._backend == "sqlite":
                # Take the write lock at BEGIN. This transaction reads before it writes, and in
                # WAL mode a reader cannot wait for a writer that committed meanwhile (the
                # recorder, often): SQLite refuses at once with SQLITE_BUSY_SNAPSHOT.
                await connection.execution_options(**{SQLITE_BEGIN_MODE: "IMMEDIATE"})
            async with connection.begin():
                if not await account_rows.lock_account(connection, account_id):
                    return False
                await key_rows.delete_keys_of_account(connection, account_id)
                return await account_rows.delete_account(connection, account_id)

    # Admin keys

    @translated("insert admin key")
    async def insert_admin_key(
        self, *, name: str | None, key_hash: str, display_prefix: str, last4: str
    ) -> AdminKey:
        async with self._engine.begin() as connection:
            return await admin_rows.insert_admin_key(
                connection,
                name=name,
                key_hash=key_hash,
                display_prefix=display_prefix,
                last4=last4,
                now=_now(),
            )

    @translated("find admin key")
    async def find_admin_key(self, key_hash: str) -> AdminKey | None:
        async with self._engine.connect() as connection:
            return await admin_rows.admin_key_by_hash(connection, key_hash)

    @translated("list admin keys")
    async def list_admin_keys(self) -> list[AdminKey]:
        async with self._engine.connect() as connection:
            return await admin_rows.all_admin_keys(connection)

    @translated("revoke admin key")
    async def revoke_admin_key(self, key_id: str) -> bool:
        async with self._engine.begin() as connection:
            return await admin_rows.revoke_admin_key(connection, key_id, _now())

    # API keys

    @translated("insert key")
    async def insert_key(
        self,
        *,
        account_id: str,
        name: str | None,
        key_hash: str,
        display_prefix: str,
        last4: str,
        expires_at: datetime | None,
        allowed_models: list[str] | None,
        limits: Mapping[str, Any] | None = None,
        data_policy: str | None = None,
    ) -> ApiKey:
        """Store a new key by its sha256 hex `key_hash`, with optional per-key `limits` and
        data-policy requirement (a label, narrowing the account's).

        `StorageError` if the account does not exist or the hash is already stored.
        """
        async with self._engine.begin() as connection:
            return await key_rows.insert_key(
                connection,
                account_id=account_id,
                name=name,
                key_hash=key_hash,
                display_prefix=display_prefix,
                last4=last4,
                expires_at=expires_at,
                allowed_models=allowed_models,
                limits=limits,
                now=_now(),
                data_policy=data_policy or None,
            )

    @translated("list keys")
    async def list_keys(self, account_id: str) -> list[ApiKey]:
        async with self._engine.connect() as connection:
            return await key_rows.keys_of_account(connection, account_id)

    @translated("revoke key")
    async def revoke_key(self, key_id: str, *, account_id: str | None = None) -> bool:
        """Revoke a key (of `account_id`, when given); False if none such or already revoked."""
        async with self._engine.begin() as connection:
            return await key_rows.revoke_key(connection, key_id, account_id=account_id, now=_now())

    @translated("set key limits")
    async def set_key_limits(
        self, key_id: str, limits: Mapping[str, Any] | None, *, account_id: str | None = None
    ) -> bool:
        """Replace a key's own limits (None: only the account's apply).

        False if there is no such key (of `account_id`, when given). Bumps the key's
        `updated_at`, so `keys_changed_since` returns it again.
        """
        async with self._engine.begin() as connection:
            return await key_rows.set_limits(
                connection, key_id, limits, account_id=account_id, now=_now()
            )

    @translated("set key data policy")
    async def set_key_data_policy(
        self, key_id: str, data_policy: str | None, *, account_id: str | None = None
    ) -> bool:
        """Replace a key's own data-policy requirement (a label; None: only the account's).

        False if there is no such key (of `account_id`, when given). Bumps the key's
        `updated_at`, so `keys_changed_since` returns it again.
        """
        async with self._engine.begin() as connection:
            return await key_rows.set_data_policy(
                connection, key_id, data_policy or None, account_id=account_id, now=_now()
            )

    @translated("find key")
    async def find_key(self, key_hash: str) -> tuple[ApiKey, Account] | None:
        """The key with this hash and its account, revoked or expired ones included."""
        async with self._engine.connect() as connection:
            return await key_rows.key_by_hash(connection, key_hash)

    @translated("list changed keys")
    async def keys_changed_since(self, since: datetime | None) -> list[tuple[ApiKey, Account]]:
        """Keys changed at or after `since`; all if None.

        Changed: created, revoked, given new limits, or of an account that was updated.
        """
        async with self._engine.connect() as connection:
            return await key_rows.keys_changed_since(connection, since)

    @translated("record key use")
    async def touch_last_used(self, days: Mapping[str, date]) -> None:
        """Record the day each key (by id) was last used, in one batch."""
        async with self._engine.begin() as connection:
            await key_rows.touch_last_used(connection, days)

    # Revoked dashboard sessions

    @translated("revoke session")
    async def revoke_session(self, session_id: str, *, expires_at: datetime) -> None:
        """Record that a dashboard session was signed out (idempotent)."""
        async with self._engine.begin() as connection:
            await session_rows.insert_revoked(
                connection, session_id, expires_at=expires_at, now=_now()
            )

    @translated("list revoked sessions")
    async def sessions_revoked_since(self, since: datetime | None) -> list[tuple[str, datetime]]:
        """(id, expiry) of unexpired sessions revoked at or after `since`; all if None."""
        async with self._engine.connect() as connection:
            return await session_rows.revoked_since(connection, since, now=_now())

    @translated("prune revoked sessions")
    async def prune_revoked_sessions(self) -> int:
        """Forget revocations of sessions that have expired anyway; returns how many."""
        async with self._engine.begin() as connection:
            return await session_rows.prune_expired(connection, _now())

    # Request metadata

    @translated("insert metadata")
    async def insert_metadata(self, records: Sequence[RequestMetadata]) -> int:
        """Insert a batch in one transaction, skipping stored request ids; returns rows added."""
        if not records:
            return 0
        async with self._engine.begin() as connection:
            return await metadata_rows.insert_records(connection, records)

    @translated("read metadata")
    async def recent_metadata(self, account_id: str, limit: int = 100) -> list[RequestMetadata]:
        """The account's newest records first."""
        async with self._engine.connect() as connection:
            return await metadata_rows.recent_records(connection, account_id, limit)

    @translated("read metadata")
    async def recent_data_policies(self, account_id: str, limit: int = 20) -> list[PolicyRecord]:
        """What the account's newest records say about data policy, newest first."""
        async with self._engine.connect() as connection:
            return await metadata_rows.recent_policies(connection, account_id, limit)

    @translated("purge metadata")
    async def purge_metadata(self, before: datetime) -> int:
        """Delete records created before `before`; returns how many."""
        async with self._engine.begin() as connection:
            return await metadata_rows.purge_records(connection, before)

    # Usage and billing

    @translated("read usage")
    async def usage(self, *, account_id: str | None, since: date) -> list[UsageRow]:
        """Usage from request metadata per UTC day, account and model, from `since` on."""
        async with self._engine.connect() as connection:
            return await usage_rows.usage_rows(connection, account_id=account_id, since=since)

    @translated("append billing day")
    async def append_billing_day(self, day: date) -> int:
        """Append the closed UTC `day` to billing_daily; idempotent. Returns rows inserted.

        `ValueError` if `day` is today or later (UTC): an open day would be billed short.
        """
        async with self._engine.begin() as connection:
            return await usage_rows.append_day(connection, day, now=_now())

    @translated("read billing")
    async def billing(self, *, account_id: str | None, since: date) -> list[UsageRow]:
        """Billing rows from `since` on, ordered by day then model."""
        async with self._engine.connect() as connection:
            return await usage_rows.billing_rows(connection, account_id=account_id, since=since)

    @translated("read usage")
    async def usage_by_day(self, *, account_id: str | None, since: date) -> list[UsageRow]:
        """Usage from `since` on: billing rows for billed days, request metadata for the rest.

        So days older than the metadata retention still show (from billing), and no day is
        counted twice. Ordered like `usage`.
        """
        async with self._engine.connect() as connection:
            return await usage_rows.usage_by_day(connection, account_id=account_id, since=since)

    @translated("read usage")
    async def usage_by_surface(self, *, account_id: str | None, since: date) -> list[SurfaceUsage]:
        """Usage per surface from `since` on, of one account or all; from request metadata,
        so only as far back as it is kept. Ordered by endpoint."""
        async with self._engine.connect() as connection:
            return await usage_rows.surface_usage(connection, account_id=account_id, since=since)

    @translated("list pending billing days")
    async def pending_billing_days(self, *, until: date) -> list[date]:
        """UTC days before `until` that have request metadata but no billing rows, oldest first.

        The days `append_billing_day` still has to be called for (e.g. after downtime).
        """
        async with self._engine.connect() as connection:
            return await usage_rows.pending_days(connection, until=until)

    @translated("read day totals")
    async def day_totals(self, day: date) -> list[DayTotal]:
        """Requests, tokens and known cost per (account, key) on the UTC `day`.

        Scans the day's request metadata: meant for seeding daily limit counters at start-up,
        not for the request path.
        """
        async with self._engine.connect() as connection:
            return await usage_rows.day_totals(connection, day)
