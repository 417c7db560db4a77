"""An Anthropic Messages request (`POST /v1/messages`) → the canonical OpenAI-shaped body.

`decode` checks the body as Anthropic documents it, translates it, and validates the result
as the OpenAI surface would (`validate_chat_body`). The content blocks are translated in
`anthropic_content`; this module owns the request's other fields:

* `max_tokens` (required) → `max_tokens`; `stop_sequences` → `stop`; `temperature`, `top_p`
  as they are (Anthropic's ranges, 0–1, are checked); `metadata.user_id` → `user`; `stream`.
* custom `tools` → function tools (`input_schema` → `parameters`, `strict` kept);
  `tool_choice` auto / any / tool / none → "auto" / "required" / a named function / "none",
  `disable_parallel_tool_use` → `parallel_tool_calls: false` (both only with tools left).
* `thinking` → `reasoning_effort`: an enabled budget by the budgets `anthropic_translate`
  gives each effort (below 4,096 low, below 16,384 medium, else high), adaptive → the
  `output_config.effort` if given, else medium; disabled → none. Without `thinking`, an
  `output_config.effort` alone sets it (xhigh and max → high). `output_config.format` (a JSON
  schema) → a strict `response_format` json_schema.
* Left out, named in `dropped`: `top_k` (OpenAI has none), `cache_control`, thinking blocks
  of the history, `service_tier`, `speed`, `inference_geo`, `context_management` (the upstream
  then keeps the whole context), `diagnostics`, `user_profile_id`, `workspace_id`, tools'
  `input_examples`, documents' title and context.
* Only an Anthropic model can serve, named in `untranslatable` (JSON paths, never values):
  server and Anthropic-defined tools (web search, code execution, bash, computer use…),
  deferred tools, `container`, `mcp_servers`, citations, Files API sources, URL documents,
  an unknown thinking mode, and fields this module does not know. These are not in
  `openai_body`: a request that has any can only be served from its original body.

Errors name the field and the values it takes, never the caller's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..canonical import ChatRequest
from ..errors import validation
from .anthropic_content import Notes, openai_messages, system_text
from .validation import MAX_NESTING, validate_chat_body

# validation.py's ceiling, checked here too so a refusal names Anthropic's fields
# (tests/api/test_anthropic_codec.py checks that the two agree).
MAX_TOKENS_CEILING = 10_000_000
MIN_THINKING_BUDGET = 1024  # Anthropic's own minimum for `budget_tokens`
# The budget `anthropic_translate` gives each effort, read backwards: the lowest budget that
# is each effort (ascending).
_EFFORT_BY_BUDGET = ((16384, "high"), (4096, "medium"), (0, "low"))
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
_CHOICES = ("auto", "any", "tool", "none")
_DROPPED_FIELDS = (
    "top_k", "service_tier", "speed", "inference_geo", "context_management", "diagnostics",
    "cache_control", "user_profile_id", "workspace_id",
)  # fmt: skip
_ANTHROPIC_ONLY_FIELDS = ("container", "mcp_servers")
_TRANSLATED_FIELDS = (
    "model", "messages", "max_tokens", "system", "stop_sequences", "stream", "temperature",
    "top_p", "metadata", "tools", "tool_choice", "thinking", "output_config",
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
    """A checked Anthropic request: the canonical body and what it could not carry."""

    model: str
    stream: bool
    openai_body: dict[str, Any]
    chat: ChatRequest  # validate_chat_body(openai_body)
    untranslatable: list[str]  # features only an Anthropic model serves; empty when none
    dropped: list[str]  # fields left out of openai_body, as they have no OpenAI equivalent


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
    messages = openai_messages(body.get("messages"), notes)
    out: dict[str, Any] = {"model": model}
    system = system_text(body.get("system"), notes)
    out["messages"] = [{"role": "system", "content": system}, *messages] if system else messages
    out["max_tokens"] = _max_tokens(body.get("max_tokens"))
    stop = _stop_sequences(body.get("stop_sequences"))
    if stop:
        out["stop"] = stop
    for name in ("temperature", "top_p"):
        value = _unit_number(body, name)
        if value is not None:
            out[name] = value
    user = _user_id(body.get("metadata"))
    if user is not None:
        out["user"] = user
    _tools(body, out, notes)
    _reasoning(body, out, notes)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise validation("'stream' must be a boolean.", "stream")
    out["stream"] = bool(stream)
    _untranslated_fields(body, notes)
    return DecodedMessages(
        model=model,
        stream=out["stream"],
        openai_body=out,
        chat=validate_chat_body(out),
        untranslatable=notes.untranslatable,
        dropped=notes.dropped,
    )


def _check_nesting(body: dict[str, Any]) -> None:
    """Refuse what nests too deep for validate_chat_body, before it is copied (the canonical
    body nests up to two levels deeper: a tool's schema sits in its `function`)."""
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


def _stop_sequences(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise validation("'stop_sequences' must be an array of strings.", "stop_sequences")
    return [item for item in value if item]


def _unit_number(body: dict[str, Any], name: str) -> float | int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise validation(f"'{name}' must be a number between 0 and 1.", name)
    return value


def _user_id(metadata: Any) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise validation("'metadata' must be an object.", "metadata")
    user = metadata.get("user_id")
    if user is not None and not isinstance(user, str):
        raise validation("'metadata.user_id' must be a string.", "metadata.user_id")
    return user or None


def _tools(body: dict[str, Any], out: dict[str, Any], notes: Notes) -> None:
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise validation("'tools' must be an array of tool objects.", "tools")
    functions = []
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
            continue
        functions.append(_function(tool, where, notes))
    if functions:
        out["tools"] = functions
    choice = body.get("tool_choice")
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if not isinstance(choice, dict) or not isinstance(kind, str) or kind not in _CHOICES:
        raise validation(
            f"'tool_choice' must be an object whose 'type' is one of {', '.join(_CHOICES)}.",
            "tool_choice",
        )
    name = choice.get("name")
    if kind == "tool" and not isinstance(name, str):
        raise validation("'tool_choice.name' must be a string.", "tool_choice.name")
    parallel = choice.get("disable_parallel_tool_use")
    if parallel is not None and not isinstance(parallel, bool):
        raise validation(
            "'tool_choice.disable_parallel_tool_use' must be a boolean.",
            "tool_choice.disable_parallel_tool_use",
        )
    if not functions:
        return  # OpenAI refuses a tool choice, or parallel_tool_calls, without tools
    if kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": name}}
    else:
        out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind]
    if parallel and kind != "none":
        out["parallel_tool_calls"] = False


def _function(tool: dict[str, Any], where: str, notes: Notes) -> dict[str, Any]:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise validation(f"'{where}.name' must be a non-empty string.", f"{where}.name")
    schema = tool.get("input_schema")
    if not isinstance(schema, dict):
        raise validation(
            f"'{where}.input_schema' must be an object (a JSON schema).", f"{where}.input_schema"
        )
    function: dict[str, Any] = {"name": name}
    description = tool.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise validation(f"'{where}.description' must be a string.", f"{where}.description")
        function["description"] = description
    function["parameters"] = schema
    strict = tool.get("strict")
    if strict is not None:
        if not isinstance(strict, bool):
            raise validation(f"'{where}.strict' must be a boolean.", f"{where}.strict")
        function["strict"] = strict
    if tool.get("defer_loading") is True:
        # Deferred loading only saves context; elsewhere the tool is simply offered up front
        # (Claude Code marks most of its tools so and would otherwise be refused on start).
        notes.drop("defer_loading")
    if tool.get("input_examples") is not None:
        notes.drop("input_examples")
    if tool.get("cache_control") is not None:
        notes.drop("cache_control")
    return {"type": "function", "function": function}


def _reasoning(body: dict[str, Any], out: dict[str, Any], notes: Notes) -> None:
    """`thinking` and `output_config` → `reasoning_effort` and `response_format`."""
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
    reasoning: str | None = _EFFORTS[effort] if effort is not None else None
    if mode == "enabled":
        assert isinstance(thinking, dict)
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < MIN_THINKING_BUDGET:
            raise validation(
                f"'thinking.budget_tokens' must be an integer of at least {MIN_THINKING_BUDGET}.",
                "thinking.budget_tokens",
            )
        reasoning = next(name for floor, name in _EFFORT_BY_BUDGET if budget >= floor)
    elif mode == "adaptive":
        reasoning = reasoning or "medium"
    elif mode == "disabled":
        reasoning = None
    elif mode is not None:
        notes.anthropic_only(
            "thinking.type", "a thinking mode other than enabled, adaptive, disabled"
        )
    if reasoning is not None:
        out["reasoning_effort"] = reasoning
    output_format = config.get("format")
    if output_format is not None:
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
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": schema, "strict": True},
        }


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
