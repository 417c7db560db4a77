"""API keys: generation, hashing, and the in-memory lookup that keeps auth off the database.

A key is `rp_live_` + 256 random bits; only its SHA-256 is stored (a slow hash buys nothing
against keys of that entropy, and the hot path can afford one SHA-256). Every process holds
the active keys in memory and reloads what changed every `key_refresh_s` seconds, which bounds
how long a revocation (or an account disabled) in another process takes to apply here; one
made through this process applies at once. A key never seen before costs one lookup, after
which it is cached — and so is its absence, so unknown keys cannot make the database work on
every request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from .data_policy import DataPolicyError, DataRequirement
from .errors import ErrorCode, GatewayError
from .limits.plans import Plans, Policy
from .storage import Account, AdminKey, ApiKey, StorageError, Store

KEY_PREFIX = "rp_live_"
ADMIN_PREFIX = "rp_admin_"
# Failed authentications allowed per client address per minute before it is refused outright:
# guessing keys is hopeless at 256 bits, but there is no reason to let anyone try quickly.
FAILED_AUTH_PER_MINUTE = 30
NOT_A_ROUTEPLEX_KEY = (
    "This is not a RoutePlex API key: RoutePlex keys start with rp_live_; "
    "create one with `routeplex keys create`."
)
_NEGATIVE_CACHE_MAX = 10_000
# Incremental refreshes see changed keys, not deleted ones; every this many rounds the whole
# set is reloaded, which bounds how long a deleted account's keys stay usable elsewhere.
_FULL_RELOAD_EVERY = 12

log = logging.getLogger(__name__)


def generate_key(prefix: str = KEY_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    prefix = ADMIN_PREFIX if key.startswith(ADMIN_PREFIX) else KEY_PREFIX
    return key[: len(prefix) + 4]


def mask_key(key: str) -> str:
    """How a key may ever appear in output: its display prefix and last 4 characters."""
    return f"{display_prefix(key)}…{key[-4:]}" if len(key) > 16 else "…"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key and its account, as the hot path needs them."""

    key_id: str
    key_hash: str
    account_id: str
    account_name: str
    plan: str
    policy: Policy
    allowed_models: tuple[str, ...] | None
    expires_at: datetime | None
    revoked: bool
    disabled: bool
    key_limits: Mapping[str, Any] | None = None  # the key's own caps, to re-derive `policy`
    # What the account and the key require of the providers prompts reach, combined (None:
    # nothing); `key_data_policy` is the key's own label, to re-derive it.
    data_requirement: DataRequirement | None = None
    key_data_policy: str | None = None


# Nothing complies with it: what an unreadable stored requirement becomes (fail closed).
_NOWHERE = DataRequirement(regions=frozenset())


def _requirement(
    key_id: str, account_label: str | None, key_label: str | None
) -> DataRequirement | None:
    try:
        combined = DataRequirement.parse(account_label).narrow(DataRequirement.parse(key_label))
    except DataPolicyError:
        # Written only after validation; should one be unreadable, nothing may serve the key.
        log.warning("stored data policy unreadable; refusing every model", extra={"key_id": key_id})
        return _NOWHERE
    return combined or None


def _policy(
    key_id: str, key_limits: Mapping[str, Any] | None, account: Account, plans: Plans
) -> Policy:
    try:
        return plans.policy(account.plan, account.limits, key_limits)
    except (ValueError, ArithmeticError):
        # Limits stored before validation tightened must not keep the gateway from starting:
        # hold such a key to its plan alone (the narrower choice would need a valid cap).
        log.warning("stored limits unreadable; using the plan's", extra={"key_id": key_id})
        return plans.policy(account.plan, None, None)


def _principal(key: ApiKey, account: Account, plans: Plans) -> Principal:
    return Principal(
        key_id=key.id,
        key_hash=key.key_hash,
        account_id=account.id,
        account_name=account.name,
        plan=account.plan,
        policy=_policy(key.id, key.limits, account, plans),
        key_limits=key.limits,
        data_requirement=_requirement(key.id, account.data_policy, key.data_policy),
        key_data_policy=key.data_policy,
        allowed_models=tuple(key.allowed_models) if key.allowed_models is not None else None,
        expires_at=key.expires_at,
        revoked=key.revoked_at is not None,
        disabled=account.disabled,
    )


