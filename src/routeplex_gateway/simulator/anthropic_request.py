"""Reading an Anthropic Messages request: validation like Anthropic's, then an answer spec.

Validation covers the rules a translating gateway is most likely to break, with Anthropic's
wording and `path: message` style: required `model` / `max_tokens` / `messages`, roles, empty
text blocks, `tool_result` blocks without the matching `tool_use` just before (and the
reverse), `temperature` above 1, `tool_choice` without tools or naming an unknown tool, and the
extended-thinking rules (budget below `max_tokens`, only on models that think, no forced tool,
`temperature` 1), and `temperature` with `top_p` on the Claude 4.5 models that refuse the
pair. It is not a full schema check: what a caller may forward as it is (thinking blocks with
their signatures in the history, `cache_control` anywhere, server tools such as web search,
`container`, `metadata`) is accepted, and server tools are never called (the simulator has no
server to run them on).

`count_tokens` requests (`POST /v1/messages/count_tokens`) are read by the same rules, less
those about generating (`max_tokens`, sampling), and, as on Anthropic, refuse the fields that
endpoint does not take as extra inputs. The count is the prompt's tokens as `/v1/messages`
reports them in its usage (`input_tokens` plus the cache writes), so the two agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from routeplex_gateway.simulator.answer import (
    AnswerSpec,
    LastTurn,
    PromptMessage,
    ToolSpec,
    conversation_seed,
    count_prompt_tokens,
    count_tokens,
    image_tokens,
)

# Models with extended thinking (Claude 3.7 and the Claude 4 family); on these it is optional,
# switched on per request with `thinking: {type: enabled, budget_tokens}`.
THINKING_MODELS = re.compile(r"claude-(3-7|(opus|sonnet|haiku)-4|4)")
# The fields `count_tokens` takes (the API reference, beta ones included); others are refused.
COUNT_FIELDS = frozenset(
    (
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "cache_control",
        "output_config",
        "speed",
        "context_management",
        "mcp_servers",
        "compaction",
        "billing_policy",
    )
)
MIN_THINKING_BUDGET = 1024
# Models that refuse `temperature` and `top_p` together (the Claude 4.5 generation).
EXCLUSIVE_SAMPLING_MODELS = re.compile(r"claude-(opus|sonnet|haiku)-4-5")
PARALLEL_WORD = re.compile(r"\bparallel\b", re.IGNORECASE)
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class RequestError(Exception):
    """A request Anthropic would reject with 400 `invalid_request_error`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class MessagesRequest:
    """A validated Messages request: what to answer and how to send it."""

    model: str
    stream: bool
    spec: AnswerSpec
    input_tokens: int  # not cached: the prompt less the cache writes below
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0


@dataclass(frozen=True)
class CountRequest:
    """A validated `count_tokens` request."""

    model: str
    input_tokens: int


def parse_count_tokens_request(raw: bytes) -> CountRequest:
    body = _object(raw)
    for name in body:
        if name not in COUNT_FIELDS:
            raise RequestError(f"{name}: Extra inputs are not permitted")
    model = _model(body)
    system, messages = _conversation(body)
    tools = _tools(body.get("tools"))
    choice = _tool_choice(body.get("tool_choice"), tools)
    _thinking(body, model, None, choice)
    return CountRequest(model, _prompt_tokens(body, system, messages))


