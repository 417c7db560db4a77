"""Canonical request → Anthropic Messages request.

Decisions (each one a place where the canonical shape, OpenAI's in its terms, and Anthropic's
API differ):

* the leading system messages become the top-level `system` (a string, or text blocks when a
  part carries a cache mark, so callers can use prompt caching); later ones stay where they
  stand, as user-turn text wrapped in `<system_instruction>` tags (`later_system_text`);
  consecutive turns of one role are merged, and `tool` messages become `tool_result` blocks
  in a user turn, as Anthropic requires.
* a `CacheMark` on a part, tool call, tool result or tool is its `cache_control`
  (`{"type": "ephemeral"}`, with its `ttl` when set), so the prompt and the tool definitions
  can be cached.
* images: inline media become base64 sources, URLs url sources; documents are base64 PDFs or
  URLs. Audio parts are refused (no Anthropic equivalent).
* an assistant's signed `Thinking` parts are sent back as `thinking` blocks (a redacted one as
  `redacted_thinking` with its data), so a conversation keeps its thinking across turns;
  thinking without a signature (another provider's) is left out, since Anthropic would refuse
  it. A tool call's `arguments` (JSON text) are its `input` object.
* a part or tool that only Anthropic can read (`Opaque` of this wire) is sent as it came; one
  of another wire is refused like any unsupported part.
* `max_tokens` is required by Anthropic: the request's cap, else the model's own output cap
  from the catalog (`Deployment.max_output_tokens`).
* JSON mode and JSON schema: with no caller tools, a forced "answer tool" whose input schema
  is the caller's schema (any object for JSON mode) — Anthropic then returns schema-shaped
  JSON reliably, and the provider hands its input back as the message text. With caller
  tools (a forced tool would keep the model from calling them), or a schema whose root is not
  an object, a system instruction asks for the JSON instead.
* `temperature` is capped at 1 (Anthropic's range is 0–1); whitespace-only stop sequences,
  which Anthropic rejects, are dropped; the end user becomes `metadata.user_id`; a choice
  with `parallel` False becomes `disable_parallel_tool_use`; `top_k` is sent as it is.
* reasoning turns on extended thinking, for models that have it, when Anthropic's rules
  allow (a budget of at least 1,024 tokens below `max_tokens`, no forced tool, not in the
  middle of a tool loop whose assistant turn does not start with its thinking): an explicit
  `budget` is the `budget_tokens`, an effort maps to one, effort "none" is no thinking. With
  thinking on, `temperature` and `top_k` are left out and `top_p` kept only from 0.95.
  Models whose catalog entry says `temperature_with_top_p = false` (Claude 4.5) refuse both
  together: `top_p` is dropped when `temperature` is sent.
* Refused (400 naming the field), since an answer without them would mislead: `logprobs`,
  `top_logprobs`.
* Ignored, having no Anthropic equivalent (README lists them): `seed` (Anthropic has no
  deterministic sampling), `frequency_penalty`, `presence_penalty`, `n`, the predicted
  output, an image's `detail`, a participant's `name`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from ..canonical import (
    CacheMark,
    ChatRequest,
    Deployment,
    Document,
    Image,
    Media,
    Message,
    Opaque,
    Reasoning,
    Refusal,
    ResponseFormat,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from ..errors import GatewayError, validation

WIRE = "anthropic"
ANTHROPIC_VERSION = "2023-06-01"
ANSWER_TOOL = "json_answer"
# Only for a deployment the catalog did not describe (it always gives a cap).
FALLBACK_MAX_TOKENS = 4096
_THINKING_MODELS = re.compile(r"claude-(3-7|(opus|sonnet|haiku)-4|4)")
_THINKING_BUDGET = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384}
_MIN_THINKING_BUDGET = 1024
_THINKING_BLOCKS = ("thinking", "redacted_thinking")
_PROVIDER = "Anthropic"
# What a message may be made of here, named in errors (which never quote the caller's value).
_PART_TYPES = ("text", "image_url", "file")

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class AnthropicRequest:
    body: dict[str, Any]
    answer_tool: bool  # JSON output is the input of the forced answer tool


def to_anthropic(request: ChatRequest, deployment: Deployment, *, stream: bool) -> AnthropicRequest:
    sampling = request.sampling
    # Anthropic has no token log probabilities: refused, not silently dropped.
    if sampling.logprobs:
        raise validation("'logprobs' is not supported by Anthropic models.", "logprobs")
    if sampling.top_logprobs is not None:
        raise validation("'top_logprobs' is not supported by Anthropic models.", "top_logprobs")
    system, messages = _conversation(request.messages)
    max_tokens = request.max_output_tokens or deployment.max_output_tokens or FALLBACK_MAX_TOKENS
    out: dict[str, Any] = {"model": deployment.upstream_model, "max_tokens": max_tokens}
    tools = [_tool(tool, index) for index, tool in enumerate(request.tools)]
    choice = _tool_choice(request.tool_choice, tools)
    answer_tool = False
    fmt = request.response_format
    if fmt is not None:
        if not tools and (fmt.schema is None or fmt.schema.get("type", "object") == "object"):
            tools = [_answer_tool(fmt)]
            choice = {"type": "tool", "name": ANSWER_TOOL}
            answer_tool = True
        else:
            system.append({"type": "text", "text": json_instruction(fmt)})
    if system:
        plain = all(set(block) == {"type", "text"} for block in system)
        out["system"] = "\n\n".join(block["text"] for block in system) if plain else system
    out["messages"] = messages
    if tools:
        out["tools"] = tools
        if choice is not None:
            out["tool_choice"] = choice
    stop = [s for s in sampling.stop if s.strip()]
    if stop:
        out["stop_sequences"] = stop
    thinking = _thinking(request.reasoning, deployment.upstream_model, max_tokens, choice, messages)
    if thinking is not None:
        out["thinking"] = thinking
    if sampling.temperature is not None and thinking is None:
        out["temperature"] = min(float(sampling.temperature), 1.0)
    top_p = sampling.top_p
    exclusive = "temperature" in out and not deployment.temperature_with_top_p
    if top_p is not None and (thinking is None or top_p >= 0.95) and not exclusive:
        out["top_p"] = top_p
    if sampling.top_k is not None and thinking is None:
        out["top_k"] = sampling.top_k
    if request.user:
        out["metadata"] = {"user_id": request.user}
    out["stream"] = stream
    return AnthropicRequest(out, answer_tool)


# --- small helpers (the wording every translating provider shares) ---------------------------


def later_system_text(text: str) -> str:
    """A system message from the middle of a conversation, as the user-turn text that stands
    in for it where it stood: hoisting it into the system prompt would change what it
    applies to, and break the provider's prompt cache on every new reminder."""
    return f"<system_instruction>\n{text}\n</system_instruction>"


