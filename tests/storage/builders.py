"""Small builders of valid inputs for storage tests."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from routeplex_gateway.metering.record import Endpoint, RequestMetadata, RoutingMode
from routeplex_gateway.storage import Account, ApiKey, Store, UsageRow


def key_hash() -> str:
    """A fresh, well-formed sha256 hex digest (of nothing in particular)."""
    return secrets.token_hex(32)


async def new_key(store: Store, account: Account, **overrides: object) -> ApiKey:
    """A key of `account` stored through `store`; any `insert_key` argument may be overridden."""
    fields: dict[str, object] = {
        "account_id": account.id,
        "name": "ci",
        "key_hash": key_hash(),
        "display_prefix": "rp_live_ab12",
        "last4": "wxyz",
        "expires_at": None,
        "allowed_models": None,
    }
    fields.update(overrides)
    return await store.insert_key(**fields)  # type: ignore[arg-type]


def metadata_record(**overrides: Any) -> RequestMetadata:
    """A complete record of a successful request; any field may be overridden."""
    fields: dict[str, Any] = {
        "request_id": "req_" + secrets.token_hex(12),
        "created_at": datetime(2024, 3, 10, 12, 0, tzinfo=UTC),
        "account_id": "acc_0000000000000001",
        "key_id": "key_0000000000000001",
        "endpoint": Endpoint.OPENAI_CHAT,
        "routing_mode": RoutingMode.MANUAL,
        "strategy": None,
        "requested_model": "gpt-4o-mini",
        "served_model": "gpt-4o-mini",
        "provider": "openai",
        "attempts": 1,
        "fallback_used": False,
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_picousd": 27_000_000,
        "latency_ms": 350,
        "ttfb_ms": 120,
        "http_status": 200,
        "error_code": None,
    }
    fields.update(overrides)
    return RequestMetadata(**fields)


def unanswered_record(**overrides: Any) -> RequestMetadata:
    """A record of a request no model answered: no served model, usage, cost or first byte
    (unknown, never 0); a refusal or a failure, by its overrides."""
    unknown = dict.fromkeys(
        (
            "served_model",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "cost_picousd",
            "ttfb_ms",
        ),
    )
    return metadata_record(**{**unknown, **overrides})


# Accounts and days of the `traffic` fixture (conftest.py) and the usage tests.
ACME, OTHER = "acc_000000000000acme", "acc_00000000000other"
DAY = date(2024, 3, 10)
NEXT_DAY = date(2024, 3, 11)
NEW_YORK = timezone(timedelta(hours=-5))


def at(day: date, hour: int, minute: int = 0, tz: timezone = UTC) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def usage_row(day: date, account: str, model: str, **counts: int | None) -> UsageRow:
    fields: dict[str, int | None] = {
        "requests": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_picousd": 0,
        "unknown_cost_requests": 0,
        "refused_requests": 0,
    }
    fields.update(counts)
    return UsageRow(day=day, account_id=account, model=model, **fields)  # type: ignore[arg-type]
