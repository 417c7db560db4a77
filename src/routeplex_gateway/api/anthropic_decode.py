"""An Anthropic Messages request (`POST /v1/messages`) → the canonical `ChatRequest`.

`decode` checks the body against its schema (`schemas/anthropic_messages.py`, the same models
`/openapi.json` is generated from) and how deep it nests, then maps it onto the typed shape,
with the body itself as the request's `NativeRequest` (what an Anthropic upstream forwards as
it is). The mapping checks nothing the schema says: it reads a body known to be valid. The
content blocks are decoded in `anthropic_content`; this module owns the request's other
fields:

* `max_tokens` → the output cap (required by Messages; count_tokens takes it optionally, by
  the schema `Conversation`); `stop_sequences`, `temperature`, `top_p`, `top_k` → sampling;
  `metadata.user_id` → the end user; `stream`.
* custom `tools` → `Tool`s (`input_schema` → parameters, `strict` and `cache_control`
  kept); `tool_choice` auto / any / tool / none → auto / required / required of that name /
  none, `disable_parallel_tool_use` → `parallel=False` (both only with function tools).
* `thinking` → `Reasoning`: an enabled thinking's `budget_tokens` as its budget, with the
  effort that budget is by the budgets `anthropic_translate` gives each effort (below 4,096
  low, below 16,384 medium, else high) for providers that take an effort; adaptive → the
  `output_config.effort` if given, else medium; disabled → none. Without `thinking`, an
  `output_config.effort` alone sets it (xhigh and max → high). `output_config.format` (a JSON
  schema) → a strict `ResponseFormat`.
* Left out, named in `dropped`: `service_tier`, `speed`, `inference_geo`,
  `context_management` (the upstream then keeps the whole context), `diagnostics`,
  `user_profile_id`, `workspace_id`, the top-level (automatic) `cache_control`, tools'
  `input_examples` and `defer_loading`, documents' context (and title, for text ones).
* Only an Anthropic model can serve, named in `untranslatable` (JSON paths, never values):
  server and Anthropic-defined tools (web search, code execution, bash, computer use…: the
  request's `Opaque` tools), `container`, `mcp_servers`, citations, Files API sources, URL
  documents, an unknown thinking mode, and fields this module does not know. A request that
  has any can only be served from its native body.

Refusals are the schema's (`schemas/refusal.py`): the field named, what it takes said, the
caller's value never quoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..canonical import (
    ChatRequest,
    ChoiceMode,
    Effort,
    NativeRequest,
    Opaque,
    Reasoning,
    ResponseFormat,
    Sampling,
    Tool,
    ToolChoice,
)
from ..errors import validation
from .anthropic_blocks import WIRE, Notes, cache_mark
from .anthropic_content import canonical_messages, system_messages
from .schemas.anthropic_messages import (
    ChooseTool,
    ClientTool,
    Conversation,
    EffortName,
    MessagesRequest,
    OutputConfig,
    ThinkingAdaptive,
    ThinkingDisabled,
    ThinkingEnabled,
)
from .schemas.refusal import check
from .validation import MAX_NESTING

# The budget `anthropic_translate` gives each effort, read backwards: the lowest budget that
# is each effort (ascending).
_EFFORT_BY_BUDGET: tuple[tuple[int, Effort], ...] = ((16384, "high"), (4096, "medium"), (0, "low"))
_EFFORTS: dict[EffortName, Effort] = {
    "low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high",
}  # fmt: skip
_MODES: dict[str, ChoiceMode] = {"auto": "auto", "any": "required", "none": "none"}
_DROPPED_FIELDS = (
    "service_tier", "speed", "inference_geo", "context_management", "diagnostics",
    "cache_control", "user_profile_id", "workspace_id",
)  # fmt: skip
_ANTHROPIC_ONLY_FIELDS = ("container", "mcp_servers")
# The request fields an error or a note may name; any other name is the caller's own.
KNOWN_FIELDS = frozenset(Conversation.model_fields)
# Families of Anthropic's own tool types (`web_search_20250305`…), named in `untranslatable`.
_TOOL_FAMILIES = {
    "web_search": "web search server tool",
    "web_fetch": "web fetch server tool",
    "code_execution": "code execution server tool",
    "tool_search": "tool search server tool",
    "mcp_toolset": "MCP toolset",
    "bash": "Anthropic bash tool",
    "text_editor": "Anthropic text editor tool",
    "computer": "Anthropic computer use tool",
    "browser": "Anthropic browser tool",
    "memory": "Anthropic memory tool",
}


@dataclass(frozen=True, slots=True)
class DecodedMessages:
    """A checked Anthropic request: the canonical request and what it could not carry."""

    model: str
    stream: bool
    chat: ChatRequest  # with the body as its native form
    untranslatable: list[str]  # features only an Anthropic model serves; empty when none
    dropped: list[str]  # fields with no place in the canonical shape (other providers lose them)


def decode(body: Any, schema: type[Conversation] = MessagesRequest) -> DecodedMessages:
    """An Anthropic Messages request body → DecodedMessages, or a validation GatewayError.
    `schema`: `Conversation` for count_tokens, which takes no output cap."""
    request = check(schema, body)
    _check_nesting(body)
    notes = Notes()
    messages = system_messages(body.get("system")) + canonical_messages(body["messages"], notes)
    sampling = Sampling(
        temperature=request.temperature,
        top_p=request.top_p,
        top_k=request.top_k,
        stop=tuple(item for item in request.stop_sequences or () if item),
    )
    if _prefilled(body["messages"]):
        # Claude continues the caller's words; another model would take them for a finished
        # turn and answer anew, changing the request without a word.
        where = f"messages[{len(body['messages']) - 1}]"
        notes.anthropic_only(where, "an assistant prefill to continue")
    tools, tool_choice = _tools(request, body, notes)
    reasoning, response_format = _reasoning(request, notes)
    _untranslated_fields(body, notes)
    chat = ChatRequest(
        messages=messages,
        stream=bool(request.stream),
        max_output_tokens=request.max_tokens,
        tools=tools,
        tool_choice=tool_choice,
        response_format=response_format,
        reasoning=reasoning,
        sampling=sampling,
        user=(request.metadata and request.metadata.user_id) or None,
        native=NativeRequest(WIRE, body),
    )
    return DecodedMessages(
        model=request.model,
        stream=chat.stream,
        chat=chat,
        untranslatable=notes.untranslatable,
        dropped=notes.dropped,
    )


def _prefilled(turns: list[dict[str, Any]]) -> bool:
    """Whether the conversation ends with the start of the answer: an assistant turn with
    text (a turn of server-tool blocks only is a paused turn, not a prefill)."""
    if not turns or turns[-1].get("role") != "assistant":
        return False
    content = turns[-1].get("content")
    if isinstance(content, str):
        return bool(content)
    return any(isinstance(b, dict) and b.get("type") == "text" for b in content or ())


def _check_nesting(body: dict[str, Any]) -> None:
    """Refuse what nests too deep for the providers' own bodies (a translation nests up to two
    levels deeper: OpenAI puts a tool's schema in its `function`; and MAX_NESTING is the
    OpenAI surface's limit). No schema can say it, so it is checked here, as `validation.py`
    checks an OpenAI body's."""
    limit = MAX_NESTING - 2
    for name, value in body.items():
        stack = [(value, 1)]
        while stack:
            item, depth = stack.pop()
            if not isinstance(item, dict | list):
                continue
            if depth >= limit:
                field = name if name in KNOWN_FIELDS else None
                what = f"'{field}'" if field else "A field of the request body"
                raise validation(f"{what} nests more than {limit} levels deep.", field)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _tools(
    request: Conversation, body: dict[str, Any], notes: Notes
) -> tuple[tuple[Tool | Opaque, ...], ToolChoice | None]:
    out: list[Tool | Opaque] = []
    # The raw tool beside its checked one: an Anthropic tool goes as the caller sent it.
    checked, raws = request.tools or [], body.get("tools") or []
    for index, (tool, raw) in enumerate(zip(checked, raws, strict=True)):
        where = f"tools[{index}]"
        if isinstance(tool, ClientTool):
            out.append(_function(tool, raw, notes))
            continue
        family = next((v for k, v in _TOOL_FAMILIES.items() if tool.type.startswith(k)), None)
        notes.anthropic_only(where, family or "Anthropic tool")
        out.append(Opaque(WIRE, raw, where))
    choice = request.tool_choice
    if choice is None or not any(isinstance(tool, Tool) for tool in out):
        # Nothing for another provider to choose from (OpenAI refuses a tool choice, or
        # parallel_tool_calls, without tools); an Anthropic upstream has the native body.
        return tuple(out), None
    parallel = False if choice.disable_parallel_tool_use and choice.type != "none" else None
    if isinstance(choice, ChooseTool):
        return tuple(out), ToolChoice("required", (choice.name,), parallel)
    return tuple(out), ToolChoice(_MODES[choice.type], (), parallel)


