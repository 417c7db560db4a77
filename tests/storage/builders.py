"""Small builders of valid inputs for storage tests."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from routeplex_gateway.metering.record import Endpoint, RequestMetadata, RoutingMode


def key_hash() -> str:
    """A fresh, well-formed sha256 hex digest (of nothing in particular)."""
    return secrets.token_hex(32)


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
