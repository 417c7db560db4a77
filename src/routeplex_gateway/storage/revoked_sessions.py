"""Revoked dashboard session rows: recording a sign-out, reading those since a moment, and
forgetting those whose session would have expired anyway."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from routeplex_gateway.storage.conflicts import insert_ignoring_conflicts
from routeplex_gateway.storage.schema import revoked_sessions


async def insert_revoked(
    connection: AsyncConnection, session_id: str, *, expires_at: datetime, now: datetime
) -> None:
    # Signing out twice (two tabs, a retried write) is not an error.
    statement = insert_ignoring_conflicts(revoked_sessions, connection.dialect.name, ["session_id"])
    await connection.execute(
        statement.values(session_id=session_id, expires_at=expires_at, revoked_at=now)
    )


async def revoked_since(
    connection: AsyncConnection, since: datetime | None, *, now: datetime
) -> list[tuple[str, datetime]]:
    """(session id, expiry) of the unexpired sessions revoked at or after `since` (all if None)."""
    query = select(revoked_sessions.c.session_id, revoked_sessions.c.expires_at).where(
        revoked_sessions.c.expires_at > now
    )
    if since is not None:
        query = query.where(revoked_sessions.c.revoked_at >= since)
    return [(row.session_id, row.expires_at) for row in await connection.execute(query)]


async def prune_expired(connection: AsyncConnection, now: datetime) -> int:
    result = await connection.execute(
        delete(revoked_sessions).where(revoked_sessions.c.expires_at <= now)
    )
    return result.rowcount
