"""Admin key rows: operators' keys for the admin API and dashboard, stored as hashes."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import RowMapping, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from routeplex_gateway.storage.api_keys import check_key_hash
from routeplex_gateway.storage.records import AdminKey
from routeplex_gateway.storage.schema import admin_keys


async def insert_admin_key(
    connection: AsyncConnection,
    *,
    name: str | None,
    key_hash: str,
    display_prefix: str,
    last4: str,
    now: datetime,
) -> AdminKey:
    check_key_hash(key_hash)
    key = AdminKey(
        id="adm_" + secrets.token_hex(8),
        name=name,
        key_hash=key_hash,
        display_prefix=display_prefix,
        last4=last4,
        created_at=now,
        revoked_at=None,
    )
    await connection.execute(
        insert(admin_keys).values(
            id=key.id,
            name=name,
            key_hash=key_hash,
            display_prefix=display_prefix,
            last4=last4,
            created_at=now,
            revoked_at=None,
        )
    )
    return key


async def admin_key_by_hash(connection: AsyncConnection, key_hash: str) -> AdminKey | None:
    row = (
        (await connection.execute(select(admin_keys).where(admin_keys.c.key_hash == key_hash)))
        .mappings()
        .first()
    )
    return _from_row(row) if row is not None else None


async def all_admin_keys(connection: AsyncConnection) -> list[AdminKey]:
    rows = (
        (await connection.execute(select(admin_keys).order_by(admin_keys.c.created_at)))
        .mappings()
        .all()
    )
    return [_from_row(row) for row in rows]


async def revoke_admin_key(connection: AsyncConnection, key_id: str, now: datetime) -> bool:
    result = await connection.execute(
        update(admin_keys)
        .where(admin_keys.c.id == key_id, admin_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1


def _from_row(row: RowMapping) -> AdminKey:
    return AdminKey(
        id=row["id"],
        name=row["name"],
        key_hash=row["key_hash"],
        display_prefix=row["display_prefix"],
        last4=row["last4"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
