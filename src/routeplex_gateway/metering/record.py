"""The request metadata record: the only thing RoutePlex writes down about a request.

Its fields are exactly those of DESIGN.md §4 — numbers, ids and enumerations. There is
deliberately no field that can hold free text: a model name is accepted only if it is a
catalog id (checked where the record is built), and error codes are the closed set of
`errors.ErrorCode`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Endpoint(StrEnum):
    """Which surface received the request."""

    OPENAI_CHAT = "openai.chat_completions"
    NATIVE_CHAT = "native.chat"
    ANTHROPIC_MESSAGES = "anthropic.messages"
    OPENAI_RESPONSES = "openai.responses"
    OPENAI_EMBEDDINGS = "openai.embeddings"


class RoutingMode(StrEnum):
    MANUAL = "manual"
    AUTO = "routeplex-ai"


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestMetadata:
    """One row per request. `None` means unknown (never zero-by-default)."""

    request_id: str
    created_at: datetime  # UTC, timezone-aware
    account_id: str
    key_id: str
    endpoint: Endpoint
    routing_mode: RoutingMode
    strategy: str | None
    requested_model: str | None  # catalog id or "routeplex-ai"; None when not a known id
    served_model: str | None
    provider: str | None
    attempts: int
    fallback_used: bool
    input_tokens: int | None  # all prompt tokens, cached ones included
    output_tokens: int | None  # all completion tokens, reasoning included
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    cost_picousd: int | None  # exact cost in 1e-12 USD; None when the price is unknown
    latency_ms: int
    ttfb_ms: int | None
    http_status: int
    error_code: str | None
    # The tokens are the gateway's estimate (a stream cut short before the provider reported
    # usage: its prompt and the output relayed so far), not the provider's count.
    usage_estimated: bool = False
    # The data-policy requirement applied (its label: `zero-retention, region=eu`), whether
    # it held (False: refused for it), and the policy of the deployment asked last (its
    # label: `retention-days=30, training=no, region=us`). Labels of a closed vocabulary.
    data_policy_required: str | None = None
    data_policy_met: bool | None = None
    data_policy_served: str | None = None

    def as_row(self) -> dict[str, object]:
        """The record as a flat mapping of column name to value."""
        return {name: getattr(self, name) for name in METADATA_FIELDS}


METADATA_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RequestMetadata))