def _function(tool: ClientTool, raw: dict[str, Any], notes: Notes) -> Tool:
    if tool.defer_loading is True:
        # Deferred loading only saves context; elsewhere the tool is simply offered up front
        # (Claude Code marks most of its tools so and would otherwise be refused on start).
        notes.drop("defer_loading")
    if tool.input_examples is not None:
        notes.drop("input_examples")
    return Tool(
        name=tool.name,
        description=tool.description,
        parameters=tool.input_schema,
        strict=tool.strict,
        cache=cache_mark(raw),
    )


def _reasoning(
    request: Conversation, notes: Notes
) -> tuple[Reasoning | None, ResponseFormat | None]:
    """`thinking` and `output_config` → the reasoning asked for and the response format."""
    config = request.output_config or OutputConfig()
    effort = config.effort
    reasoning = Reasoning(effort=_EFFORTS[effort]) if effort is not None else None
    thinking = request.thinking
    if isinstance(thinking, ThinkingEnabled):
        budget = thinking.budget_tokens
        by_budget = next(name for floor, name in _EFFORT_BY_BUDGET if budget >= floor)
        reasoning = Reasoning(effort=by_budget, budget=budget)
    elif isinstance(thinking, ThinkingAdaptive):
        reasoning = reasoning or Reasoning(effort="medium")
    elif isinstance(thinking, ThinkingDisabled):
        # Off, said so: a model that thinks unless told (Gemini 2.5) is told.
        reasoning = Reasoning(effort="none")
    elif thinking is not None:
        notes.anthropic_only(
            "thinking.type", "a thinking mode other than enabled, adaptive, disabled"
        )
    output_format = config.format
    if output_format is None:
        return reasoning, None
    return reasoning, ResponseFormat(schema=output_format.schema_, name="response", strict=True)


def _untranslated_fields(body: dict[str, Any], notes: Notes) -> None:
    for name in _DROPPED_FIELDS:
        if body.get(name) is not None:
            notes.drop(name)
    for name in _ANTHROPIC_ONLY_FIELDS:
        if body.get(name) not in (None, []):
            notes.anthropic_only(name)
    if any(name not in KNOWN_FIELDS for name in body):
        # The caller's own field names are not echoed.
        notes.anthropic_only("a request field RoutePlex does not know")
