"""The OpenAI Responses wire format: the response object, its SSE event stream, and the
mid-stream failure.

Shapes follow recorded real traffic (`tests/fixtures/providers/openai/responses_*`): the
response object's key order and defaults as the newest recording has them (gpt-5.5, 2026),
output items (`reasoning`, then a `message` of `output_text` parts, or `function_call`
items), usage with `input_tokens_details.cached_tokens` and
`output_tokens_details.reasoning_tokens`; streams of named events (`event: <type>` then one
`data:` line), each with a `sequence_number`, text deltas with `logprobs` and the
`obfuscation` padding, and usage only in the final `response.completed` (or
`response.incomplete` when the output cap ended it). OpenAI's current schema also requires
`input_tokens_details.cache_write_tokens` and the function's `name` on
`response.function_call_arguments.done`, which the 2025 recordings predate: both are sent;
it does not allow the `"usage": null` and `"user": null` OpenAI sends, which are left out.

The mid-stream failure is the recorded one (`responses_stream_error_insufficient_quota`): after
HTTP 200, an `error` event, then `response.failed` with the response's `error`, and nothing
after. The `error` event carries its fields twice — nested under `error`, as OpenAI sent it,
and at the top level, as OpenAI's schema and SDK describe it — so a reader of either finds
them; its code is `server_error`, one the schema's `ResponseErrorCode` allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from routeplex_gateway.simulator.answer import Answer, digest, stable_token
from routeplex_gateway.simulator.openai_format import SERVICE_TIER, argument_fragments

SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"


@dataclass(frozen=True)
class Reply:
    """One generated response: identity, the answer, prompt size and what it echoes."""

    id: str
    created_at: int
    model: str
    seed: bytes
    answer: Answer
    input_tokens: int
    echo: Mapping[str, Any]
    reasoning: bool  # a reasoning item comes first
    encrypted_reasoning: bool  # ... with `encrypted_content` (`include` asked for it)


def echo_settings(body: Mapping[str, Any], *, reasoning: bool) -> dict[str, Any]:
    """The request's settings as OpenAI's response object repeats them (its defaults when
    not given)."""
    given = body.get("reasoning")
    requested: dict[str, Any] = given if isinstance(given, dict) else {}
    text = dict(body["text"]) if isinstance(body.get("text"), dict) else {}
    text.setdefault("format", {"type": "text"})
    text.setdefault("verbosity", "medium")
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {
            "effort": requested.get("effort", "medium" if reasoning else None),
            "summary": requested.get("summary"),
        },
        "safety_identifier": body.get("safety_identifier"),
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": text,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": [_echo_tool(tool) for tool in body.get("tools") or []],
        "top_logprobs": body.get("top_logprobs", 0),
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def _echo_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    if tool.get("type") != "function":
        return dict(tool)
    return {
        "type": "function",
        "description": tool.get("description"),
        "name": tool.get("name"),
        "parameters": tool.get("parameters"),
        "strict": tool.get("strict", True),
    }


def usage(reply: Reply) -> dict[str, Any]:
    """The `usage` object, in OpenAI's key order."""
    answer = reply.answer
    return {
        "input_tokens": reply.input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": answer.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": answer.reasoning_tokens},
        "total_tokens": reply.input_tokens + answer.completion_tokens,
    }