async def issue_key(
    store: Store,
    account_id: str,
    *,
    name: str | None = None,
    expires_in_days: int | None = None,
    allowed_models: list[str] | None = None,
    limits: dict[str, Any] | None = None,
    data_policy: str | None = None,
) -> tuple[str, ApiKey]:
    """Create a key; return its plaintext (to be shown once) and its stored record."""
    plaintext = generate_key()
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    record = await store.insert_key(
        account_id=account_id,
        name=name,
        key_hash=hash_key(plaintext),
        display_prefix=display_prefix(plaintext),
        last4=plaintext[-4:],
        expires_at=expires_at,
        allowed_models=allowed_models,
        limits=limits,
        data_policy=data_policy,
    )
    return plaintext, record


async def issue_admin_key(store: Store, *, name: str | None = None) -> tuple[str, AdminKey]:
    """Create an operator key; return its plaintext (to be shown once) and its record."""
    plaintext = generate_key(ADMIN_PREFIX)
    record = await store.insert_admin_key(
        name=name,
        key_hash=hash_key(plaintext),
        display_prefix=display_prefix(plaintext),
        last4=plaintext[-4:],
    )
    return plaintext, record


class FailedAttempts:
    """Failed authentications per client address, in memory only (never stored).

    It slows guessing and nothing else: a valid key is never refused here (the caller checks
    the key first), so a guesser sharing an address with real clients — a NAT, an office, a
    proxy not named in ROUTEPLEX_TRUSTED_PROXIES — cannot lock them out; guessing 256-bit keys
    is hopeless anyway, but there is no reason to let anyone try quickly."""

    def __init__(self, per_minute: int = FAILED_AUTH_PER_MINUTE) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._item = RateLimitItemPerMinute(per_minute)

    async def failed(self, client: str | None) -> None:
        """Count a failure; raise the throttle's refusal if the address is over its limit (the
        refused attempt is not counted, so the window clears a minute after the last counted
        one)."""
        if client is None or await self._limiter.hit(self._item, client):
            return
        stats = await self._limiter.get_window_stats(self._item, client)
        raise GatewayError(
            ErrorCode.RATE_LIMITED,
            "Too many failed authentication attempts from this address; wait a minute.",
            details={"limit": "failed_auth"},
            retry_after_s=max(1.0, stats.reset_time - time.time()),
        )


