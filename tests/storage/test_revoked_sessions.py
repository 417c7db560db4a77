"""Revoked dashboard sessions: recorded once however often, read back since a moment, and
forgotten once the session would have expired — on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from routeplex_gateway.signouts import session_id
from routeplex_gateway.storage import Store

ALIVE, EXPIRED = session_id("alive"), session_id("expired")


async def test_revoked_sessions_are_read_back_and_pruned_once_expired(store: Store) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    before = now - timedelta(seconds=2)
    await store.revoke_session(ALIVE, expires_at=now + timedelta(hours=1))
    await store.revoke_session(ALIVE, expires_at=now + timedelta(hours=1))  # signed out twice
    await store.revoke_session(EXPIRED, expires_at=now - timedelta(seconds=1))

    assert await store.sessions_revoked_since(None) == [(ALIVE, now + timedelta(hours=1))]
    assert [s for s, _ in await store.sessions_revoked_since(before)] == [ALIVE]
    assert await store.sessions_revoked_since(now + timedelta(minutes=1)) == []

    assert await store.prune_revoked_sessions() == 1
    assert await store.prune_revoked_sessions() == 0
    assert [s for s, _ in await store.sessions_revoked_since(None)] == [ALIVE]
