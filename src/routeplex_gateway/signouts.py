"""Signed-out dashboard sessions: the ids every process refuses, held in memory and shared
through the database.

A session cookie is signed, not stored, so clearing it in the browser that signed out ends
nothing for a copy of it kept elsewhere. Signing out therefore records the session's id —
the SHA-256 of its nonce, so the table holds nothing a cookie is made of — in
`revoked_sessions`; the process that signed out refuses it at once, and every
process reloads what was revoked since its last look every `key_refresh_s` seconds — the
bound a key revocation has too. The database and not Redis: it is there in every deployment,
and one store keeps the rule the same whether or not Redis is configured. Entries are
forgotten, here and in the database, once the session they name would have expired.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import UTC, datetime, timedelta

from .storage import StorageError, Store

log = logging.getLogger(__name__)

# As for keys: incremental reloads trust the revoking process's clock to within the
# overlap; every this many rounds everything is reloaded (and the table pruned).
_FULL_RELOAD_EVERY = 12


def session_id(nonce: str) -> str:
    """How a session is named in `revoked_sessions`."""
    return hashlib.sha256(nonce.encode()).hexdigest()


class SignedOutSessions:
    """The revoked session ids (with their expiry, Unix time), refreshed in the background.
    Asked and told by the session's nonce."""

    def __init__(self, store: Store, refresh_s: float) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._revoked: dict[str, int] = {}
        self._unsaved: dict[str, int] = {}  # revoked here while the database was away
        self._since: datetime | None = None
        self._rounds = 0

    def __contains__(self, nonce: str) -> bool:
        expires = self._revoked.get(session_id(nonce))
        return expires is not None and expires > time.time()

    async def start(self) -> None:
        """The first load; `refresh` then runs as a supervised background loop."""
        await self._reload(full=True)

    async def revoke(self, nonce: str, expires_at: int) -> None:
        """Refuse the session from now on: here at once, elsewhere once it is stored."""
        revoked = session_id(nonce)
        self._revoked[revoked] = expires_at
        try:
            await self._save(revoked, expires_at)
        except StorageError:
            # Kept, and stored by the next refresh that reaches the database.
            self._unsaved[revoked] = expires_at
            log.warning("session revocation not stored yet; retrying at the next refresh")

    async def refresh(self) -> None:
        """One round of the refresh loop. The database being away is expected: the sessions
        revoked so far stay refused."""
        await asyncio.sleep(self._refresh_s)
        self._rounds += 1
        try:
            for unsaved, expires_at in list(self._unsaved.items()):
                if expires_at > time.time():  # an expired session needs no revocation
                    await self._save(unsaved, expires_at)
                del self._unsaved[unsaved]
            full = self._rounds % _FULL_RELOAD_EVERY == 0
            if full:
                await self._store.prune_revoked_sessions()
            await self._reload(full=full)
        except StorageError:
            log.warning("session revocation refresh failed; keeping the revoked sessions known")

    async def _save(self, revoked: str, expires_at: int) -> None:
        await self._store.revoke_session(
            revoked, expires_at=datetime.fromtimestamp(expires_at, UTC)
        )

    async def _reload(self, *, full: bool) -> None:
        started = datetime.now(UTC)
        rows = await self._store.sessions_revoked_since(None if full else self._since)
        now = time.time()
        # A revocation is never undone, so what is known stays (including what this process
        # has not stored yet) until the session it names has expired.
        self._revoked = {s: e for s, e in self._revoked.items() if e > now}
        for revoked, expires_at in rows:
            self._revoked[revoked] = int(expires_at.timestamp())
        # Overlap the windows slightly: a revocation committed while we read comes next time.
        self._since = started - timedelta(seconds=1)
