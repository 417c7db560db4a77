"""`POST /v1/messages` and `POST /v1/messages/count_tokens`: Anthropic's Messages request as the
gateway checks it. The conversation is in `anthropic_turns` and `anthropic_blocks`; the answers
in `anthropic_answers`.

What the gateway translates for other providers is checked to Anthropic's documented types
and bounds (`temperature` and `top_p` from 0 to 1, a thinking budget of at least 1,024). What
it only passes to Anthropic — `top_k`, `service_tier`, `container`, `mcp_servers`,
`context_management`… — is described and left for Anthropic to judge, and so are server tools
(a `type` other than `custom`) and thinking modes it does not know. Fields Anthropic may add
pass untouched: the body forwarded to Anthropic is the caller's own, never this model.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Discriminator, Field, Tag

from .anthropic_turns import SystemPrompt, Turns
from .fields import (
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
from .openai_chat import MAX_TOKENS_CEILING  # the canonical body's cap, as OpenAI's is checked

MIN_THINKING_BUDGET = 1024  # Anthropic's own minimum for `budget_tokens`
EffortName = Literal["low", "medium", "high", "xhigh", "max"]
EFFORTS: tuple[str, ...] = get_args(EffortName)
_SERVED_BY_ANTHROPIC = "Passed to Anthropic as sent; left out for other providers."


def _anthropic(what: str) -> Any:
    """A field only Anthropic reads: any JSON here, described by what Anthropic takes."""
    return Field(default=None, description=f"{what} {_SERVED_BY_ANTHROPIC}")


class ClientTool(Shape):
    """A tool the caller runs (Anthropic's client tool): `name`, and the JSON schema of its
    `input`."""

    type: Literal["custom"] | None = None
    name: Annotated[str, Field(min_length=1), Takes("a non-empty string")]
    input_schema: JsonSchema
    description: String | None = None
    strict: Boolean | None = None
    cache_control: Any = _anthropic("A prompt-cache breakpoint.")
    defer_loading: Any = _anthropic("Load the tool only when searched for (offered up front).")
    input_examples: Any = _anthropic("Example inputs.")


class ServerTool(Shape):
    """One of Anthropic's own tools (`web_search_20250305`, `bash_20250124`, …): only an
    Anthropic model serves a request that offers it."""

    type: Annotated[str, other_than("custom"), Takes("'custom' or an Anthropic tool type")]
    name: Any = _anthropic("The tool's name.")


def _tool_kind(tool: Any) -> str | None:
    if not isinstance(tool, dict):
        return None
    return "custom" if tool.get("type") in (None, "custom") else "server"


Tool = Annotated[
    Annotated[ClientTool, Tag("custom")] | Annotated[ServerTool, Tag("server")],
    Discriminator(_tool_kind),
    Takes("a tool object"),
]
_NOT_PARALLEL = Field(default=None, description="At most one tool call per answer.")


class ChooseTool(Shape):
    """Call the tool named."""

    type: Literal["tool"]
    name: String
    disable_parallel_tool_use: Annotated[Boolean | None, _NOT_PARALLEL]


class ChooseMode(Shape):
    """`auto`: the model decides; `any`: some tool; `none`: no tool."""

    type: Literal["auto", "any", "none"]
    disable_parallel_tool_use: Annotated[Boolean | None, _NOT_PARALLEL]


_CHOICES = ("auto", "any", "tool", "none")


def _choice(choice: Any) -> str | None:
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in _CHOICES:
        return None
    return "tool" if kind == "tool" else "mode"


ToolChoice = Annotated[
    Annotated[ChooseTool, Tag("tool")] | Annotated[ChooseMode, Tag("mode")],
    Discriminator(_choice),
    Takes(f"an object whose 'type' is one of {', '.join(_CHOICES)}"),
]


class ThinkingEnabled(Shape):
    """Extended thinking with a budget: for another model, an effort by its size."""

    type: Literal["enabled"]
    budget_tokens: Annotated[Integer, Field(ge=MIN_THINKING_BUDGET)]


class ThinkingAdaptive(Shape):
    """The model decides how much to think (`output_config.effort` guides it)."""

    type: Literal["adaptive"]


class ThinkingDisabled(Shape):
    type: Literal["disabled"]


class ThinkingOther(Shape):
    """A thinking mode the gateway does not know: only an Anthropic model serves it."""

    type: Annotated[str, other_than("enabled", "adaptive", "disabled")]


_MODES = ("enabled", "adaptive", "disabled")


def _mode(thinking: Any) -> str | None:
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if not isinstance(kind, str):
        return None
    return kind if kind in _MODES else "other"


Thinking = Annotated[
    Annotated[ThinkingEnabled, Tag("enabled")]
    | Annotated[ThinkingAdaptive, Tag("adaptive")]
    | Annotated[ThinkingDisabled, Tag("disabled")]
    | Annotated[ThinkingOther, Tag("other")],
    Discriminator(_mode),
    Takes("an object with a 'type' string"),
]


class OutputFormat(Shape):
    """Structured output: the answer is JSON valid against `schema`."""

    type: Literal["json_schema"]
    schema_: Annotated[dict[str, Any], Field(alias="schema")]


class OutputConfig(Shape):
    effort: Annotated[EffortName, Takes(f"one of {', '.join(EFFORTS)}")] | None = None
    format: (
        Annotated[OutputFormat, Takes("an object with 'type': 'json_schema' and a 'schema' object")]
        | None
    ) = None


class Metadata(Shape):
    user_id: Annotated[
        String | None, Field(description="An opaque id of the end user; passed on, never stored.")
    ] = None


class Conversation(RequestSchema):
    """What `POST /v1/messages/count_tokens` takes: the Messages request but its output cap
    (which, when given, is checked as Messages checks it)."""

    model: ModelName
    messages: Turns
    system: SystemPrompt | None = None
    max_tokens: Annotated[Integer, Field(ge=1, le=MAX_TOKENS_CEILING)] | None = None
    stop_sequences: Strings | None = None
    temperature: Annotated[Number, Field(ge=0, le=1)] | None = None
    top_p: Annotated[Number, Field(ge=0, le=1)] | None = None
    metadata: Annotated[Metadata, Takes("an object")] | None = None
    tools: Annotated[list[Tool], Takes("an array of tool objects")] | None = None
    tool_choice: ToolChoice | None = None
    output_config: Annotated[OutputConfig, Takes("an object")] | None = None
    thinking: Thinking | None = None
    stream: Boolean | None = None
    top_k: Annotated[int, Field(ge=0), Takes("a non-negative integer", bounded=False)] | None = None
    service_tier: Any = _anthropic("`auto` or `standard_only`.")
    speed: Any = _anthropic("The inference speed.")
    inference_geo: Any = _anthropic("Where the request is served.")
    context_management: Any = _anthropic("Clearing old context (elsewhere, all is kept).")
    diagnostics: Any = _anthropic("Diagnostics settings.")
    cache_control: Any = _anthropic("A prompt-cache breakpoint for the whole request.")
    user_profile_id: Any = _anthropic("A user profile's id.")
    workspace_id: Any = _anthropic("A workspace's id.")
    container: Any = _anthropic("The code execution container to reuse (Anthropic only).")
    mcp_servers: Any = _anthropic("MCP servers Anthropic connects to (Anthropic only).")


class MessagesRequest(Conversation):
    """Anthropic's Messages request. Fields not listed here are passed to Anthropic
    untouched, and make the request one only an Anthropic model serves."""

    max_tokens: Annotated[Integer, Field(ge=1, le=MAX_TOKENS_CEILING)]
