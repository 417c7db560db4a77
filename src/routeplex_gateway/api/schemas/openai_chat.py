"""`POST /v1/chat/completions`: OpenAI's chat request as the gateway checks it, and the answer.

The request declares what the gateway reads (`model`, `messages`, `stream`, the output caps)
and the types OpenAI's schema gives the fields it passes through without reading them: those
are checked before admission, because a field of the wrong type would otherwise be forwarded
and refused by the provider after the gateway had reserved for it — or, by a lenient
provider, quietly ignored. Enums that grow with new models (`reasoning_effort`,
`service_tier`, …) are left to the provider. Fields OpenAI does not define pass through
untouched: the body forwarded is the caller's own, never this model.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import Discriminator, Field, Tag
from typing_extensions import TypedDict

from .fields import (
    BY_KIND,
    Boolean,
    Integer,
    JsonSchema,
    ModelName,
    Number,
    Object,
    RequestSchema,
    Shape,
    String,
    Strings,
    Takes,
)
from .messages import Messages, other_than

MAX_TOKENS_CEILING = 10_000_000
_INT64 = 2**63
_LOGIT_BIAS = 100
# OpenAI's bounds on `metadata`: 16 pairs, keys of 64 characters, values of 512.
_METADATA_PAIRS, _METADATA_KEY, _METADATA_VALUE = 16, 64, 512


class Sampling(RequestSchema):
    """The sampling fields, checked alike by chat and by the estimate."""

    n: (
        Annotated[
            int,
            Field(ge=1, le=1),
            Takes("1 (one choice: usage and billing are per answer)", bounded=False),
        ]
        | None
    ) = None
    temperature: Annotated[Number, Field(ge=0, le=2)] | None = None
    top_p: Annotated[Number, Field(ge=0, le=1)] | None = None
    presence_penalty: Annotated[Number, Field(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[Number, Field(ge=-2, le=2)] | None = None


class FunctionDef(Shape):
    """A function the model may call: `name`, and `description`, `parameters`, `strict`."""

    name: String
    description: String | None = None
    parameters: JsonSchema | None = None
    strict: Boolean | None = None


Function = Annotated[FunctionDef, Takes("an object with a 'name' string")]


class FunctionTool(Shape):
    type: Literal["function"]
    function: Function


class CustomDef(Shape):
    name: str


class CustomTool(Shape):
    type: Literal["custom"]
    custom: Annotated[CustomDef, Takes("an object with a 'name' string")]


class OtherTool(Shape):
    """A tool of another type, passed to the provider as it is."""

    type: Annotated[
        str, other_than("function", "custom"), Takes("a string ('function' or 'custom')")
    ]


def _tool_type(tool: Any) -> str | None:
    if not isinstance(tool, dict):
        return None
    kind = tool.get("type")
    return kind if kind in ("function", "custom") else "other"


Tool = Annotated[
    Annotated[FunctionTool, Tag("function")]
    | Annotated[CustomTool, Tag("custom")]
    | Annotated[OtherTool, Tag("other")],
    Discriminator(_tool_type),
    Takes("a tool object"),
]


class ChosenFunction(Shape):
    name: str


class FunctionChoice(Shape):
    """`{"type": "function", "function": {"name": …}}`: call this function."""

    type: String | None = None
    function: Annotated[ChosenFunction, Takes("an object with a 'name' string")]


class OtherChoice(Shape):
    type: Annotated[String, other_than("function")] | None = None


def _choice_type(choice: Any) -> str:
    named = isinstance(choice, dict) and ("function" in choice or choice.get("type") == "function")
    return "function" if named else "other"


ToolChoice = Annotated[
    Annotated[str, Tag("string")]
    | Annotated[
        Annotated[FunctionChoice, Tag("function")] | Annotated[OtherChoice, Tag("other")],
        Discriminator(_choice_type),
        Tag("object"),
    ],
    BY_KIND,
    Takes("a string or an object"),
]


class LegacyFunctionChoice(Shape):
    """The legacy `function_call`'s `{"name": …}`."""

    name: String


FunctionCall = Annotated[
    Annotated[str, Tag("string")] | Annotated[LegacyFunctionChoice, Tag("object")],
    BY_KIND,
    Takes("a string or an object"),
]


class JsonSchemaFormat(Shape):
    name: str
    schema_: Annotated[JsonSchema | None, Field(alias="schema")] = None
    strict: Boolean | None = None


class JsonSchemaResponse(Shape):
    type: Literal["json_schema"]
    json_schema: Annotated[JsonSchemaFormat, Takes("an object with a 'name' string")]


class OtherResponseFormat(Shape):
    type: Annotated[str, other_than("json_schema")]


def _format_type(response_format: Any) -> str | None:
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if not isinstance(kind, str):
        return None
    return "json_schema" if kind == "json_schema" else "other"