def response_object(
    reply: Reply,
    *,
    status: str,
    output: list[dict[str, Any]],
    with_usage: bool,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The response object in one of its states (`in_progress`, `completed`, …)."""
    echo = reply.echo
    finished = status in ("completed", "incomplete")
    incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
    body = {
        "id": reply.id,
        "object": "response",
        "created_at": reply.created_at,
        "status": status,
        "background": False,
        "completed_at": reply.created_at + 1 if finished else None,
        "error": error,
        "frequency_penalty": 0.0,
        "incomplete_details": incomplete,
        "instructions": echo["instructions"],
        "max_output_tokens": echo["max_output_tokens"],
        "max_tool_calls": echo["max_tool_calls"],
        "model": reply.model,
        "moderation": None,
        "output": output,
        "parallel_tool_calls": echo["parallel_tool_calls"],
        "presence_penalty": 0.0,
        "previous_response_id": None,
        "prompt_cache_key": echo["prompt_cache_key"],
        "prompt_cache_retention": None,
        "reasoning": echo["reasoning"],
        "safety_identifier": echo["safety_identifier"],
        "service_tier": SERVICE_TIER,
        "store": echo["store"],
        "temperature": echo["temperature"],
        "text": echo["text"],
        "tool_choice": echo["tool_choice"],
        "tools": echo["tools"],
        "top_logprobs": echo["top_logprobs"],
        "top_p": echo["top_p"],
        "truncation": echo["truncation"],
        "usage": usage(reply) if with_usage else None,
        "user": echo["user"],
        "metadata": echo["metadata"],
    }
    # OpenAI sends `"usage": null` until the end and `"user": null` when none was given, but
    # its schema allows neither to be null: both are left out instead (the SDKs read either).
    for name in ("usage", "user"):
        if body[name] is None:
            del body[name]
    return body


def final_status(reply: Reply) -> str:
    return "incomplete" if reply.answer.finish_reason == "length" else "completed"


def response_body(reply: Reply) -> dict[str, Any]:
    """A non-streaming response."""
    return response_object(
        reply, status=final_status(reply), output=output_items(reply), with_usage=True
    )


def output_items(reply: Reply) -> list[dict[str, Any]]:
    """The finished output: a reasoning item (reasoning models), then the message or the
    function calls."""
    items = [_reasoning_item(reply)] if reply.reasoning else []
    answer = reply.answer
    if answer.tool_calls:
        items += [_call_item(reply, i, done=True) for i in range(len(answer.tool_calls))]
    elif answer.pieces or answer.finish_reason != "length":
        items.append(_message_item(reply, answer.text or "", status=_message_status(reply)))
    return items


def stream_events(reply: Reply, *, include_obfuscation: bool = True) -> tuple[bytes, ...]:
    """Every SSE event of a stream, framed, in order."""
    events: list[dict[str, Any]] = []
    opening = response_object(reply, status="in_progress", output=[], with_usage=False)
    events.append({"type": "response.created", "response": opening})
    events.append({"type": "response.in_progress", "response": opening})
    index = 0
    if reply.reasoning:
        item = _reasoning_item(reply)
        events.append(_item_event("added", {**item, "encrypted_content": None}, index))
        events.append(_item_event("done", item, index))
        index += 1
    answer = reply.answer
    if answer.tool_calls:
        for call in range(len(answer.tool_calls)):
            events += _call_events(reply, call, index)
            index += 1
    elif answer.pieces or answer.finish_reason != "length":
        events += _text_events(reply, index, include_obfuscation)
    status = final_status(reply)
    final = response_body(reply)
    events.append({"type": f"response.{status}", "response": final})
    return tuple(sse_event(event, number) for number, event in enumerate(events))


def failure_events(reply: Reply, sequence_number: int) -> bytes:
    """The mid-stream failure, numbered from `sequence_number`: an `error` event, then
    `response.failed` (see the module docstring)."""
    fields = {"code": "server_error", "message": SERVER_ERROR_MESSAGE, "param": None}
    error = {"type": "error", **fields, "error": {"type": "server_error", **fields}}
    failed = response_object(
        reply,
        status="failed",
        output=[],
        with_usage=False,
        error={"code": "server_error", "message": SERVER_ERROR_MESSAGE},
    )
    return sse_event(error, sequence_number) + sse_event(
        {"type": "response.failed", "response": failed}, sequence_number + 1
    )


def sse_event(event: Mapping[str, Any], sequence_number: int) -> bytes:
    """One named SSE event as OpenAI frames it; the data's keys after `type` in the order
    the newest recording has them (alphabetical), `sequence_number` among them."""
    kind = str(event["type"])
    fields = {**{k: v for k, v in event.items() if k != "type"}, "sequence_number": sequence_number}
    data = {"type": kind, **dict(sorted(fields.items()))}
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _message_status(reply: Reply) -> str:
    return "incomplete" if reply.answer.finish_reason == "length" else "completed"


def _message_item(reply: Reply, text: str, *, status: str) -> dict[str, Any]:
    content = [] if status == "in_progress" else [_text_part(text)]
    return {
        "id": "msg_" + _id_body(reply, "message"),
        "type": "message",
        "status": status,
        "content": content,
        "role": "assistant",
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _reasoning_item(reply: Reply) -> dict[str, Any]:
    item: dict[str, Any] = {"id": "rs_" + _id_body(reply, "reasoning"), "type": "reasoning"}
    if reply.encrypted_reasoning:
        # Opaque to everyone but the provider, as OpenAI's: only its own later turns read it.
        item["encrypted_content"] = "gAAAAA" + stable_token(reply.seed, "encrypted", 40)
    item["summary"] = []
    return item


def _call_item(reply: Reply, index: int, *, done: bool) -> dict[str, Any]:
    call = reply.answer.tool_calls[index]
    return {
        "id": "fc_" + _id_body(reply, f"call-{index}"),
        "type": "function_call",
        "status": "completed" if done else "in_progress",
        "arguments": call.arguments if done else "",
        "call_id": "call_" + call.key,
        "name": call.name,
    }


def _item_event(stage: str, item: dict[str, Any], index: int) -> dict[str, Any]:
    return {"type": f"response.output_item.{stage}", "item": item, "output_index": index}


def _text_events(reply: Reply, index: int, include_obfuscation: bool) -> list[dict[str, Any]]:
    answer = reply.answer
    text = answer.text or ""
    item_id = "msg_" + _id_body(reply, "message")
    where = {"item_id": item_id, "output_index": index, "content_index": 0}
    events = [
        _item_event("added", _message_item(reply, "", status="in_progress"), index),
        {"type": "response.content_part.added", **where, "part": _text_part("")},
    ]
    for position, piece in enumerate(answer.pieces):
        delta: dict[str, Any] = {"type": "response.output_text.delta", **where, "delta": piece}
        delta["logprobs"] = []
        if include_obfuscation:
            delta["obfuscation"] = _obfuscation(reply, position)
        events.append(delta)
    events += [
        {"type": "response.output_text.done", **where, "logprobs": [], "text": text},
        {"type": "response.content_part.done", **where, "part": _text_part(text)},
        _item_event("done", _message_item(reply, text, status=_message_status(reply)), index),
    ]
    return events


def _call_events(reply: Reply, call: int, index: int) -> list[dict[str, Any]]:
    item = _call_item(reply, call, done=False)
    where = {"item_id": item["id"], "output_index": index}
    arguments = reply.answer.tool_calls[call].arguments
    events = [_item_event("added", item, index)]
    events += [
        {"type": "response.function_call_arguments.delta", **where, "delta": fragment}
        for fragment in argument_fragments(arguments)
    ]
    events.append(
        {
            "type": "response.function_call_arguments.done",
            **where,
            "arguments": arguments,
            "name": item["name"],
        }
    )
    events.append(_item_event("done", _call_item(reply, call, done=True), index))
    return events


def _id_body(reply: Reply, label: str) -> str:
    # As long as OpenAI's (48 hex digits after the prefix), tied to the response.
    return digest(reply.id.encode(), label.encode()).hex()[:48]


def _obfuscation(reply: Reply, position: int) -> str:
    # OpenAI pads deltas with random characters against size side channels; ours are stable.
    label = f"obfuscation-{position}"
    return stable_token(reply.seed, label, 2 + digest(reply.seed, label.encode())[0] % 14)
