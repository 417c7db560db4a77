"""Account rows: creating, reading, updating and deleting them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Label, RowMapping, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from routeplex_gateway.storage.column_types import json_object
from routeplex_gateway.storage.errors import InvalidAccountName
from routeplex_gateway.storage.records import Account, Unset
from routeplex_gateway.storage.schema import accounts

# Prefix of the account columns when they are selected next to a key's (same column names).
JOINED_PREFIX = "account__"


MAX_NAME_LENGTH = 100


def check_name(name: str) -> None:
    """The one rule for an account's name, whoever creates it: API, dashboard or CLI."""
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidAccountName(f"must be 1 to {MAX_NAME_LENGTH} characters")


def new_account_id() -> str:
    return "acc_" + secrets.token_hex(8)


async def insert_account(
    connection: AsyncConnection, *, name: str, plan: str, email: str | None, now: datetime
) -> Account:
    account = Account(
        id=new_account_id(),
        name=name,
        email=email,
        plan=plan,
        limits=None,
        settings=None,
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    await connection.execute(
        insert(accounts).values(
            id=account.id,
            name=account.name,
            email=account.email,
            plan=account.plan,
            limits=None,
            settings=None,
            disabled=False,
            created_at=now,
            updated_at=now,
        )
    )
    return account


async def account_by_id(connection: AsyncConnection, account_id: str) -> Account | None:
    row = (
        (await connection.execute(select(accounts).where(accounts.c.id == account_id)))
        .mappings()
        .first()
    )
    return None if row is None else account_from_row(row)


async def account_by_name(connection: AsyncConnection, name: str) -> Account | None:
    row = (
        (await connection.execute(select(accounts).where(accounts.c.name == name)))
        .mappings()
        .first()
    )
    return None if row is None else account_from_row(row)


async def all_accounts(connection: AsyncConnection) -> list[Account]:
    result = await connection.execute(select(accounts).order_by(accounts.c.name))
    return [account_from_row(row) for row in result.mappings()]


async def update_account(
    connection: AsyncConnection,
    account_id: str,
    *,
    plan: str | Unset,
    limits: Mapping[str, Any] | Unset | None,
    email: str | Unset | None,
    disabled: bool | Unset,
    now: datetime,
    data_policy: str | Unset | None = Unset.UNSET,
) -> Account | None:
    """Change the given fields only; None if there is no such account."""
    changes: dict[str, Any] = {}
    if not isinstance(plan, Unset):
        changes["plan"] = plan
    if not isinstance(limits, Unset):
        changes["limits"] = json_object(limits)
    if not isinstance(email, Unset):
        changes["email"] = email
    if not isinstance(disabled, Unset):
        changes["disabled"] = disabled
    if not isinstance(data_policy, Unset):
        changes["data_policy"] = data_policy or None
    if not changes:
        # Nothing to change, so nothing for the key caches to hear about either.
        return await account_by_id(connection, account_id)
    # updated_at moves so that `keys_changed_since` hands every key of the account to the
    # replicas again: a plan, limit, data policy or disabled flag is part of what they cache
    # per key.
    result = await connection.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(**changes, updated_at=now)
        .returning(*accounts.c)
    )
    row = result.mappings().first()
    return None if row is None else account_from_row(row)


async def lock_account(connection: AsyncConnection, account_id: str) -> bool:
    """Lock the account's row until the transaction ends; False if there is no such account.

    On PostgreSQL this keeps a key from being inserted for it meanwhile (the foreign key check
    waits). SQLite renders no FOR UPDATE; there the first write of the transaction serialises.
    """
    result = await connection.execute(
        select(accounts.c.id).where(accounts.c.id == account_id).with_for_update()
    )
    return result.first() is not None


async def delete_account(connection: AsyncConnection, account_id: str) -> bool:
    """Delete the account row; its keys must be gone already (the foreign key insists)."""
    result = await connection.execute(delete(accounts).where(accounts.c.id == account_id))
    return result.rowcount == 1


def joined_account_columns() -> list[Label[Any]]:
    """The account columns, labelled with `JOINED_PREFIX`, for selecting beside another table."""
    return [column.label(JOINED_PREFIX + column.name) for column in accounts.c]


def account_from_row(row: RowMapping, prefix: str = "") -> Account:
    return Account(
        id=row[prefix + "id"],
        name=row[prefix + "name"],
        email=row[prefix + "email"],
        plan=row[prefix + "plan"],
        limits=row[prefix + "limits"],
        settings=row[prefix + "settings"],
        disabled=bool(row[prefix + "disabled"]),
        created_at=row[prefix + "created_at"],
        updated_at=row[prefix + "updated_at"],
        data_policy=row[prefix + "data_policy"],
    )
