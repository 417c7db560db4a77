"""The canonical answer in the Responses API's shape: the `response` object and its output
items, for answers that did not come from OpenAI's own Responses endpoint (whose bodies are
relayed as they came, `store` forced false).

The object echoes the request's settings as OpenAI's does (instructions, tools, tool choice,
text format, sampling, metadata) — the caller's own values, back to the caller, never kept.
`store` is always false: the gateway keeps nothing, so there is nothing to fetch later.
Usage counts that the provider did not report are 0 here (OpenAI's schema has no null for
them) and null in `x_routeplex.usage_details`.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from ..canonical import ChatResponse, FinishReason, Refusal, Text, Thinking, ToolCall, Usage
from ..errors import ErrorCode, GatewayError
from .responses_decode import REDACTED, SEALED

Status = Literal["completed", "incomplete", "failed", "in_progress"]
# The Responses error codes (`ResponseErrorCode`) a failed response may carry.
_FAILED_CODES = {
    ErrorCode.RATE_LIMITED: "rate_limit_exceeded",
    ErrorCode.QUOTA_EXCEEDED: "rate_limit_exceeded",
    ErrorCode.DAILY_LIMIT_EXCEEDED: "rate_limit_exceeded",
    ErrorCode.DAILY_COST_LIMIT_EXCEEDED: "rate_limit_exceeded",
}


def response_id(request_id: str) -> str:
    """The response's id: the request's, as a `resp_` id (one request, one response)."""
    return "resp_" + request_id.removeprefix("req_")


def item_id(prefix: str, request_id: str, index: int) -> str:
    """An output item's id (`msg_`, `fc_`, `rs_`), unique within the gateway's answers."""
    return f"{prefix}_{request_id.removeprefix('req_')}{index:04x}"


def usage(counts: Usage) -> dict[str, Any]:
    """The Responses usage object (every detail present, as the schema requires)."""
    return {
        "input_tokens": counts.input_tokens or 0,
        "input_tokens_details": {
            "cached_tokens": counts.cache_read_tokens or 0,
            "cache_write_tokens": counts.cache_write_tokens or 0,
        },
        "output_tokens": counts.output_tokens or 0,
        "output_tokens_details": {"reasoning_tokens": counts.reasoning_tokens or 0},
        "total_tokens": counts.total_tokens or 0,
    }


def status_of(finish: FinishReason | None) -> tuple[Status, dict[str, str] | None]:
    """The response's status and `incomplete_details` for how the model stopped."""
    if finish == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def failure(error: GatewayError) -> dict[str, str]:
    """A failed response's `error`: a Responses error code and the gateway's message."""
    return {"code": _FAILED_CODES.get(error.code, "server_error"), "message": error.message}


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "name": tool["name"],
        "description": tool.get("description"),
        "parameters": tool.get("parameters"),
        "strict": tool.get("strict"),
    }


def envelope(
    body: dict[str, Any], *, rid: str, model: str, created: int, status: Status
) -> dict[str, Any]:
    """The response object without its output and usage: what the request asked for, and
    `store: false`."""
    text = body.get("text")
    text = text if isinstance(text, dict) else {}
    reasoning = body.get("reasoning")
    reasoning = reasoning if isinstance(reasoning, dict) else {}
    out = {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "model": model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True) is not False,
        "previous_response_id": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": False,
        "temperature": body.get("temperature", 1.0),
        "text": {"format": text.get("format") or {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": [_tool(t) for t in body.get("tools") or ()],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "metadata": body.get("metadata") or {},
    }
    if isinstance(body.get("user"), str):
        out["user"] = body["user"]
    return out


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(text: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": text}


def message_item(iid: str, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"id": iid, "type": "message", "status": status, "role": "assistant", "content": content}


def call_item(iid: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": iid,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def reasoning_item(
    iid: str, text: str, signature: str | None, *, redacted: bool, sealed: bool
) -> dict[str, Any]:
    """A reasoning item: the thinking as its summary, and — when the caller asked for
    `reasoning.encrypted_content` — the provider's signature wrapped as the gateway reads it
    back (`SEALED`), so the thinking can go back to the model that wrote it."""
    item: dict[str, Any] = {
        "id": iid,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}] if text else [],
    }
    if sealed and signature:
        item["encrypted_content"] = f"{SEALED}{REDACTED if redacted else ''}{signature}"
    return item


def output(response: ChatResponse, request_id: str, *, sealed: bool) -> list[dict[str, Any]]:
    """The answer's parts as output items, in order: reasoning, a message of the text and
    refusal parts next to each other, function calls."""
    items: list[dict[str, Any]] = []
    content: list[dict[str, Any]] = []

    def flush() -> None:
        if content:
            iid = item_id("msg", request_id, len(items))
            items.append(message_item(iid, list(content), "completed"))
            content.clear()

    for part in response.parts:
        if isinstance(part, Text):
            if content and content[-1]["type"] == "output_text":
                content[-1]["text"] += part.text
            else:
                content.append(text_part(part.text))
        elif isinstance(part, Refusal):
            content.append(refusal_part(part.text))
        elif isinstance(part, Thinking):
            flush()
            iid = item_id("rs", request_id, len(items))
            item = reasoning_item(
                iid, part.text, part.signature, redacted=part.redacted, sealed=sealed
            )
            items.append(item)
        elif isinstance(part, ToolCall):
            flush()
            iid = item_id("fc", request_id, len(items))
            items.append(call_item(iid, part.id, part.name, part.arguments, "completed"))
    flush()
    return items


def answer(
    response: ChatResponse,
    body: dict[str, Any],
    counts: Usage,
    *,
    request_id: str,
    model: str,
    sealed: bool,
) -> dict[str, Any]:
    """The whole `response` object of a finished answer."""
    status, details = status_of(response.finish_reason)
    out = envelope(
        body,
        rid=response_id(request_id),
        model=response.model or model,
        created=response.created or int(time.time()),
        status=status,
    )
    out["incomplete_details"] = details
    out["output"] = output(response, request_id, sealed=sealed)
    if counts.known:
        out["usage"] = usage(counts)
    return out
