"""One request's lifecycle, from arrival to its metadata record.

An `Exchange` collects, as the request moves through auth, routing and the provider, exactly
the facts that the metadata record holds — and nothing else: it never sees the request body,
and of a streamed answer only the text relayed so far, in memory, to estimate what a stream
cut short consumed. When the
request ends, however it ends, `finish` turns those facts into one `RequestMetadata`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .canonical import Deployment, Usage
from .data_policy import DataRequirement
from .errors import GatewayError
from .metering.pricing import picousd_to_usd
from .metering.record import Endpoint, RequestMetadata, RoutingMode

if TYPE_CHECKING:
    from .auth import Principal
    from .limits.quota import Ticket
    from .routing.catalog import CatalogModel


# Request ids need to be unique, not secret: a PRNG seeded once from the OS spares every
# request a getrandom() system call.
_IDS = random.Random()


def new_request_id() -> str:
    """`req_` + 12 hex digits of Unix milliseconds + 64 random bits.

    Time first (as in UUIDv7), so ids sort by creation and the metadata table's primary-key
    index grows at its right edge: random ids dirtied a different index page per row, which
    doubled the database's CPU per recorded request.
    """
    return f"req_{time.time_ns() // 1_000_000:012x}{_IDS.getrandbits(64):016x}"


@dataclass(slots=True)
class Exchange:
    endpoint: Endpoint
    request_id: str = field(default_factory=new_request_id)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.perf_counter)
    principal: Principal | None = None
    routing_mode: RoutingMode = RoutingMode.MANUAL
    strategy: str | None = None
    requested_model: str | None = None  # a catalog id, never the caller's raw string
    model: CatalogModel | None = None
    deployment: Deployment | None = None
    attempts: int = 0
    rerouted: bool = False  # an open circuit sent it to another model than the chosen one
    stream_first_chunk_ms: float | None = None  # the served stream's start, for its health
    usage: Usage = field(default_factory=Usage)
    cost_picousd: int | None = None
    ttfb_ms: int | None = None
    upstream_s: float = 0.0  # time spent waiting on providers, for the overhead figure
    ticket: Ticket | None = None  # the quota hold, settled when the request ends
    routing: dict[str, Any] | None = None  # the explanation, when the caller asked for it
    broken: GatewayError | None = None  # what ended a stream early, after its first byte
    prompt_tokens: int = 0  # the prompt as estimated at admission
    # The answer's text relayed so far, in memory only, for as long as the stream runs: what
    # a stream cut short is charged for when the provider never said.
    relayed: list[str] = field(default_factory=list)
    usage_estimated: bool = False
    # What the caller requires of the provider's handling of the prompt (account, key and
    # request header combined); None: nothing.
    data_requirement: DataRequirement | None = None
    finished: bool = False
    closed: bool = False  # Gateway.close has run: row queued, quota settled

    # --- facts gathered on the way -------------------------------------------------------
    def attempt(self, model: CatalogModel, deployment: Deployment) -> None:
        self.attempts += 1
        self.model = model
        self.deployment = deployment

    @property
    def fallback_used(self) -> bool:
        return self.attempts > 1 or self.rerouted

    def first_byte(self) -> None:
        if self.ttfb_ms is None:
            self.ttfb_ms = self.elapsed_ms()

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    def overhead_ms(self) -> float:
        return max(0.0, (time.perf_counter() - self.started - self.upstream_s) * 1000)

    @property
    def cost_usd(self) -> Decimal | None:
        return picousd_to_usd(self.cost_picousd) if self.cost_picousd is not None else None

    def routeplex_info(self) -> dict[str, Any]:
        """The `x_routeplex` object of OpenAI-dialect responses."""
        return {
            "request_id": self.request_id,
            "provider": self.deployment.provider if self.deployment else None,
            "model_used": self.model.id if self.model else None,
            "routing_mode": self.routing_mode.value,
            "strategy": self.strategy,
            "fallback_used": self.fallback_used,
            "attempts": self.attempts,
            "cost_usd": float(self.cost_usd) if self.cost_usd is not None else None,
            "latency_ms": self.elapsed_ms(),
            "usage_details": self.usage.details(),
            **({"routing": self.routing} if self.routing is not None else {}),
        }

    # --- the end -------------------------------------------------------------------------
    def finish(self, status: int, error: GatewayError | None = None) -> RequestMetadata | None:
        """The metadata record, once; None when there is no account to attribute it to."""
        if self.finished or self.principal is None:
            return None
        self.finished = True
        served = self.model.id if self.model is not None and status < 400 else None
        if served is None and self.model is not None and self.usage.known:
            served = self.model.id  # a stream that broke after the provider billed
        requirement = self.data_requirement
        return RequestMetadata(
            request_id=self.request_id,
            created_at=self.created_at,
            account_id=self.principal.account_id,
            key_id=self.principal.key_id,
            endpoint=self.endpoint,
            routing_mode=self.routing_mode,
            strategy=self.strategy,
            requested_model=self.requested_model,
            served_model=served,
            provider=self.deployment.provider if self.deployment is not None else None,
            attempts=self.attempts,
            fallback_used=self.fallback_used,
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
            cache_read_tokens=self.usage.cache_read_tokens,
            cache_write_tokens=self.usage.cache_write_tokens,
            reasoning_tokens=self.usage.reasoning_tokens,
            cost_picousd=self.cost_picousd,
            latency_ms=self.elapsed_ms(),
            ttfb_ms=self.ttfb_ms,
            http_status=status,
            error_code=error.code.value if error is not None else None,
            usage_estimated=self.usage_estimated,
            data_policy_required=requirement.label() if requirement else None,
            # Routing fails closed: a request with a requirement reached only deployments
            # meeting it, unless it was refused for it.
            data_policy_met=(error is None or error.details.get("reason") != "data_policy")
            if requirement
            else None,
            data_policy_served=self.deployment.data_policy_label
            if self.deployment is not None
            else None,
        )
