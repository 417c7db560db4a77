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
    ChatRequest,
    Deployment,
    Opaque,
    Reasoning,
    ResponseFormat,
    Tool,
    ToolChoice,
)
from ..errors import validation
from .anthropic_conversation import WIRE, Block, conversation, marked

ANTHROPIC_VERSION = "2023-06-01"
ANSWER_TOOL = "json_answer"
# Only for a deployment the catalog did not describe (it always gives a cap).
FALLBACK_MAX_TOKENS = 4096
_THINKING_MODELS = re.compile(r"claude-(3-7|(opus|sonnet|haiku)-4|4)")
_THINKING_BUDGET = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384}
_MIN_THINKING_BUDGET = 1024
_THINKING_BLOCKS = ("thinking", "redacted_thinking")


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
    system, messages = conversation(request.messages)
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


def json_instruction(fmt: ResponseFormat) -> str:
    """A system instruction asking for JSON, for when the API has no switch for it."""
    if fmt.schema is None:
        return "Respond with a single valid JSON object and nothing else."
    schema = orjson.dumps(fmt.schema).decode()
    return (
        "Respond with a single valid JSON value and nothing else. It must conform to this "
        f"JSON schema: {schema}"
    )


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
    return marked(out, tool.cache)  # caches the tools up to this one


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
