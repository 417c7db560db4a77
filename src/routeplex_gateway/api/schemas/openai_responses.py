"""`POST /v1/responses`: OpenAI's Responses request as the gateway checks it (the input items
are in `openai_responses_items`), and the answer's outline for `/openapi.json`.

What the gateway reads is typed and bounded as OpenAI documents it. Tools of a type other
than `function` and the stateful fields (`previous_response_id`, `conversation`,
`background`) pass the schema: the decoder refuses them with a message saying why, naming
the built-in tool, which a schema error could not do without quoting the caller's value.
Enums that grow with new models (`reasoning.effort`, `service_tier`) are the provider's to
judge. Fields OpenAI may add pass untouched to an OpenAI upstream.
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
    RequestSchema,
    Shape,
    String,
    Strings,
    Takes,
)
from .messages import other_than
from .openai_chat import MAX_TOKENS_CEILING, Metadata, RoutePlexInfo
from .openai_responses_items import ResponsesInput


class ResponsesFunctionTool(Shape):
    """A function the model may call (Responses puts `name` and `parameters` on the tool)."""

    type: Literal["function"]
    name: Annotated[str, Field(min_length=1), Takes("a non-empty string")]
    description: String | None = None
    parameters: JsonSchema | None = None
    strict: Boolean | None = None


class ResponsesOtherTool(Shape):
    """A built-in tool (web_search, file_search, …): refused by the decoder, named."""

    type: Annotated[str, other_than("function"), Takes("a string")]


def _tool_type(tool: Any) -> str | None:
    kind = tool.get("type") if isinstance(tool, dict) else None
    if not isinstance(kind, str):
        return None
    return "function" if kind == "function" else "other"


ResponsesTool = Annotated[
    Annotated[ResponsesFunctionTool, Tag("function")] | Annotated[ResponsesOtherTool, Tag("other")],
    Discriminator(_tool_type),
    Takes("a tool object with a 'type' ('function')"),
]


class ResponsesAllowedTool(Shape):
    type: String
    name: String | None = None


class ResponsesToolChoiceObject(Shape):
    """`{"type": "function", "name": …}` (call it), `{"type": "allowed_tools", "mode", "tools"}`
    or a built-in tool's type (refused by the decoder)."""

    type: String
    name: String | None = None
    mode: Annotated[Literal["auto", "required"], Takes("'auto' or 'required'")] | None = None
    tools: Annotated[list[ResponsesAllowedTool], Takes("an array of tool references")] | None = None


ResponsesToolChoice = Annotated[
    Annotated[
        Annotated[Literal["auto", "none", "required"], Takes("'auto', 'none' or 'required'")],
        Tag("string"),
    ]
    | Annotated[ResponsesToolChoiceObject, Tag("object")],
    BY_KIND,
    Takes("'auto', 'none', 'required' or an object with a 'type'"),
]


class ResponsesJsonSchemaFormat(Shape):
    type: Literal["json_schema"]
    name: Annotated[str, Field(min_length=1), Takes("a non-empty string")]
    schema_: Annotated[JsonSchema, Field(alias="schema")]
    description: String | None = None
    strict: Boolean | None = None


class ResponsesPlainFormat(Shape):
    type: Literal["text", "json_object"]


def _format_type(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "json_schema":
        return "json_schema"
    return "plain" if kind in ("text", "json_object") else None


ResponsesFormat = Annotated[
    Annotated[ResponsesJsonSchemaFormat, Tag("json_schema")]
    | Annotated[ResponsesPlainFormat, Tag("plain")],
    Discriminator(_format_type),
    Takes("an object whose 'type' is 'text', 'json_object' or 'json_schema'"),
]


class ResponsesText(Shape):
    format: ResponsesFormat | None = None
    verbosity: String | None = None


class ResponsesReasoningOptions(Shape):
    effort: String | None = None
    summary: String | None = None
    generate_summary: String | None = None


class ResponsesStreamOptions(Shape):
    include_obfuscation: Boolean | None = None


class ResponsesRequest(RequestSchema):
    """OpenAI's Responses request. The gateway keeps no state: `store` is answered false,
    and `previous_response_id`, `conversation` and `background` are refused."""

    model: ModelName
    input: ResponsesInput
    instructions: String | None = None
    stream: Boolean | None = None
    stream_options: Annotated[ResponsesStreamOptions, Takes("an object")] | None = None
    max_output_tokens: Annotated[Integer, Field(ge=1, le=MAX_TOKENS_CEILING)] | None = None
    temperature: Annotated[Number, Field(ge=0, le=2)] | None = None
    top_p: Annotated[Number, Field(ge=0, le=1)] | None = None
    top_logprobs: Annotated[Integer, Field(ge=0, le=20)] | None = None
    tools: Annotated[list[ResponsesTool], Takes("an array of tool objects")] | None = None
    tool_choice: ResponsesToolChoice | None = None
    parallel_tool_calls: Boolean | None = None
    max_tool_calls: Annotated[Integer, Field(ge=1)] | None = None
    text: Annotated[ResponsesText, Takes("an object")] | None = None
    reasoning: Annotated[ResponsesReasoningOptions, Takes("an object")] | None = None
    include: Strings | None = None
    store: Boolean | None = Field(
        default=None, description="Accepted; always answered false: nothing is stored."
    )
    metadata: Metadata | None = Field(
        default=None, description="Accepted and echoed; never stored."
    )
    user: String | None = Field(default=None, description="Passed on; never stored.")
    safety_identifier: String | None = None
    prompt_cache_key: String | None = None
    service_tier: String | None = None
    truncation: String | None = None
    previous_response_id: Any = Field(
        default=None, description="Refused: the gateway keeps no state; send the whole input."
    )
    conversation: Any = Field(
        default=None, description="Refused: the gateway keeps no state; send the whole input."
    )
    background: Boolean | None = Field(
        default=None, description="Only false: a background response would have to be stored."
    )


class ResponsesUsage(TypedDict):
    input_tokens: int
    input_tokens_details: dict[str, int]
    output_tokens: int
    output_tokens_details: dict[str, int]
    total_tokens: int


class ResponseObject(TypedDict):
    """OpenAI's `response` object, plus `x_routeplex`; `store` is always false."""

    id: str
    object: Literal["response"]
    created_at: int
    status: Literal["completed", "incomplete", "failed", "in_progress"]
    model: str
    output: list[dict[str, Any]]
    usage: NotRequired[ResponsesUsage | None]
    store: Literal[False]
    x_routeplex: RoutePlexInfo
