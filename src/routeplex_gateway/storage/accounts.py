"""Account rows: creating and reading them."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Label, RowMapping, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from routeplex_gateway.storage.records import Account
from routeplex_gateway.storage.schema import accounts

# Prefix of the account columns when they are selected next to a key's (same column names).
JOINED_PREFIX = "account__"


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
    )
