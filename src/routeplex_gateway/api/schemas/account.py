"""The account holder's and the operator's bodies: keys, accounts, limits and usage
(`/api/v1/account…`, `/api/v1/usage`, `/admin/…`).

The request bodies here describe what `api/account.py` and `api/admin.py` check (the
allowed plans and models are the running gateway's, so those checks stay beside them).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field
from typing_extensions import TypedDict

from .fields import RequestSchema


class Limits(RequestSchema):
    """Caps; null or absent means no cap of that kind."""

    model_config = ConfigDict(extra="forbid")

    tokens_per_day: Annotated[int, Field(ge=0)] | None = None
    cost_per_day_usd: Annotated[float, Field(ge=0)] | None = None
    rpm: Annotated[int, Field(ge=0)] | None = None
    concurrency: Annotated[int, Field(ge=0)] | None = None


class KeyRequest(RequestSchema):
    name: Annotated[str, Field(max_length=100)] | None = None
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    allowed_models: list[str] | None = None
    limits: Limits | None = None


class AccountCreate(RequestSchema):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    plan: Annotated[str, Field(description="A plan name (GET /admin/plans).")] | None = None
    email: str | None = None


class AccountUpdate(RequestSchema):
    plan: str | None = None
    email: str | None = None
    limits: Limits | None = None
    disabled: bool | None = None


class LimitsView(TypedDict):
    tokens_per_day: NotRequired[int | None]
    cost_per_day_usd: NotRequired[float | None]
    rpm: NotRequired[int | None]
    concurrency: NotRequired[int | None]
    binding: NotRequired[bool]


class UsageRow(TypedDict):
    day: date
    model: str
    requests: int
    input_tokens: NotRequired[int]
    output_tokens: NotRequired[int]
    cache_read_tokens: NotRequired[int]
    cache_write_tokens: NotRequired[int]
    reasoning_tokens: NotRequired[int]
    total_tokens: NotRequired[int]
    cost_usd: NotRequired[float | None]
    unknown_cost_requests: NotRequired[
        Annotated[
            int,
            Field(
                description="Requests a model answered without a known price: their cost "
                "is not in cost_usd."
            ),
        ]
    ]
    refused_requests: NotRequired[
        Annotated[
            int | None,
            Field(
                description="Requests refused before any provider call (bad input, limits): "
                "no model, no cost. Null on days billed before this was counted."
            ),
        ]
    ]
    account_id: NotRequired[str]


class SurfaceUsage(TypedDict):
    surface: Annotated[str, Field(description="The surface's name, e.g. Anthropic Messages.")]
    endpoint: Annotated[
        str,
        Field(
            description="The endpoint value stored in request metadata: "
            "openai.chat_completions, native.chat, anthropic.messages, openai.responses or "
            "openai.embeddings."
        ),
    ]
    requests: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: float | None
    unknown_cost_requests: Annotated[
        int,
        Field(
            description="Requests a model answered without a known price: their cost is not "
            "in cost_usd."
        ),
    ]
    refused_requests: Annotated[
        int,
        Field(
            description="Requests refused before any provider call (bad input, limits): no "
            "model, no cost."
        ),
    ]


class UsagePage(TypedDict):
    days: int
    since: date
    usage: list[UsageRow]
    totals: dict[str, Any]
    by_surface: Annotated[
        list[SurfaceUsage],
        Field(
            description="Every surface, from request metadata: only as far back as it is kept "
            "(ROUTEPLEX_METADATA_RETENTION_DAYS)."
        ),
    ]


class AccountOverview(TypedDict):
    account_id: str
    name: NotRequired[str]
    plan: str
    limits: LimitsView
    today: dict[str, Any]


class Key(TypedDict):
    """An API key as listed: never the key itself."""

    id: str
    name: NotRequired[str | None]
    display: str
    created_at: str
    expires_at: NotRequired[str | None]
    revoked_at: NotRequired[str | None]
    last_used_day: NotRequired[str | None]
    allowed_models: NotRequired[list[str] | None]
    limits: NotRequired[dict[str, Any] | None]
    status: Literal["active", "expired", "revoked"]


class NewKey(Key):
    key: Annotated[str, Field(description="Shown once.")]


class Revoked(TypedDict):
    id: str
    revoked: bool


class Deleted(TypedDict):
    id: str
    deleted: bool


class Account(TypedDict):
    id: str
    name: str
    email: NotRequired[str | None]
    plan: str
    limit_overrides: NotRequired[dict[str, Any] | None]
    limits: LimitsView
    disabled: bool
    created_at: NotRequired[str]
    updated_at: NotRequired[str]


class DeploymentHealth(TypedDict):
    model: str
    provider: str
    deployment: str
    kind: str
    state: Literal["healthy", "down"]
