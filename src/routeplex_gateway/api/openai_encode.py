"""The canonical answer in OpenAI's shape: a `chat.completion` built from typed parts, and
`chat.completion.chunk`s built from stream deltas — for answers that did not come from an
OpenAI-shaped provider (whose own bodies and chunks are relayed as they came).

The placeholders OpenAI always sends (`refusal`, `annotations`, `logprobs`) are present so
that strict clients and OpenAI's own schema accept them. Thinking is left out: Chat
Completions has no place for it. Usage never rides on a chunk: the codec writes the final
usage chunk itself.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from ..canonical import (
    ChatResponse,
    Chunk,
    Finish,
    FinishReason,
    Refusal,
    RefusalDelta,
    Text,
    TextDelta,
    TokenLogprob,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
)
from .wire import sse


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """One entry of a message's `tool_calls`."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def token_logprob(token: TokenLogprob) -> dict[str, Any]:
    """One entry of OpenAI's `logprobs.content`, with its `top_logprobs` (entries alike)."""
    top = token.top or ()
    return {
        "token": token.token,
        "logprob": token.logprob,
        "bytes": list(token.token.encode()),
        "top_logprobs": [
            {"token": t.token, "logprob": t.logprob, "bytes": list(t.token.encode())} for t in top
        ],
    }


def _logprobs(tokens: list[TokenLogprob] | tuple[TokenLogprob, ...] | None) -> Any:
    if tokens is None:
        return None
    return {"content": [token_logprob(token) for token in tokens], "refusal": None}


def completion(response: ChatResponse, *, answer_id: str, model: str) -> dict[str, Any]:
    """The answer as a non-streamed `chat.completion` with one choice (`answer_id`, `model`:
    for an answer that names neither)."""
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in response.parts:
        if isinstance(part, Text):
            texts.append(part.text)
        elif isinstance(part, ToolCall):
            calls.append(tool_call(part.id, part.name, part.arguments))
        elif isinstance(part, Refusal):
            refusals.append(part.text)
    text = "".join(texts)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text if text or not (calls or refusals) else None,
    }
    if calls:
        message["tool_calls"] = calls
    message["refusal"] = "".join(refusals) if refusals else None
    message["annotations"] = []
    body: dict[str, Any] = {
        "id": response.id or answer_id,
        "object": "chat.completion",
        "created": response.created or int(time.time()),
        "model": response.model or model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": _logprobs(response.logprobs),
                "finish_reason": response.finish_reason or "stop",
            }
        ],
    }
    if response.usage.known:
        body["usage"] = response.usage.openai()
    return body


class ChunkWriter:
    """The chunks of one streamed answer, SSE-framed: the same id, model and creation time on
    every chunk, a first chunk with the role (as OpenAI sends it), then one chunk per delta
    (a call's start with its first arguments in one, as OpenAI sends them)."""

    __slots__ = ("_head",)

    def __init__(self, answer_id: str, model: str, created: int) -> None:
        # Every chunk opens alike: its head is encoded once.
        head = {"id": answer_id, "object": "chat.completion.chunk", "created": created}
        self._head = orjson.dumps({**head, "model": model})[:-1] + b',"choices":['

    def _chunk(
        self,
        delta: dict[str, Any],
        finish_reason: FinishReason | None = None,
        logprobs: tuple[TokenLogprob, ...] | None = None,
    ) -> bytes:
        choice = {
            "index": 0,
            "delta": delta,
            "logprobs": _logprobs(logprobs),
            "finish_reason": finish_reason,
        }
        return sse(self._head + orjson.dumps(choice) + b"]}")

    def opening(self) -> bytes:
        """The first chunk, as OpenAI sends it: the role and empty content."""
        return self._chunk({"role": "assistant", "content": "", "refusal": None})

    def chunk(self, chunk: Chunk) -> bytes:
        """The chunks of one canonical chunk's deltas (thinking has no place here)."""
        out: list[bytes] = []
        deltas = chunk.deltas
        skip = False
        for position, delta in enumerate(deltas):
            if skip:
                skip = False
                continue
            if isinstance(delta, TextDelta):
                out.append(self._chunk({"content": delta.text}, logprobs=delta.logprobs))
            elif isinstance(delta, ToolCallStart):
                arguments = ""
                after = deltas[position + 1] if position + 1 < len(deltas) else None
                if isinstance(after, ToolArgumentsDelta) and after.index == delta.index:
                    arguments, skip = after.fragment, True
                call = {"index": delta.index, **tool_call(delta.id, delta.name, arguments)}
                out.append(self._chunk({"tool_calls": [call]}))
            elif isinstance(delta, ToolArgumentsDelta):
                call = {"index": delta.index, "function": {"arguments": delta.fragment}}
                out.append(self._chunk({"tool_calls": [call]}))
            elif isinstance(delta, RefusalDelta):
                out.append(self._chunk({"refusal": delta.text}))
            elif isinstance(delta, Finish):
                out.append(self._chunk({}, delta.reason))
        return b"".join(out)