def bearer_token(header: str | None) -> str:
    if not header:
        raise GatewayError(
            ErrorCode.UNAUTHENTICATED,
            "Missing API key: send 'Authorization: Bearer rp_live_…'.",
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise GatewayError(
            ErrorCode.UNAUTHENTICATED,
            "Malformed Authorization header: expected 'Bearer rp_live_…'.",
        )
    return token


class KeyCache:
    """Active keys by hash, refreshed in the background."""

    def __init__(self, store: Store, plans: Plans, refresh_s: float) -> None:
        self._store = store
        self._plans = plans
        self._refresh_s = refresh_s
        self._keys: dict[str, Principal] = {}
        self._admin: dict[str, AdminKey] = {}
        self._revoked_here: set[str] = set()  # until a reload shows the revocation stored
        # Accounts as this process last stored them, until a reload shows that version.
        self._accounts_here: dict[str, Account] = {}
        self.failures = FailedAttempts()
        self._unknown: dict[str, float] = {}
        self._since: datetime | None = None
        self._rounds = 0

    async def start(self) -> None:
        """The first load; `refresh` then runs as a supervised background loop."""
        await self._reload()

    async def _reload(self, *, full: bool = False) -> None:
        started = datetime.now(UTC)
        changed = await self._store.keys_changed_since(None if full else self._since)
        if full:
            # A full reload also forgets keys that no longer exist (a deleted account).
            self._keys = {}
        for key, account in changed:
            here = self._accounts_here.get(account.id)
            if here is not None:
                if account.updated_at >= here.updated_at:
                    self._accounts_here.pop(account.id)  # the database caught up
                else:
                    account = here  # read before this process's change committed
            principal = _principal(key, account, self._plans)
            if principal.key_id in self._revoked_here:
                if principal.revoked:
                    self._revoked_here.discard(principal.key_id)  # the database caught up
                else:
                    # Read before this process's revocation committed: keep it refused.
                    principal = dataclasses.replace(principal, revoked=True)
            self._keys[key.key_hash] = principal
        self._admin = {k.key_hash: k for k in await self._store.list_admin_keys()}
        # Overlap the windows slightly: a change committed while we read is picked up next time.
        self._since = started - timedelta(seconds=1)
        self._unknown.clear()

    async def refresh(self) -> None:
        """One round of the refresh loop: wait, then load what changed (all of it, now and
        then). The database being away is expected: the cached keys keep serving."""
        await asyncio.sleep(self._refresh_s)
        self._rounds += 1
        try:
            await self._reload(full=self._rounds % _FULL_RELOAD_EVERY == 0)
        except StorageError:
            log.warning("key refresh failed; serving from the cached keys")

    def revoked(self, key_id: str) -> None:
        """Refuse a key at once (revoked through this process)."""
        self._revoked_here.add(key_id)
        for key_hash, principal in self._keys.items():
            if principal.key_id == key_id:
                self._keys[key_hash] = dataclasses.replace(principal, revoked=True)

    def account_changed(self, account: Account) -> None:
        """Apply an account change made through this process (disabled, plan, limits) to its
        cached keys at once, rather than at the next refresh."""
        self._accounts_here[account.id] = account
        for key_hash, principal in self._keys.items():
            if principal.account_id == account.id:
                self._keys[key_hash] = dataclasses.replace(
                    principal,
                    account_name=account.name,
                    plan=account.plan,
                    policy=_policy(principal.key_id, principal.key_limits, account, self._plans),
                    disabled=account.disabled,
                    data_requirement=_requirement(
                        principal.key_id, account.data_policy, principal.key_data_policy
                    ),
                )

    async def authenticate(self, header: str | None, client: str | None = None) -> Principal:
        """The key's principal; a refusal counts against `client`, which is refused outright
        (429) while it keeps failing."""
        try:
            return await self._authenticate(header)
        except GatewayError as error:
            if error.status == 401:
                await self.failures.failed(client)
            raise

    async def authenticate_admin(self, header: str | None, client: str | None = None) -> AdminKey:
        """An operator's key, checked against the admin keys' hashes."""
        token = bearer_token(header)
        key_hash = hash_key(token)
        admin = self._admin.get(key_hash)
        if admin is None and token.startswith(ADMIN_PREFIX):
            # Created by another process since the last refresh.
            admin = await self._store.find_admin_key(key_hash)
            if admin is not None:
                self._admin[key_hash] = admin
        if (
            admin is None
            or admin.revoked_at is not None
            or not hmac.compare_digest(admin.key_hash, key_hash)
        ):
            await self.failures.failed(client)
            raise GatewayError(ErrorCode.INVALID_API_KEY, "Invalid admin key.")
        return admin

    def admin_revoked(self, key_id: str) -> None:
        self._admin = {h: k for h, k in self._admin.items() if k.id != key_id}

    # The dashboard's session cookie holds a key id, not the key; each page asks here whether
    # that key is still good. A scan rather than a second index: it runs once per page view,
    # far from the request path, and keeps the cache's bookkeeping in one place.
    def principal_for_key_id(self, key_id: str) -> Principal | None:
        """The cached key with this id (revoked, disabled or expired included), or None."""
        for principal in self._keys.values():
            if principal.key_id == key_id:
                return principal
        return None

    def admin_for_key_id(self, key_id: str) -> AdminKey | None:
        """The cached admin key with this id, or None (unknown or revoked here)."""
        for admin in self._admin.values():
            if admin.id == key_id:
                return admin
        return None

    async def _authenticate(self, header: str | None) -> Principal:
        token = bearer_token(header)
        if not token.startswith(KEY_PREFIX):
            # Most often a provider's key (`sk-…`) pasted by habit: say what a key looks like
            # (never what was sent), and skip the lookup — no such key was ever issued.
            raise GatewayError(ErrorCode.INVALID_API_KEY, NOT_A_ROUTEPLEX_KEY)
        key_hash = hash_key(token)
        principal = self._keys.get(key_hash)
        if principal is None:
            principal = await self._lookup(key_hash)
        # Dict lookup is by a hash of the key; compare the full digest in constant time anyway.
        if principal is None or not hmac.compare_digest(principal.key_hash, key_hash):
            raise GatewayError(ErrorCode.INVALID_API_KEY, "Invalid API key.")
        if principal.revoked or principal.disabled:
            raise GatewayError(ErrorCode.INVALID_API_KEY, "This API key has been revoked.")
        if principal.expires_at is not None and principal.expires_at <= datetime.now(UTC):
            raise GatewayError(ErrorCode.EXPIRED_API_KEY, "This API key has expired.")
        return principal

    async def _lookup(self, key_hash: str) -> Principal | None:
        now = time.monotonic()
        if self._unknown.get(key_hash, 0.0) > now:
            return None
        try:
            found = await self._store.find_key(key_hash)
        except StorageError:
            raise GatewayError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                "The gateway cannot verify new API keys right now; try again shortly.",
                retryable=True,
            ) from None
        if found is None:
            if len(self._unknown) >= _NEGATIVE_CACHE_MAX:
                self._unknown.clear()
            self._unknown[key_hash] = now + self._refresh_s
            return None
        principal = _principal(*found, self._plans)
        self._keys[key_hash] = principal
        return principal