def json_instruction(fmt: ResponseFormat) -> str:
    """A system instruction asking for JSON, for when the API has no switch for it."""
    if fmt.schema is None:
        return "Respond with a single valid JSON object and nothing else."
    schema = orjson.dumps(fmt.schema).decode()
    return (
        "Respond with a single valid JSON value and nothing else. It must conform to this "
        f"JSON schema: {schema}"
    )


def unsupported_part(where: str) -> GatewayError:
    """A content part of a type Anthropic does not take: the field and the types it does
    (never the caller's type, which may be anything)."""
    return validation(
        f"'{where}.type' must be one of {', '.join(_PART_TYPES)} for {_PROVIDER} models.",
        f"{where}.type",
    )


def _not_text(where: str) -> GatewayError:
    return validation(f"'{where}' must be a text part here.", where)


def _no_content() -> GatewayError:
    """Every message was empty: nothing Anthropic would accept is left to send."""
    return validation(
        f"The messages hold no content to send to {_PROVIDER} models (every text is empty).",
        "messages",
    )


def cache_control(mark: CacheMark | None) -> dict[str, Any] | None:
    if mark is None:
        return None
    control: dict[str, Any] = {"type": "ephemeral"}
    if mark.ttl is not None:
        control["ttl"] = mark.ttl
    return control


def _marked(block: Block, mark: CacheMark | None) -> Block:
    control = cache_control(mark)
    if control is not None:
        block["cache_control"] = control
    return block


# --- the conversation -------------------------------------------------------------------------