def parse_messages_request(raw: bytes) -> MessagesRequest:
    body = _object(raw)
    model = _model(body)
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise RequestError("max_tokens: Field required")
    system, messages = _conversation(body)
    tools = _tools(body.get("tools"))
    choice = _tool_choice(body.get("tool_choice"), tools)
    thinking = _thinking(body, model, max_tokens, choice)
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and not 0 <= temperature <= 1:
        raise RequestError("temperature: Input should be less than or equal to 1")
    if EXCLUSIVE_SAMPLING_MODELS.search(model) and "temperature" in body and "top_p" in body:
        raise RequestError(
            "`temperature` and `top_p` cannot both be specified for this model. Please use"
            " only one."
        )
    stop = body.get("stop_sequences") or []
    if not isinstance(stop, list) or not all(isinstance(s, str) and s.strip() for s in stop):
        raise RequestError("stop_sequences: each stop sequence must contain non-whitespace")
    last = messages[-1]
    last_turn = _last_turn(last)
    parallel = not (choice or {}).get("disable_parallel_tool_use") and bool(
        PARALLEL_WORD.search(" ".join(_texts(last)))
    )
    forced = (choice or {}).get("name") if (choice or {}).get("type") == "tool" else None
    # Server tools are never called; forced to one, the model answers in text.
    callable_tools = tuple(t for t in tools if not t.server and forced in (None, t.name))
    spec = AnswerSpec(
        seed=conversation_seed({"system": system, "messages": messages}),
        model=model,
        last_turn=last_turn,
        tools=tuple(ToolSpec(t.name, t.schema) for t in callable_tools),
        use_tools=(choice or {}).get("type") != "none",
        tool_required=(choice or {}).get("type") in ("any", "tool") and bool(callable_tools),
        forced_tool=forced if callable_tools else None,
        tools_used=any(b.get("type") == "tool_result" for m in messages for b in _blocks(m)),
        parallel=last_turn == "user" and parallel,
        max_tokens=max_tokens,
        stop=tuple(stop),
        reasoning=thinking,
    )
    total = _prompt_tokens(body, system, messages)
    long_writes, short_writes = _cache_writes(body)
    return MessagesRequest(
        model=model,
        stream=body.get("stream") is True,
        spec=spec,
        input_tokens=total - long_writes - short_writes,
        cache_write_5m_tokens=short_writes,
        cache_write_1h_tokens=long_writes,
    )


