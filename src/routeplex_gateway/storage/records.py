"""The immutable values the store hands back: accounts, API keys and usage rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

# The model of a usage row whose request named no known model and was served by none.
# Parenthesised so it can never be mistaken for a catalog id.
UNKNOWN_MODEL = "(unknown)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    id: str
    name: str
    email: str | None
    plan: str
    limits: Mapping[str, Any] | None  # per-account overrides of the plan's limits
    settings: Mapping[str, Any] | None
    disabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """A stored key: its hash and what may be shown of it, never the key itself."""

    id: str
    account_id: str
    name: str | None
    key_hash: str
    display_prefix: str
    last4: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    allowed_models: tuple[str, ...] | None  # None: every model
    last_used_day: date | None

    def usable_at(self, now: datetime) -> bool:
        """Neither revoked nor expired at `now`."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageRow:
    """Usage of one account and model on one UTC day.

    Token counts and `cost_picousd` sum the known values only; `unknown_cost_requests` says how
    many requests had no known price, so a total is never mistaken for a complete one.
    """

    day: date
    account_id: str
    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_picousd: int
    unknown_cost_requests: int
