"""An Anthropic Messages request (`POST /v1/messages`) → the canonical `ChatRequest`.

`decode` checks the body as Anthropic documents it and maps it onto the typed shape, with
the body itself as the request's `NativeRequest` (what an Anthropic upstream forwards as it
is). The content blocks are decoded in `anthropic_content`; this module owns the request's
other fields:

* `max_tokens` (required) → the output cap; `stop_sequences`, `temperature`, `top_p`,
  `top_k` → sampling (Anthropic's ranges, 0–1, are checked); `metadata.user_id` → the end
  user; `stream`.
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

Errors name the field and the values it takes, never the caller's value.
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
from .validation import MAX_NESTING

# validation.py's ceiling, checked here too so a refusal names Anthropic's fields
# (tests/api/test_anthropic_refusals.py checks that the two agree).
MAX_TOKENS_CEILING = 10_000_000
MIN_THINKING_BUDGET = 1024  # Anthropic's own minimum for `budget_tokens`
# The budget `anthropic_translate` gives each effort, read backwards: the lowest budget that
# is each effort (ascending).
_EFFORT_BY_BUDGET: tuple[tuple[int, Effort], ...] = ((16384, "high"), (4096, "medium"), (0, "low"))
_EFFORTS: dict[str, Effort] = {
    "low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high",
}  # fmt: skip
_CHOICES = ("auto", "any", "tool", "none")
_MODES: dict[str, ChoiceMode] = {"auto": "auto", "any": "required", "none": "none"}
_DROPPED_FIELDS = (
    "service_tier", "speed", "inference_geo", "context_management", "diagnostics",
    "cache_control", "user_profile_id", "workspace_id",
)  # fmt: skip
_ANTHROPIC_ONLY_FIELDS = ("container", "mcp_servers")
_TRANSLATED_FIELDS = (
    "model", "messages", "max_tokens", "system", "stop_sequences", "stream", "temperature",
    "top_p", "top_k", "metadata", "tools", "tool_choice", "thinking", "output_config",
)  # fmt: skip
KNOWN_FIELDS = frozenset(_TRANSLATED_FIELDS + _DROPPED_FIELDS + _ANTHROPIC_ONLY_FIELDS)
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


def decode(body: Any) -> DecodedMessages:
    """An Anthropic Messages request body → DecodedMessages, or a validation GatewayError."""
    if not isinstance(body, dict):
        raise validation("The request body must be a JSON object.")
    _check_nesting(body)
    model = body.get("model")
    if model is None:
        raise validation("'model' is required.", "model")
    if not isinstance(model, str) or not model:
        raise validation("'model' must be a non-empty string.", "model")
    notes = Notes()
    messages = canonical_messages(body.get("messages"), notes)
    messages = system_messages(body.get("system")) + messages
    max_tokens = _max_tokens(body.get("max_tokens"))
    sampling = Sampling(
        temperature=_unit_number(body, "temperature"),
        top_p=_unit_number(body, "top_p"),
        top_k=_top_k(body.get("top_k")),
        stop=_stop_sequences(body.get("stop_sequences")),
    )
    user = _user_id(body.get("metadata"))
    tools, tool_choice = _tools(body, notes)
    reasoning, response_format = _reasoning(body, notes)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise validation("'stream' must be a boolean.", "stream")
    _untranslated_fields(body, notes)
    chat = ChatRequest(
        messages=messages,
        stream=bool(stream),
        max_output_tokens=max_tokens,
        tools=tools,
        tool_choice=tool_choice,
        response_format=response_format,
        reasoning=reasoning,
        sampling=sampling,
        user=user,
        native=NativeRequest(WIRE, body),
    )
    return DecodedMessages(
        model=model,
        stream=chat.stream,
        chat=chat,
        untranslatable=notes.untranslatable,
        dropped=notes.dropped,
    )


def _check_nesting(body: dict[str, Any]) -> None:
    """Refuse what nests too deep for the providers' own bodies, before anything reads it
    (a translation nests up to two levels deeper: OpenAI puts a tool's schema in its
    `function`; and MAX_NESTING is the OpenAI surface's limit)."""
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


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _max_tokens(value: Any) -> int:
    if value is None:
        raise validation("'max_tokens' is required.", "max_tokens")
    if not _integer(value):
        raise validation("'max_tokens' must be an integer.", "max_tokens")
    if not 1 <= value <= MAX_TOKENS_CEILING:
        raise validation(f"'max_tokens' must be between 1 and {MAX_TOKENS_CEILING}.", "max_tokens")
    return int(value)


def _stop_sequences(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise validation("'stop_sequences' must be an array of strings.", "stop_sequences")
    return tuple(item for item in value if item)


def _unit_number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise validation(f"'{name}' must be a number between 0 and 1.", name)
    return value


def _top_k(value: Any) -> int | None:
    if value is None:
        return None
    if not _integer(value) or value < 0:
        raise validation("'top_k' must be a non-negative integer.", "top_k")
    return int(value)


def _user_id(metadata: Any) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise validation("'metadata' must be an object.", "metadata")
    user = metadata.get("user_id")
    if user is not None and not isinstance(user, str):
        raise validation("'metadata.user_id' must be a string.", "metadata.user_id")
    return user or None


def _tools(
    body: dict[str, Any], notes: Notes
) -> tuple[tuple[Tool | Opaque, ...], ToolChoice | None]:
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise validation("'tools' must be an array of tool objects.", "tools")
    out: list[Tool | Opaque] = []
    for index, tool in enumerate(tools or ()):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise validation(f"'{where}' must be a tool object.", where)
        kind = tool.get("type")
        if kind is not None and not isinstance(kind, str):
            raise validation(
                f"'{where}.type' must be 'custom' or an Anthropic tool type.", f"{where}.type"
            )
        if kind not in (None, "custom"):
            family = next((v for k, v in _TOOL_FAMILIES.items() if kind.startswith(k)), None)
            notes.anthropic_only(where, family or "Anthropic tool")
            out.append(Opaque(WIRE, tool, where))
            continue
        out.append(_function(tool, where, notes))
    choice = body.get("tool_choice")
    if choice is None:
        return tuple(out), None
    kind = choice.get("type") if isinstance(choice, dict) else None
    if not isinstance(choice, dict) or not isinstance(kind, str) or kind not in _CHOICES:
        raise validation(
            f"'tool_choice' must be an object whose 'type' is one of {', '.join(_CHOICES)}.",
            "tool_choice",
        )
    name = choice.get("name")
    if kind == "tool" and not isinstance(name, str):
        raise validation("'tool_choice.name' must be a string.", "tool_choice.name")
    single = choice.get("disable_parallel_tool_use")
    if single is not None and not isinstance(single, bool):
        raise validation(
            "'tool_choice.disable_parallel_tool_use' must be a boolean.",
            "tool_choice.disable_parallel_tool_use",
        )
    if not any(isinstance(tool, Tool) for tool in out):
        # Nothing for another provider to choose from (OpenAI refuses a tool choice, or
        # parallel_tool_calls, without tools); an Anthropic upstream has the native body.
        return tuple(out), None
    parallel = False if single and kind != "none" else None
    if kind == "tool":
        assert isinstance(name, str)
        return tuple(out), ToolChoice("required", (name,), parallel)
    return tuple(out), ToolChoice(_MODES[kind], (), parallel)


def _function(tool: dict[str, Any], where: str, notes: Notes) -> Tool:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise validation(f"'{where}.name' must be a non-empty string.", f"{where}.name")
    schema = tool.get("input_schema")
    if not isinstance(schema, dict):
        raise validation(
            f"'{where}.input_schema' must be an object (a JSON schema).", f"{where}.input_schema"
        )
    description = tool.get("description")
    if description is not None and not isinstance(description, str):
        raise validation(f"'{where}.description' must be a string.", f"{where}.description")
    strict = tool.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise validation(f"'{where}.strict' must be a boolean.", f"{where}.strict")
    if tool.get("defer_loading") is True:
        # Deferred loading only saves context; elsewhere the tool is simply offered up front
        # (Claude Code marks most of its tools so and would otherwise be refused on start).
        notes.drop("defer_loading")
    if tool.get("input_examples") is not None:
        notes.drop("input_examples")
    return Tool(
        name=name,
        description=description,
        parameters=schema,
        strict=strict,
        cache=cache_mark(tool),
    )


def _reasoning(
    body: dict[str, Any], notes: Notes
) -> tuple[Reasoning | None, ResponseFormat | None]:
    """`thinking` and `output_config` → the reasoning asked for and the response format."""
    config = body.get("output_config")
    if config is not None and not isinstance(config, dict):
        raise validation("'output_config' must be an object.", "output_config")
    config = config or {}
    effort = config.get("effort")
    if effort is not None and (not isinstance(effort, str) or effort not in _EFFORTS):
        raise validation(
            f"'output_config.effort' must be one of {', '.join(_EFFORTS)}.",
            "output_config.effort",
        )
    thinking = body.get("thinking")
    mode = thinking.get("type") if isinstance(thinking, dict) else None
    if thinking is not None and not isinstance(mode, str):
        raise validation("'thinking' must be an object with a 'type' string.", "thinking")
    reasoning = Reasoning(effort=_EFFORTS[effort]) if effort is not None else None
    if mode == "enabled":
        assert isinstance(thinking, dict)
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < MIN_THINKING_BUDGET:
            raise validation(
                f"'thinking.budget_tokens' must be an integer of at least {MIN_THINKING_BUDGET}.",
                "thinking.budget_tokens",
            )
        by_budget = next(name for floor, name in _EFFORT_BY_BUDGET if budget >= floor)
        reasoning = Reasoning(effort=by_budget, budget=budget)
    elif mode == "adaptive":
        reasoning = reasoning or Reasoning(effort="medium")
    elif mode == "disabled":
        reasoning = None
    elif mode is not None:
        notes.anthropic_only(
            "thinking.type", "a thinking mode other than enabled, adaptive, disabled"
        )
    return reasoning, _response_format(config.get("format"))


def _response_format(output_format: Any) -> ResponseFormat | None:
    if output_format is None:
        return None
    schema = output_format.get("schema") if isinstance(output_format, dict) else None
    if (
        not isinstance(output_format, dict)
        or output_format.get("type") != "json_schema"
        or not isinstance(schema, dict)
    ):
        raise validation(
            "'output_config.format' must be an object with 'type': 'json_schema' and a "
            "'schema' object.",
            "output_config.format",
        )
    return ResponseFormat(schema=schema, name="response", strict=True)


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