def _object(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestError("There was an issue with your request body: invalid JSON.") from None
    if not isinstance(body, dict):
        raise RequestError("Input should be a valid dictionary or object to extract fields from")
    return body


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("model: Field required")
    return model


def _conversation(body: dict[str, Any]) -> tuple[str, list[Any]]:
    """(system text, messages), checked."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages: at least one message is required")
    system = _system(body.get("system"))
    for index, message in enumerate(messages):
        _check_message(messages, index, message)
    return system, messages


def _prompt_tokens(body: dict[str, Any], system: str, messages: list[Any]) -> int:
    """Every prompt token: system, messages and tool definitions."""
    prompt = [PromptMessage("system", (system,))] if system else []
    prompt += [_prompt_message(message) for message in messages]
    tool_texts = [orjson.dumps(tool).decode() for tool in body.get("tools") or []]
    return count_prompt_tokens(prompt, tool_texts)


def _cache_writes(body: dict[str, Any]) -> tuple[int, int]:
    """(1-hour, 5-minute) cache writes: the prompt prefix up to the last `cache_control`
    breakpoint of each TTL, in Anthropic's cache order (tools, system, messages).

    The simulator keeps no cache, so every cached prefix is written, never read; 1-hour
    breakpoints come first, as Anthropic requires, and the 5-minute writes are the rest.
    """
    system = body.get("system")
    blocks: list[Any] = list(body.get("tools") or [])
    blocks += system if isinstance(system, list) else []
    for message in body.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            blocks += message["content"]
    prefix = long_prefix = short_prefix = 0
    for block in blocks:
        if not isinstance(block, dict):
            continue
        prefix += count_tokens(str(block.get("text") or block.get("description") or ""))
        control = block.get("cache_control")
        if isinstance(control, dict):
            if control.get("ttl") == "1h":
                long_prefix = prefix
            short_prefix = prefix
    return long_prefix, max(short_prefix - long_prefix, 0)


def _system(system: Any) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    if isinstance(system, list) and all(
        isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        for b in system
    ):
        return "\n".join(b["text"] for b in system)
    raise RequestError("system: Input should be a valid string or a list of text blocks")


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content or [] if isinstance(block, dict)]


def _check_message(messages: list[Any], index: int, message: Any) -> None:
    where = f"messages.{index}"
    if not isinstance(message, dict):
        raise RequestError(f"{where}: Input should be a valid dictionary")
    role = message.get("role")
    # A system turn may stand between the others (instructions from that point on, as Claude
    # Code sends them), but not open the conversation: that is what top-level `system` is for.
    if role not in ("user", "assistant") and not (role == "system" and index > 0):
        raise RequestError(
            f"{where}.role: Input should be 'user' or 'assistant'"
            + (
                '. The Messages API accepts a top-level `system` parameter, not "system" as an'
                " input message role."
                if role == "system"
                else ""
            )
        )
    content = message.get("content")
    if not isinstance(content, str | list):
        raise RequestError(f"{where}.content: Field required")
    previous_uses = _tool_use_ids(messages[index - 1]) if index > 0 else set()
    for position, block in enumerate(_blocks(message)):
        kind = block.get("type")
        if kind == "text" and not block.get("text"):
            raise RequestError(
                f"{where}.content.{position}.text: text content blocks must be non-empty"
            )
        if kind == "image" and not isinstance(block.get("source"), dict):
            raise RequestError(f"{where}.content.{position}.image.source: Field required")
        if kind == "tool_result" and block.get("tool_use_id") not in previous_uses:
            raise RequestError(
                f"{where}.content.{position}: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {block.get('tool_use_id')}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
    uses = _tool_use_ids(message)
    if uses and index + 1 < len(messages):
        answered = {
            b.get("tool_use_id")
            for b in _blocks(messages[index + 1])
            if b.get("type") == "tool_result"
        }
        missing = sorted(uses - answered)
        if missing:
            raise RequestError(
                f"{where}: `tool_use` ids were found without `tool_result` blocks immediately "
                f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                "`tool_result` block in the next message."
            )


def _tool_use_ids(message: Any) -> set[str]:
    if not isinstance(message, dict) or message.get("role") != "assistant":
        return set()
    return {str(b.get("id")) for b in _blocks(message) if b.get("type") == "tool_use"}


@dataclass(frozen=True)
class _Tool:
    name: str
    schema: dict[str, Any]
    server: bool  # an Anthropic-defined tool (`type: web_search_20250305`, …): no schema


def _tools(tools: Any) -> tuple[_Tool, ...]:
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise RequestError("tools: Input should be a valid list")
    specs = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not TOOL_NAME.match(str(tool.get("name"))):
            raise RequestError(
                f"tools.{index}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            )
        if tool.get("type") not in (None, "custom"):
            specs.append(_Tool(tool["name"], {}, server=True))
            continue
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise RequestError(f"tools.{index}.input_schema.type: Input should be 'object'")
        specs.append(_Tool(tool["name"], schema, server=False))
    return tuple(specs)


def _tool_choice(choice: Any, tools: tuple[_Tool, ...]) -> dict[str, Any] | None:
    if choice is None:
        return None
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise RequestError("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if choice["type"] in ("any", "tool") and not tools:
        raise RequestError("tool_choice: tool_choice may only be specified while providing tools.")
    if choice["type"] == "tool" and choice.get("name") not in {t.name for t in tools}:
        raise RequestError(f"Tool '{choice.get('name')}' not found in provided tools")
    return choice


def _thinking(
    body: dict[str, Any], model: str, max_tokens: int | None, choice: dict[str, Any] | None
) -> bool:
    """Whether thinking is on (`max_tokens`: None where the request has none, count_tokens)."""
    thinking = body.get("thinking")
    if thinking is None or (isinstance(thinking, dict) and thinking.get("type") == "disabled"):
        return False
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "adaptive"):
        raise RequestError("thinking.type: Input should be 'enabled', 'adaptive' or 'disabled'")
    if not THINKING_MODELS.search(model):
        raise RequestError(f"'{model}' does not support thinking.")
    budget = thinking.get("budget_tokens") if kind == "enabled" else None
    if kind == "enabled" and (not isinstance(budget, int) or budget < MIN_THINKING_BUDGET):
        raise RequestError(
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        )
    if budget is not None and max_tokens is not None and budget >= max_tokens:
        raise RequestError("`max_tokens` must be greater than `thinking.budget_tokens`.")
    if choice is not None and choice.get("type") in ("any", "tool"):
        raise RequestError("Thinking may not be enabled when tool_choice forces tool use.")
    if body.get("temperature") not in (None, 1, 1.0):
        raise RequestError("`temperature` may only be set to 1 when thinking is enabled.")
    return True


def _last_turn(message: dict[str, Any]) -> LastTurn:
    if message.get("role") != "user":
        return "other"
    return "tool" if any(b.get("type") == "tool_result" for b in _blocks(message)) else "user"


def _texts(message: dict[str, Any]) -> list[str]:
    texts: list[str] = []
    for block in _blocks(message):
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            texts += [str(block.get("name", "")), orjson.dumps(block.get("input")).decode()]
        elif kind == "tool_result":
            inner = block.get("content")
            if isinstance(inner, str):
                texts.append(inner)
            elif isinstance(inner, list):
                texts += [str(b.get("text", "")) for b in inner if isinstance(b, dict)]
    return texts


def _prompt_message(message: dict[str, Any]) -> PromptMessage:
    images = sum(
        image_tokens(None) for b in _blocks(message) if b.get("type") in ("image", "document")
    )
    return PromptMessage(str(message["role"]), tuple(_texts(message)), images)
