"""The native dialect's bodies: `POST /api/v1/chat` and `POST /api/v1/chat/estimate`, and what
they answer inside the `{"success": true, "data": …}` envelope (DESIGN.md §2.2).
"""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import BeforeValidator, Field
from typing_extensions import TypedDict

from ...errors import ErrorCode
from ...routing.catalog import AUTO_MODEL
from .fields import Boolean, Integer, Number, PositiveInteger, RequestSchema, String, Takes
from .messages import Messages
from .openai_chat import MAX_TOKENS_CEILING, PassThrough, Sampling

STRATEGIES = ("auto", "balanced", "cost", "speed", "quality")
DEFAULT_MAX_OUTPUT_TOKENS = 512


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


Mode = Annotated[
    Literal["routeplex-ai", "manual"],
    Takes(f"'manual' or '{AUTO_MODEL}'", code=ErrorCode.INVALID_MODE),
]
# A strategy is taken in any case ("Cost"), as the X-RoutePlex-Strategy header is.
Strategy = Annotated[
    Literal["auto", "balanced", "cost", "speed", "quality"],
    BeforeValidator(_lower),
    Takes(f"one of {', '.join(STRATEGIES)}"),
]


class NativeChatRequest(RequestSchema):
    """A native chat request: a model by name (`manual`), or the router's choice
    (`routeplex-ai`)."""

    messages: Messages
    mode: Mode | None = None
    model: String | None = Field(default=None, description="Required in manual mode.")
    strategy: Strategy | None = None
    max_output_tokens: Annotated[Integer, Field(ge=1, le=MAX_TOKENS_CEILING)] | None = (
        DEFAULT_MAX_OUTPUT_TOKENS
    )
    temperature: Annotated[Number, Field(ge=0, le=2)] | None = None
    test_mode: Boolean | None = None
    stream: Boolean | None = None
    stream_mode: (
        Annotated[Literal["buffered", "realtime"], Takes("'buffered' or 'realtime'")] | None
    ) = None
    enhance_prompt: Boolean | None = None


class EstimateRequest(PassThrough, Sampling):
    """What a chat request would cost. The fields counted (tools, schemas, …) are checked as
    chat checks them, so a body chat refuses is not quoted a price."""

    messages: Messages
    model: String | None = Field(
        default=None,
        description="A catalog id or alias, or routeplex-ai for the model automatic routing "
        "would choose. Without model (and mode), the cheapest available model.",
    )
    mode: Mode | None = None
    strategy: Strategy | None = Field(
        default=None,
        description="For routeplex-ai (or the X-RoutePlex-Strategy header); default auto.",
    )
    test_mode: Boolean | None = Field(
        default=None,
        description="For routeplex-ai: default-tier models only (or the X-RoutePlex-Test-Mode "
        "header).",
    )
    # None when absent, so a cap sent by another name counts; the default applies after.
    max_output_tokens: PositiveInteger | None = Field(
        default=None, json_schema_extra={"default": DEFAULT_MAX_OUTPUT_TOKENS}
    )
    max_completion_tokens: PositiveInteger | None = Field(
        default=None,
        description="The same cap by its OpenAI name (max_output_tokens wins when both are sent).",
    )
    max_tokens: PositiveInteger | None = Field(
        default=None, description="The same cap by its older OpenAI name."
    )


class Usage(TypedDict):
    """Tokens and cost of one answer; null where the provider did not say."""

    input_tokens: NotRequired[int | None]
    output_tokens: NotRequired[int | None]
    total_tokens: NotRequired[int | None]
    cost_usd: NotRequired[float | None]
    internal_reasoning_tokens: NotRequired[int | None]


class NativeChat(TypedDict):
    id: str
    output: str
    model_used: NotRequired[str | None]
    provider: NotRequired[str | None]
    routing_mode: str
    fallback_used: bool
    latency_ms: int
    usage: Usage
    enhancement: NotRequired[dict[str, object] | None]


class Pricing(TypedDict):
    input_per_1k: NotRequired[float | None]
    output_per_1k: NotRequired[float | None]


class Estimate(TypedDict):
    model: Annotated[
        str,
        Field(
            description="The model estimated for: the one named, the one routeplex-ai would "
            "choose, or the cheapest available."
        ),
    ]
    routing_mode: NotRequired[
        Annotated[
            Literal["manual", "routeplex-ai"] | None,
            Field(
                description="manual for a named model, routeplex-ai when the router chose "
                "it, null for the cheapest-model default."
            ),
        ]
    ]
    strategy: NotRequired[
        Annotated[
            str | None,
            Field(description="The strategy the router chose with (routeplex-ai only)."),
        ]
    ]
    input_tokens: int
    max_output_tokens: int
    total_tokens: int
    estimated_cost_usd: NotRequired[float | None]
    confidence: NotRequired[str]
    pricing: NotRequired[Pricing]


class EmbeddingInfo(TypedDict):
    dimensions: int
    custom_dimensions: bool


class DeploymentPolicy(TypedDict):
    """What one deployment's provider does with a prompt; null is unknown, and unknown never
    meets a requirement."""

    provider: Annotated[str, Field(description="The deployment's provider endpoint.")]
    retention_days: Annotated[
        int | None, Field(description="Days the provider keeps the traffic; 0 is zero retention.")
    ]
    trains_on_data: Annotated[
        bool | None, Field(description="Whether the provider may train on the traffic.")
    ]
    regions: Annotated[
        list[str] | None,
        Field(description="Where the traffic is processed (`global`: anywhere)."),
    ]


class CatalogModel(TypedDict):
    id: str
    display_name: NotRequired[str]
    provider: str
    tier: str
    context_window: int
    max_output_tokens: int
    health: str
    pricing: NotRequired[Pricing]
    capabilities: NotRequired[dict[str, object]]
    aliases: NotRequired[list[str]]
    deprecated: NotRequired[bool]
    deprecation_date: NotRequired[str | None]
    # Every deployment's downstream data policy: why `?data_policy=` lists the model or not.
    data_policies: list[DeploymentPolicy]
    # Only on embedding models (POST /v1/embeddings): their vectors' length, and whether
    # `dimensions` may ask for shorter ones.
    embedding: NotRequired[EmbeddingInfo]