def _conversation(messages: list[Message]) -> tuple[list[Block], list[dict[str, Any]]]:
    """(system blocks, Anthropic messages) from canonical messages.

    Errors name the canonical `messages[i].content[j]` (the caller's own field for an OpenAI
    body: its parts are one to one) and an assistant's `messages[i].tool_calls[k]`.
    """
    system: list[Block] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[Block]) -> None:
        if not blocks:
            return  # an empty turn (`content: []`) is refused by Anthropic
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if message.role == "system":
            blocks = _text_blocks(message, where)
            if not turns:
                system.extend(blocks)
                continue
            for block in blocks:
                if block.get("type") == "text":
                    block["text"] = later_system_text(block["text"])
            add("user", blocks)
        elif message.role == "assistant":
            add("assistant", _assistant_blocks(message, where, index))
        else:  # user, and tool (its results), both a user turn for Anthropic
            add("user", _user_blocks(message, where))
    if not turns:
        raise _no_content()
    return system, turns


def _text_blocks(message: Message, where: str) -> list[Block]:
    """Text-only content as text blocks, the empty ones left out (Anthropic rejects them)."""
    blocks: list[Block] = []
    for index, part in enumerate(message.parts):
        path = f"{where}.content[{index}]"
        if isinstance(part, Text | Refusal):
            if part.text:
                cache = part.cache if isinstance(part, Text) else None
                blocks.append(_marked({"type": "text", "text": part.text}, cache))
        elif isinstance(part, Opaque) and part.wire == WIRE:
            blocks.append(part.value)
        else:
            raise _not_text(part.where or path if isinstance(part, Opaque) else path)
    return blocks


def _user_blocks(message: Message, where: str) -> list[Block]:
    """User content (or a tool message's results) as Anthropic blocks; empty text skipped."""
    blocks: list[Block] = []
    for index, part in enumerate(message.parts):
        path = f"{where}.content[{index}]"
        if isinstance(part, ToolResult):
            blocks.append(_tool_result(part, where))
        elif isinstance(part, Text | Image | Document | Opaque):
            block = _content_block(part, path)
            if block is not None:
                blocks.append(block)
        else:
            raise unsupported_part(path)  # audio, and what only an assistant says
    return blocks


def _content_block(part: Text | Image | Document | Opaque, path: str) -> Block | None:
    """A part a user turn or a tool result may hold; None for empty text."""
    if isinstance(part, Text):
        return _marked({"type": "text", "text": part.text}, part.cache) if part.text else None
    if isinstance(part, Image):
        return _marked({"type": "image", "source": _source(part.media)}, part.cache)
    if isinstance(part, Document):
        return _marked(_document(part, path), part.cache)
    if part.wire == WIRE:
        value: Block = part.value
        return value
    raise unsupported_part(part.where or path)


def _source(media: Media) -> dict[str, Any]:
    if media.url is not None:
        return {"type": "url", "url": media.url}
    return {
        "type": "base64",
        "media_type": media.media_type or "application/octet-stream",
        "data": media.data or "",
    }


def _document(part: Document, path: str) -> Block:
    media = part.media
    if media.url is None and media.media_type != "application/pdf":
        raise validation(f"'{path}.file' must hold a base64 PDF for Anthropic models.", path)
    block: Block = {"type": "document", "source": _source(media)}
    if part.title is not None:
        block["title"] = part.title
    return block


def _tool_result(result: ToolResult, where: str) -> Block:
    parts = result.parts
    content: str | list[Block]
    if not parts:
        content = ""
    elif len(parts) == 1 and isinstance(parts[0], Text) and parts[0].cache is None:
        content = parts[0].text  # a plain result is a string, as callers send it
    else:
        content = []
        for index, part in enumerate(parts):
            inner = _content_block(part, f"{where}.content[{index}]")
            if inner is not None:
                content.append(inner)
    block: Block = {"type": "tool_result", "tool_use_id": result.call_id, "content": content}
    if result.is_error:
        block["is_error"] = True
    return _marked(block, result.cache)


def _assistant_blocks(message: Message, where: str, index: int) -> list[Block]:
    blocks: list[Block] = []
    calls = 0  # an OpenAI assistant's tool calls follow its content parts
    for position, part in enumerate(message.parts):
        path = f"{where}.content[{position}]"
        if isinstance(part, Text | Refusal):
            if part.text:
                cache = part.cache if isinstance(part, Text) else None
                blocks.append(_marked({"type": "text", "text": part.text}, cache))
        elif isinstance(part, Thinking):
            block = _thinking_block(part)
            if block is not None:
                blocks.append(block)
        elif isinstance(part, ToolCall):
            blocks.append(_tool_use(part, f"{where}.tool_calls[{calls}]", f"toolu_{index}_{calls}"))
            calls += 1
        elif isinstance(part, Opaque) and part.wire == WIRE:
            blocks.append(part.value)
        else:
            raise _not_text(part.where or path if isinstance(part, Opaque) else path)
    return blocks


