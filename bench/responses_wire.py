"""OpenAI's Responses wire as the load generator speaks it: the request body (the chat
body's prompt as `client.responses.create` would send it: the system prompt as
`instructions`) and the judge of an answer — the `response` JSON, or the SSE event
sequence from `response.created` to `response.completed`.

A "light" judge (what measured cells use) costs the load generator little: the status, the
response's text, and a stream's last event being `response.completed`. A "full" one (what
the check before measuring uses) parses every event, checks each event's name against its
data's type, the `sequence_number`s (0, 1, 2, … in order), the sequence's ends, the usage in
`response.completed`, and compares the text with the answer expected.
"""

from __future__ import annotations

from typing import Any

import orjson

from bench.messages_wire import named_payloads, stream_blocks


def responses_body(*, stream: bool, model: str = "gpt-4o-mini") -> bytes:
    """The chat body's prompt and settings in the Responses API's shape."""
    from bench.loadgen import SYSTEM_PROMPT, USER_PROMPT  # loadgen imports this module

    body: dict[str, Any] = {
        "model": model,
        "instructions": SYSTEM_PROMPT,
        "input": [{"role": "user", "content": USER_PROMPT}],
        "max_output_tokens": 256,
        "temperature": 0.7,
    }
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def output_text(response: Any) -> str | None:
    """The text of a `response` object's message items, or None when it is not one."""
    if not isinstance(response, dict) or response.get("object") != "response":
        return None
    output = response.get("output")
    if not isinstance(output, list):
        return None
    text: list[str] = []
    for item in output:
        if isinstance(item, dict) and item.get("type") == "message":
            for part in item.get("content") or ():
                if isinstance(part, dict) and part.get("type") == "output_text":
                    text.append(part.get("text") or "")
    return "".join(text)


def _has_usage(response: Any) -> bool:
    usage = response.get("usage") if isinstance(response, dict) else None
    return isinstance(usage, dict) and all(
        isinstance(usage.get(k), int) for k in ("input_tokens", "output_tokens")
    )


def judge_response(body: bytes, expect: str | None) -> str | None:
    """None for a good, completed `response`, else a short reason."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "malformed"
    text = output_text(data)
    if not text or data.get("status") != "completed":
        return "malformed"
    if expect is not None:
        if not _has_usage(data):
            return "no_usage"
        if text != expect:
            return "wrong_content"
    return None


def judge_response_events(body: bytes, check: str, expect: str | None) -> str | None:
    """None for a good Responses event stream, else a short reason."""
    blocks = stream_blocks(body, b"event: response.completed")
    if blocks is None:
        return "no_completed"
    if check != "full":
        return None
    events = named_payloads(blocks)
    if events is None:
        return "malformed"
    names: list[str] = []
    text: list[str] = []
    last: dict[str, Any] = {}
    for number, (name, payload) in enumerate(events):
        if payload.get("sequence_number") != number:
            return "bad_sequence"
        names.append(name)
        if name == "response.output_text.delta" and isinstance(payload.get("delta"), str):
            text.append(payload["delta"])
        last = payload
    if names[0] != "response.created" or "response.output_item.done" not in names:
        return "malformed"
    completed = last.get("response")
    if output_text(completed) != "".join(text) or completed.get("status") != "completed":
        return "malformed"  # the final response must hold what the deltas said
    if not _has_usage(completed):
        return "no_usage"
    if expect is not None and "".join(text) != expect:
        return "wrong_content"
    return None