ResponseFormat = Annotated[
    Annotated[JsonSchemaResponse, Tag("json_schema")]
    | Annotated[OtherResponseFormat, Tag("other")],
    Discriminator(_format_type),
    Takes("an object with a 'type' string"),
]


class PredictionPart(Shape):
    type: Literal["text"]
    text: str


class Prediction(Shape):
    """A Predicted Output: reserved against the daily limits as output tokens, since OpenAI
    bills its rejected tokens."""

    type: Literal["content"]
    content: str | Annotated[list[PredictionPart], Field(min_length=1)]


class Audio(Shape):
    voice: str | dict[str, Any]
    format: str


class StreamOptions(Shape):
    include_usage: Boolean | None = None
    include_obfuscation: Boolean | None = None


Metadata = Annotated[
    dict[
        Annotated[str, Field(max_length=_METADATA_KEY)],
        Annotated[str, Field(max_length=_METADATA_VALUE)],
    ],
    Field(max_length=_METADATA_PAIRS),
    Takes(
        f"an object of at most {_METADATA_PAIRS} string values (keys of at most "
        f"{_METADATA_KEY} characters, values of at most {_METADATA_VALUE})",
        bounded=False,
    ),
]


class PassThrough(RequestSchema):
    """The fields passed to the provider without being read, by the types OpenAI gives them."""

    user: String | None = Field(default=None, description="Passed on; never stored.")
    safety_identifier: String | None = None
    prompt_cache_key: String | None = None
    prompt_cache_retention: String | None = None
    reasoning_effort: String | None = None
    service_tier: String | None = None
    verbosity: String | None = None
    logprobs: Boolean | None = None
    store: Boolean | None = None
    parallel_tool_calls: Boolean | None = None
    web_search_options: Object | None = None
    moderation: Object | None = None
    prompt_cache_options: Object | None = None
    top_logprobs: Annotated[Integer, Field(ge=0, le=20)] | None = None
    seed: Annotated[Integer, Field(ge=-_INT64, le=_INT64 - 1)] | None = None
    logit_bias: (
        Annotated[
            dict[
                Annotated[str, Field(pattern=r"^[0-9]+$")],
                Annotated[int, Field(ge=-_LOGIT_BIAS, le=_LOGIT_BIAS)],
            ],
            Takes(
                "an object mapping token ids (strings of digits) to integers from "
                f"-{_LOGIT_BIAS} to {_LOGIT_BIAS}",
                bounded=False,
            ),
        ]
        | None
    ) = None
    metadata: Metadata | None = None
    modalities: Strings | None = None
    stop: Annotated[str | list[str], Takes("a string or an array of strings")] | None = None
    stream_options: Annotated[StreamOptions, Takes("an object")] | None = None
    tools: Annotated[list[Tool], Takes("an array of tool objects")] | None = None
    functions: Annotated[list[Function], Takes("an array of function objects")] | None = None
    tool_choice: ToolChoice | None = None
    function_call: FunctionCall | None = None
    response_format: ResponseFormat | None = None
    prediction: (
        Annotated[
            Prediction,
            Takes(
                "an object with 'type': 'content' and a 'content' that is a string or an "
                "array of text parts"
            ),
        ]
        | None
    ) = None
    audio: Annotated[Audio, Takes("an object with a 'voice' and a 'format' string")] | None = None


OutputCap = Annotated[Integer, Field(ge=1, le=MAX_TOKENS_CEILING)]


class ChatCompletionRequest(PassThrough, Sampling):
    """OpenAI's Chat Completions request. Fields not listed here are passed through to
    OpenAI-shaped providers untouched."""

    model: ModelName
    messages: Messages
    stream: Boolean | None = None
    max_tokens: OutputCap | None = None
    max_completion_tokens: OutputCap | None = None


class RoutePlexInfo(TypedDict):
    """What RoutePlex adds to OpenAI's answer: which model and provider served, and how."""

    request_id: str
    provider: NotRequired[str | None]
    model_used: NotRequired[str | None]
    routing_mode: Literal["manual", "routeplex-ai"]
    strategy: NotRequired[str | None]
    fallback_used: bool
    attempts: int
    cost_usd: NotRequired[float | None]
    latency_ms: int


class ChatCompletion(TypedDict):
    """OpenAI's `chat.completion`, plus `x_routeplex`."""

    id: str
    object: Literal["chat.completion"]
    created: NotRequired[int]
    model: str
    choices: list[dict[str, Any]]
    usage: NotRequired[dict[str, Any]]
    x_routeplex: RoutePlexInfo


class OpenAIModel(TypedDict):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class OpenAIModelList(TypedDict):
    object: Literal["list"]
    data: list[OpenAIModel]