def _thinking_block(part: Thinking) -> Block | None:
    """A signed thinking part as Anthropic's block; None for one Anthropic cannot verify."""
    if part.signature is None:
        return None
    if part.redacted:
        return {"type": "redacted_thinking", "data": part.signature}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature}


def _tool_use(call: ToolCall, where: str, fallback_id: str) -> Block:
    if not call.name:
        raise validation(f"'{where}.function.name' is required.", f"{where}.function.name")
    block: Block = {
        "type": "tool_use",
        "id": call.id or fallback_id,
        "name": call.name,
        "input": _arguments(call.arguments, where),
    }
    return _marked(block, call.cache)


def _arguments(raw: str, where: str) -> dict[str, Any]:
    """A tool call's arguments JSON text as the object Anthropic takes."""
    if raw == "":
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise validation(
            f"'{where}.function.arguments' must be a JSON object.", f"{where}.function.arguments"
        )
    return value


# --- tools, the choice among them, thinking ---------------------------------------------------


def _tool(tool: Tool | Opaque, index: int) -> Block:
    if isinstance(tool, Opaque):
        if tool.wire == WIRE:
            value: Block = tool.value  # a server tool (web search…), as the caller sent it
            return value
        where = tool.where or f"tools[{index}]"
        raise validation(f"'{where}' must be a function tool for this model.", where)
    schema = dict(tool.parameters or {"properties": {}})
    schema.setdefault("type", "object")  # Anthropic insists on an object schema
    out: Block = {"name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["input_schema"] = schema
    return _marked(out, tool.cache)  # caches the tools up to this one


def _answer_tool(fmt: ResponseFormat) -> Block:
    schema = dict(fmt.schema) if fmt.schema is not None else {"type": "object"}
    schema.setdefault("type", "object")
    return {
        "name": ANSWER_TOOL,
        "description": "Give the final answer as JSON. Always answer by calling this tool.",
        "input_schema": schema,
    }


def _tool_choice(choice: ToolChoice | None, tools: list[Block]) -> dict[str, Any] | None:
    if not tools or choice is None:
        return None  # a choice among no tools means nothing; Anthropic would refuse it
    if choice.mode == "none":
        return {"type": "none"}
    out: dict[str, Any]
    if len(choice.names) == 1 and choice.mode == "required":
        out = {"type": "tool", "name": choice.names[0]}
    else:
        if choice.names:  # allowed tools: offer only those
            tools[:] = [t for t in tools if t.get("name") in choice.names]
        out = {"type": "any" if choice.mode == "required" else "auto"}
    if choice.parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def _thinking(
    reasoning: Reasoning | None,
    model: str,
    max_tokens: int,
    choice: dict[str, Any] | None,
    messages: list[dict[str, Any]],
) -> dict[str, Any] | None:
    if reasoning is None or reasoning.effort == "none":
        return None
    budget = reasoning.budget
    if budget is None:
        budget = _THINKING_BUDGET.get(str(reasoning.effort))
    if budget is None or not _THINKING_MODELS.search(model):
        return None
    if choice is not None and choice["type"] in ("any", "tool"):
        return None  # Anthropic refuses thinking with a forced tool
    if _loop_without_thinking(messages):
        return None
    budget = min(budget, max_tokens - 1)
    if budget < _MIN_THINKING_BUDGET:
        return None
    return {"type": "enabled", "budget_tokens": budget}


def _loop_without_thinking(messages: list[dict[str, Any]]) -> bool:
    """Whether the conversation ends in tool results answering an assistant turn that does
    not start with its thinking (Anthropic requires it there when thinking is on)."""
    if len(messages) < 2 or messages[-2]["role"] != "assistant":
        return False
    blocks = messages[-2]["content"]
    if not any(block.get("type") == "tool_use" for block in blocks):
        return False
    return blocks[0].get("type") not in _THINKING_BLOCKS
