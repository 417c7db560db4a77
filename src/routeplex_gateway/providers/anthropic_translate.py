"""OpenAI Chat Completions request → Anthropic Messages request.

Decisions (each one a place where the two APIs differ):

* the leading system and developer messages become the top-level `system` (a string, or text
  blocks when a part carries Anthropic's `cache_control`, which is passed through so callers
  can use prompt caching); later ones stay where they stand, as user-turn text wrapped in
  `<system_instruction>` tags (`openai_request.later_system_text`); consecutive turns of one
  role are merged, and `tool` messages become `tool_result` blocks in a user turn, as
  Anthropic requires.
* a tool's `cache_control` (on the tool or its `function`) is passed on to the Anthropic tool,
  so the tool definitions can be cached as well.
* images: `data:` URLs become base64 sources, other URLs url sources; `file` parts holding a
  base64 PDF become `document` blocks. Audio parts are refused (no Anthropic equivalent).
* `max_tokens` is required by Anthropic: the caller's cap, else the model's own output cap
  from the catalog (`Deployment.max_output_tokens`).
* JSON mode and JSON schema: with no caller tools, a forced "answer tool" whose input schema
  is the caller's schema (any object for JSON mode) — Anthropic then returns schema-shaped
  JSON reliably, and the provider hands its input back as the message text. With caller
  tools (a forced tool would keep the model from calling them), or a schema whose root is not
  an object, a system instruction asks for the JSON instead.
* `temperature` is capped at 1 (Anthropic's range is 0–1); whitespace-only stop sequences,
  which Anthropic rejects, are dropped; `user` / `safety_identifier` become
  `metadata.user_id`; `parallel_tool_calls: false` becomes `disable_parallel_tool_use`.
* `reasoning_effort` turns on extended thinking, for models that have it, when Anthropic's
  rules allow (a budget of at least 1,024 tokens below `max_tokens`, no forced tool, not in
  the middle of a tool loop whose earlier thinking blocks the caller could not send back);
  with thinking on, `temperature` is left out and `top_p` kept only from 0.95. Models whose
  catalog entry says `temperature_with_top_p = false` (Claude 4.5) refuse both together:
  `top_p` is dropped when `temperature` is sent.
* Refused (400 naming the field), since an answer without them would mislead: `logprobs`,
  `top_logprobs`.
* Ignored, having no Anthropic equivalent (README lists them): `seed` (Anthropic has no
  deterministic sampling), `frequency_penalty`, `presence_penalty`, `logit_bias`, `n`,
  `stream_options`, `service_tier`, `store`, `metadata`, `prediction`, `modalities`, `audio`,
  `web_search_options`, `prompt_cache_key`, `verbosity`, and the legacy `functions` /
  `function_call`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..canonical import Deployment
from ..errors import validation
from . import openai_request as oa

ANTHROPIC_VERSION = "2023-06-01"
ANSWER_TOOL = "json_answer"
# Only for a deployment the catalog did not describe (it always gives a cap).
FALLBACK_MAX_TOKENS = 4096
_THINKING_MODELS = re.compile(r"claude-(3-7|(opus|sonnet|haiku)-4|4)")
_THINKING_BUDGET = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384}
_MIN_THINKING_BUDGET = 1024
_PROVIDER = "Anthropic"
# What a message may be made of here, named in errors (which never quote the caller's value).
_PART_TYPES = ("text", "image_url", "file")
_ROLES = ("system", "developer", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class AnthropicRequest:
    body: dict[str, Any]
    answer_tool: bool  # JSON output is the input of the forced answer tool


def to_anthropic(body: dict[str, Any], deployment: Deployment, *, stream: bool) -> AnthropicRequest:
    for name in ("logprobs", "top_logprobs"):
        if body.get(name) not in (None, False):
            # Anthropic has no token log probabilities: refused, not silently dropped.
            raise validation(f"'{name}' is not supported by Anthropic models.", name)
    system, messages = _conversation(body.get("messages") or [])
    max_tokens = oa.max_output_tokens(body) or deployment.max_output_tokens or FALLBACK_MAX_TOKENS
    out: dict[str, Any] = {"model": deployment.upstream_model, "max_tokens": max_tokens}
    tools = [_tool(t) for t in oa.function_tools(body)]
    choice = _tool_choice(oa.tool_choice(body), body.get("parallel_tool_calls"), tools)
    answer_tool = False
    fmt = oa.json_format(body)
    if fmt is not None:
        if not tools and (fmt.schema is None or fmt.schema.get("type", "object") == "object"):
            tools = [_answer_tool(fmt)]
            choice = {"type": "tool", "name": ANSWER_TOOL}
            answer_tool = True
        else:
            system.append({"type": "text", "text": oa.json_instruction(fmt)})
    if system:
        cached = any("cache_control" in block for block in system)
        out["system"] = system if cached else "\n\n".join(block["text"] for block in system)
    out["messages"] = messages
    if tools:
        out["tools"] = tools
        if choice is not None:
            out["tool_choice"] = choice
    stop = [s for s in oa.stop_sequences(body) if s.strip()]
    if stop:
        out["stop_sequences"] = stop
    thinking = _thinking(body, deployment.upstream_model, max_tokens, choice, messages)
    if thinking is not None:
        out["thinking"] = thinking
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and thinking is None:
        out["temperature"] = min(float(temperature), 1.0)
    top_p = body.get("top_p")
    exclusive = "temperature" in out and not deployment.temperature_with_top_p
    if isinstance(top_p, int | float) and (thinking is None or top_p >= 0.95) and not exclusive:
        out["top_p"] = top_p
    user = body.get("safety_identifier") or body.get("user")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    out["stream"] = stream
    return AnthropicRequest(out, answer_tool)


def _conversation(messages: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, Anthropic messages) from OpenAI messages."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return  # an empty turn (`content: []`) is refused by Anthropic
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer") and not turns:
            system.extend(_text_blocks(content, where))
        elif role in ("system", "developer"):
            blocks = _text_blocks(content, where)
            for block in blocks:
                block["text"] = oa.later_system_text(block["text"])
            add("user", blocks)
        elif role == "user":
            add("user", _blocks(content, where))
        elif role == "assistant":
            blocks = _text_blocks(content, where)
            for i, call in enumerate(message.get("tool_calls") or ()):
                call_where = f"{where}.tool_calls[{i}]"
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id") or f"toolu_{index}_{i}",
                        "name": oa.call_name(call, call_where),
                        "input": oa.call_arguments(call, call_where),
                    }
                )
            if blocks:
                add("assistant", blocks)
        elif role == "tool":
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
            }
            result["content"] = (
                _blocks(content, where) if isinstance(content, list) else content or ""
            )
            add("user", [result])
        else:
            raise validation(
                f"'{where}.role' must be one of {', '.join(_ROLES)} for Anthropic models.",
                f"{where}.role",
            )
    if not turns:
        raise oa.no_content(_PROVIDER)
    return system, turns


def _text_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """Text-only content as text blocks, the empty ones left out (Anthropic rejects them)."""
    return [
        _text_block(part, f"{where}.content[{index}]")
        for index, part in enumerate(oa.parts(content, where))
        if part.get("text", part.get("refusal")) != ""
    ]


def _text_block(part: dict[str, Any], where: str) -> dict[str, Any]:
    text = part.get("text", part.get("refusal"))
    if part.get("type") not in ("text", "refusal") or not isinstance(text, str):
        raise validation(f"'{where}' must be a text part here.", where)
    block: dict[str, Any] = {"type": "text", "text": text}
    if isinstance(part.get("cache_control"), dict):
        block["cache_control"] = part["cache_control"]
    return block


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """User (or tool result) content as Anthropic content blocks; empty text is skipped."""
    blocks = []
    for index, part in enumerate(oa.parts(content, where)):
        part_where = f"{where}.content[{index}]"
        kind = part.get("type")
        if kind == "text":
            if not part.get("text"):
                continue  # Anthropic rejects empty text blocks
            block = _text_block(part, part_where)
        elif kind == "image_url":
            block = {"type": "image", "source": _source(oa.image_url(part, part_where))}
        elif kind == "file" and isinstance(part.get("file"), dict):
            block = _document(part["file"], part_where)
        else:
            raise oa.unsupported_part(part_where, _PROVIDER, _PART_TYPES)
        if isinstance(part.get("cache_control"), dict):
            block["cache_control"] = part["cache_control"]
        blocks.append(block)
    return blocks


def _source(url: str) -> dict[str, Any]:
    inline = oa.data_url(url)
    if inline is not None:
        return {"type": "base64", "media_type": inline[0], "data": inline[1]}
    return {"type": "url", "url": url}


def _document(file: dict[str, Any], where: str) -> dict[str, Any]:
    inline = oa.data_url(file.get("file_data") or "")
    if inline is None or inline[0] != "application/pdf":
        raise validation(f"'{where}.file' must hold a base64 PDF for Anthropic models.", where)
    return {
        "type": "document",
        "source": {"type": "base64", "media_type": inline[0], "data": inline[1]},
    }


def _tool(tool: oa.FunctionTool) -> dict[str, Any]:
    schema = dict(tool.parameters or {"properties": {}})
    schema.setdefault("type", "object")  # Anthropic insists on an object schema
    out: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["input_schema"] = schema
    if tool.cache_control is not None:
        out["cache_control"] = tool.cache_control  # caches the tools up to this one
    return out


def _answer_tool(fmt: oa.JsonFormat) -> dict[str, Any]:
    schema = dict(fmt.schema) if fmt.schema is not None else {"type": "object"}
    schema.setdefault("type", "object")
    return {
        "name": ANSWER_TOOL,
        "description": "Give the final answer as JSON. Always answer by calling this tool.",
        "input_schema": schema,
    }


def _tool_choice(
    choice: oa.ToolChoice | None, parallel: Any, tools: list[dict[str, Any]]
) -> dict[str, Any] | None:
    if not tools:
        return None  # a choice among no tools means nothing; Anthropic would refuse it
    out: dict[str, Any] | None = None
    if choice is not None:
        if choice.mode == "none":
            return {"type": "none"}
        if len(choice.names) == 1 and choice.mode == "required":
            out = {"type": "tool", "name": choice.names[0]}
        else:
            if choice.names:  # allowed_tools: offer only those
                tools[:] = [t for t in tools if t["name"] in choice.names]
            out = {"type": "any" if choice.mode == "required" else "auto"}
    if parallel is False:
        out = out or {"type": "auto"}
        out["disable_parallel_tool_use"] = True
    return out


def _thinking(
    body: dict[str, Any],
    model: str,
    max_tokens: int,
    choice: dict[str, Any] | None,
    messages: list[dict[str, Any]],
) -> dict[str, Any] | None:
    budget = _THINKING_BUDGET.get(str(body.get("reasoning_effort")))
    if budget is None or not _THINKING_MODELS.search(model):
        return None
    if choice is not None and choice["type"] in ("any", "tool"):
        return None  # Anthropic refuses thinking with a forced tool
    if _in_tool_loop(messages):
        return None
    budget = min(budget, max_tokens - 1)
    if budget < _MIN_THINKING_BUDGET:
        return None
    return {"type": "enabled", "budget_tokens": budget}


def _in_tool_loop(messages: list[dict[str, Any]]) -> bool:
    """Whether the conversation ends in tool results answering the last assistant turn."""
    if len(messages) < 2 or messages[-2]["role"] != "assistant":
        return False
    return any(block.get("type") == "tool_use" for block in messages[-2]["content"])
