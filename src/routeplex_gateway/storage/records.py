"""The immutable values the store hands back: accounts, API keys and usage rows.

Also `UNSET`, the default of parameters where None is a value of its own (None clears a
field; `UNSET` leaves it as it is).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

# The model of a usage row whose request named no known model and was served by none.
# Parenthesised so it can never be mistaken for a catalog id.
UNKNOWN_MODEL = "(unknown)"


class Unset(enum.Enum):
    """The type of `UNSET`: an argument that was not given, as opposed to one given as None."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET


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
    # Its data-policy requirement's label (`data_policy.DataRequirement`); None: nothing.
    data_policy: str | None = None


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
    # Per-key caps (`tokens_per_day`, `rpm`, …) that may only narrow the account's; storage
    # does not interpret them. None: the account's limits alone. Defaulted so values built
    # before the column existed still construct.
    limits: Mapping[str, Any] | None = None
    # The key's own data-policy requirement's label, narrowing its account's; None: none.
    data_policy: str | None = None

    def usable_at(self, now: datetime) -> bool:
        """Neither revoked nor expired at `now`."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageRow:
    """Usage of one account and model on one UTC day.

    Token counts and `cost_picousd` sum the known values only; `unknown_cost_requests` says how
    many requests a model answered without a known price, so a total is never mistaken for a
    complete one. `refused_requests` counts those the gateway answered itself, before any
    provider call (bad input, limits): they are in `requests` but used no model and cost
    nothing. None on days billed before that count was kept.
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
    refused_requests: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SurfaceUsage:
    """Usage of one surface (an `Endpoint` value: the API a request came in by) over a period.

    Counted as `UsageRow` counts: tokens and `cost_picousd` sum the known values only,
    `unknown_cost_requests` are the requests a model answered without a known price, and
    `refused_requests` those the gateway answered itself before any provider call.
    """

    endpoint: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost_picousd: int
    unknown_cost_requests: int
    refused_requests: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyRecord:
    """What one request's metadata row says about where its prompt went downstream: the
    requirement applied (a label; None: nothing was required), whether it held (None when
    nothing was required), and the policy of the deployment asked last (a label)."""

    created_at: datetime
    request_id: str
    served_model: str | None
    provider: str | None
    data_policy_required: str | None
    data_policy_met: bool | None
    data_policy_served: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DayTotal:
    """What one key of one account used on one UTC day, from request metadata.

    `tokens` is input plus output tokens and `cost_picousd` the sum of the known costs:
    unknown values add nothing (they are unknown, not zero, and cannot be counted).
    """

    account_id: str
    key_id: str
    requests: int
    tokens: int
    cost_picousd: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminKey:
    """An operator's key: its hash and what may be shown of it, never the key itself."""

    id: str
    name: str | None
    key_hash: str
    display_prefix: str
    last4: str
    created_at: datetime
    revoked_at: datetime | None
