"""Anthropic's Messages wire as the load generator speaks it: the request body (the same
prompt as the chat body, as the anthropic SDK would send it) and the judge of an answer —
the `message` JSON, or the SSE event sequence from `message_start` to `message_stop`.

A "light" judge (what measured cells use) costs the load generator little: the status, the
message's text, and a stream's last event being `message_stop`. A "full" one (what the check
before measuring uses) parses every event, checks each event's name against its data's type
and the sequence's order, and compares the text with the answer expected.
"""

from __future__ import annotations

from typing import Any

import orjson

ANTHROPIC_VERSION = "2023-06-01"


def messages_body(*, stream: bool, model: str = "claude-haiku-4-5") -> bytes:
    """The chat body's prompt and settings in Anthropic's shape (the system prompt apart)."""
    from bench.loadgen import SYSTEM_PROMPT, USER_PROMPT  # loadgen imports this module

    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 256,
        "system": SYSTEM_PROMPT,
        "messages": [{"role": "user", "content": USER_PROMPT}],
        "temperature": 0.7,
    }
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def judge_message(body: bytes, expect: str | None) -> str | None:
    """None for a good `message`, else a short reason."""
    try:
        data = orjson.loads(body)
        blocks = data["content"]
        text = "".join(b["text"] for b in blocks if b.get("type") == "text")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return "malformed"
    if data.get("type") != "message" or not text:
        return "malformed"
    if expect is not None:
        usage = data.get("usage")
        if not isinstance(usage, dict) or not isinstance(usage.get("output_tokens"), int):
            return "no_usage"
        if text != expect:
            return "wrong_content"
    return None


def judge_events(body: bytes, check: str, expect: str | None) -> str | None:
    """None for a good Messages event stream, else a short reason."""
    blocks = stream_blocks(body, b"event: message_stop")
    if blocks is None:
        return "no_message_stop"
    if check != "full":
        return None
    events = named_payloads(blocks)
    if events is None:
        return "malformed"
    names: list[str] = []
    text: list[str] = []
    usage = False
    for name, payload in events:
        names.append(name)
        delta = payload.get("delta")
        if name == "content_block_delta" and _text_delta(delta):
            text.append(delta["text"])
        if name == "message_delta":
            usage = isinstance((payload.get("usage") or {}).get("output_tokens"), int)
    order = [n for n in names if n != "ping"]
    if order[0] != "message_start" or order[-2:] != ["message_delta", "message_stop"]:
        return "malformed"
    if "content_block_start" not in order or "content_block_stop" not in order:
        return "malformed"
    if not usage:
        return "no_usage"
    if expect is not None and "".join(text) != expect:
        return "wrong_content"
    return None


def _text_delta(delta: Any) -> bool:
    return (
        isinstance(delta, dict)
        and delta.get("type") == "text_delta"
        and isinstance(delta.get("text"), str)
    )


def stream_blocks(body: bytes, last: bytes) -> list[bytes] | None:
    """A stream's SSE blocks, when it has more than one and the last begins with `last` (a
    whole stream, not one cut short); else None."""
    blocks = body.replace(b"\r\n", b"\n").strip().split(b"\n\n")
    if len(blocks) < 2 or not blocks[-1].startswith(last):
        return None
    return blocks


def named_payloads(blocks: list[bytes]) -> list[tuple[str, dict[str, Any]]] | None:
    """Each block's event name and JSON data, whose `type` must be that name (the Messages
    and Responses streams both name their events so); None when a block is not so."""
    events = []
    for block in blocks:
        name, data = sse_fields(block)
        if name is None or data is None:
            return None
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(payload, dict) or payload.get("type") != name:
            return None
        events.append((name, payload))
    return events


def sse_fields(block: bytes) -> tuple[str | None, bytes | None]:
    """An SSE event's name and data (the Messages and Responses streams both name theirs)."""
    name: str | None = None
    data: bytes | None = None
    for line in block.split(b"\n"):
        if line.startswith(b"event:"):
            name = line[6:].strip().decode()
        elif line.startswith(b"data:"):
            data = line[5:].strip()
    return name, data
