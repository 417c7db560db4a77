"""API key rows: a key's hash, what may be displayed of it, and its lifecycle.

The plaintext key never reaches this module; `insert_key` refuses anything that is not a
sha256 hex digest in the hash column, so a key passed by mistake is not written down.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import RowMapping, Select, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from routeplex_gateway.storage.accounts import (
    JOINED_PREFIX,
    account_from_row,
    joined_account_columns,
)
from routeplex_gateway.storage.column_types import json_object
from routeplex_gateway.storage.records import Account, ApiKey
from routeplex_gateway.storage.schema import accounts, api_keys

_HEX = frozenset(string.hexdigits.lower())


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def check_key_hash(key_hash: str) -> None:
    if len(key_hash) != 64 or not _HEX.issuperset(key_hash):
        raise ValueError("key_hash must be a lowercase hex sha256 digest")


async def insert_key(
    connection: AsyncConnection,
    *,
    account_id: str,
    name: str | None,
    key_hash: str,
    display_prefix: str,
    last4: str,
    expires_at: datetime | None,
    allowed_models: list[str] | None,
    limits: Mapping[str, Any] | None,
    now: datetime,
    data_policy: str | None = None,
) -> ApiKey:
    check_key_hash(key_hash)
    stored_limits = json_object(limits)
    key = ApiKey(
        id=new_key_id(),
        account_id=account_id,
        name=name,
        key_hash=key_hash,
        display_prefix=display_prefix,
        last4=last4,
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
        revoked_at=None,
        allowed_models=None if allowed_models is None else tuple(allowed_models),
        last_used_day=None,
        limits=stored_limits,
        data_policy=data_policy,
    )
    await connection.execute(
        insert(api_keys).values(
            id=key.id,
            account_id=account_id,
            name=name,
            key_hash=key_hash,
            display_prefix=display_prefix,
            last4=last4,
            created_at=now,
            updated_at=now,
            expires_at=expires_at,
            revoked_at=None,
            allowed_models=None if allowed_models is None else list(allowed_models),
            last_used_day=None,
            limits=stored_limits,
            data_policy=data_policy,
        )
    )
    return key


async def keys_of_account(connection: AsyncConnection, account_id: str) -> list[ApiKey]:
    result = await connection.execute(
        select(api_keys)
        .where(api_keys.c.account_id == account_id)
        .order_by(api_keys.c.created_at, api_keys.c.id)
    )
    return [key_from_row(row) for row in result.mappings()]


async def revoke_key(
    connection: AsyncConnection, key_id: str, *, account_id: str | None, now: datetime
) -> bool:
    condition = and_(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
    if account_id is not None:
        condition = and_(condition, api_keys.c.account_id == account_id)
    result = await connection.execute(
        update(api_keys).where(condition).values(revoked_at=now, updated_at=now)
    )
    return result.rowcount == 1


async def set_limits(
    connection: AsyncConnection,
    key_id: str,
    limits: Mapping[str, Any] | None,
    *,
    account_id: str | None,
    now: datetime,
) -> bool:
    return await _change(connection, key_id, account_id, now, limits=json_object(limits))


async def set_data_policy(
    connection: AsyncConnection,
    key_id: str,
    data_policy: str | None,
    *,
    account_id: str | None,
    now: datetime,
) -> bool:
    return await _change(connection, key_id, account_id, now, data_policy=data_policy)


async def _change(
    connection: AsyncConnection,
    key_id: str,
    account_id: str | None,
    now: datetime,
    **values: object,
) -> bool:
    """Set `values` on the key (of `account_id`, when given); False if there is none such."""
    condition = api_keys.c.id == key_id
    if account_id is not None:
        condition = and_(condition, api_keys.c.account_id == account_id)
    # updated_at moves so that replicas polling `keys_changed_since` pick up the change.
    result = await connection.execute(
        update(api_keys).where(condition).values(**values, updated_at=now)
    )
    return result.rowcount == 1


async def delete_keys_of_account(connection: AsyncConnection, account_id: str) -> int:
    result = await connection.execute(delete(api_keys).where(api_keys.c.account_id == account_id))
    return result.rowcount


async def key_by_hash(connection: AsyncConnection, key_hash: str) -> tuple[ApiKey, Account] | None:
    result = await connection.execute(_with_account().where(api_keys.c.key_hash == key_hash))
    row = result.mappings().first()
    return None if row is None else (key_from_row(row), account_from_row(row, JOINED_PREFIX))


async def keys_changed_since(
    connection: AsyncConnection, since: datetime | None
) -> list[tuple[ApiKey, Account]]:
    statement = _with_account()
    if since is not None:
        # Inclusive, so a change in the same instant as the previous poll is not missed;
        # an account change (e.g. disabling it) affects all of its keys.
        statement = statement.where(
            or_(api_keys.c.updated_at >= since, accounts.c.updated_at >= since)
        )
    result = await connection.execute(statement.order_by(api_keys.c.created_at, api_keys.c.id))
    return [(key_from_row(row), account_from_row(row, JOINED_PREFIX)) for row in result.mappings()]


async def touch_last_used(connection: AsyncConnection, days: Mapping[str, date]) -> None:
    if not days:
        return
    # Only ever moves forward, so a delayed batch cannot roll the day back. Deliberately
    # leaves updated_at alone: usage is not a change the key caches need to hear about.
    statement = (
        update(api_keys)
        .where(api_keys.c.id == bindparam("key_id"))
        .where(
            or_(
                api_keys.c.last_used_day.is_(None),
                api_keys.c.last_used_day < bindparam("day"),
            )
        )
        .values(last_used_day=bindparam("day"))
    )
    await connection.execute(
        statement, [{"key_id": key_id, "day": day} for key_id, day in days.items()]
    )


def _with_account() -> Select[tuple[object, ...]]:
    return select(api_keys, *joined_account_columns()).join(
        accounts, accounts.c.id == api_keys.c.account_id
    )


def key_from_row(row: RowMapping) -> ApiKey:
    allowed = row["allowed_models"]
    return ApiKey(
        id=row["id"],
        account_id=row["account_id"],
        name=row["name"],
        key_hash=row["key_hash"],
        display_prefix=row["display_prefix"],
        last4=row["last4"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        allowed_models=None if allowed is None else tuple(allowed),
        last_used_day=row["last_used_day"],
        limits=row["limits"],
        data_policy=row["data_policy"],
    )
