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

from ...data_policy import MAX_REGIONS
from .fields import RequestSchema


class Limits(RequestSchema):
    """Caps; null or absent means no cap of that kind."""

    model_config = ConfigDict(extra="forbid")

    tokens_per_day: Annotated[int, Field(ge=0)] | None = None
    cost_per_day_usd: Annotated[float, Field(ge=0)] | None = None
    rpm: Annotated[int, Field(ge=0)] | None = None
    concurrency: Annotated[int, Field(ge=0)] | None = None


RegionCode = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9-]{1,23}$",
        description="A region code as providers publish them: `eu`, `us`, `europe-west4`.",
    ),
]


class DataPolicyRequirement(RequestSchema):
    """What may happen to prompts downstream: only providers whose data policy is known to
    meet every condition are used. Combined with any other requirement (account, key,
    `X-RoutePlex-Data-Policy`), each condition of either holds and only the regions both
    allow remain."""

    model_config = ConfigDict(extra="forbid")

    zero_retention: Annotated[
        bool, Field(description="Only providers that keep nothing (zero data retention).")
    ] = False
    no_training: Annotated[
        bool, Field(description="Only providers that do not train on the traffic.")
    ] = False
    regions: (
        Annotated[
            list[RegionCode],
            Field(
                min_length=1,
                max_length=MAX_REGIONS,
                description="Only providers that process the traffic in these regions alone; "
                "null: any region.",
            ),
        ]
        | None
    ) = None


_REQUIREMENT = (
    "The data-policy requirement; null (or absent) for none. Combined with the account's, so a "
    "key's can only narrow it."
)


class KeyRequest(RequestSchema):
    name: Annotated[str, Field(max_length=100)] | None = None
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    allowed_models: list[str] | None = None
    limits: Limits | None = None
    data_policy: Annotated[DataPolicyRequirement | None, Field(description=_REQUIREMENT)] = None


class AccountCreate(RequestSchema):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    plan: Annotated[str, Field(description="A plan name (GET /admin/plans).")] | None = None
    email: str | None = None
    data_policy: Annotated[
        DataPolicyRequirement | None,
        Field(description="What the account requires of providers; null (or absent): nothing."),
    ] = None


class AccountUpdate(RequestSchema):
    plan: str | None = None
    email: str | None = None
    limits: Limits | None = None
    disabled: bool | None = None
    data_policy: Annotated[
        DataPolicyRequirement | None,
        Field(
            description="Replaces the account's requirement; null clears it. Its keys are held "
            "to it from their next request in this process, within ROUTEPLEX_KEY_REFRESH_S in "
            "others."
        ),
    ] = None


class DataPolicyView(TypedDict):
    """A stored requirement (the request's `DataPolicyRequirement`, every field given)."""

    zero_retention: bool
    no_training: bool
    regions: list[str] | None


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
    data_policy: NotRequired[
        Annotated[
            DataPolicyView | None,
            Field(description="The account's requirement; each key's narrows it (its own view)."),
        ]
    ]
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
    data_policy: NotRequired[
        Annotated[
            DataPolicyView | None,
            Field(
                description="The key's own requirement (null: none); what applies to its "
                "requests is this combined with the account's."
            ),
        ]
    ]
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
    data_policy: NotRequired[
        Annotated[DataPolicyView | None, Field(description="The account's requirement.")]
    ]
    created_at: NotRequired[str]
    updated_at: NotRequired[str]


class DeploymentHealth(TypedDict):
    model: str
    provider: str
    deployment: str
    kind: str
    state: Literal["healthy", "down"]
