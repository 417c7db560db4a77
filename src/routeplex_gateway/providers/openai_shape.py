"""OpenAI `chat.completion` bodies and `chat.completion.chunk`s built by translated providers.

The canonical shape is OpenAI's, so a provider with another wire format (Anthropic, Gemini)
turns its answer into exactly these objects: the placeholders OpenAI always sends
(`refusal`, `annotations`, `logprobs`) are present so that strict clients and OpenAI's own
schema accept them. Usage never rides on a chunk: the gateway writes the final usage chunk.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from ..canonical import Chunk, Usage

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """One entry of a message's `tool_calls`."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def completion_body(
    *,
    completion_id: str,
    model: str,
    content: str | None,
    tool_calls: list[dict[str, Any]],
    finish_reason: FinishReason,
    usage: Usage,
    refusal: str | None = None,
    logprobs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A non-streamed `chat.completion` with one choice."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    message["refusal"] = refusal
    message["annotations"] = []
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": _logprobs(logprobs),
                "finish_reason": finish_reason,
            }
        ],
    }
    if usage.known:
        body["usage"] = usage.openai()
    return body


def _logprobs(content: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    return None if content is None else {"content": content, "refusal": None}


def token_logprob(
    token: str, logprob: float, top: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One entry of OpenAI's `logprobs.content` (`top`: its `top_logprobs`, entries alike)."""
    entry: dict[str, Any] = {"token": token, "logprob": logprob, "bytes": list(token.encode())}
    if top is not None:
        entry["top_logprobs"] = top
    return entry


class ChunkWriter:
    """The chunks of one streamed answer: same id, model and creation time on every chunk."""

    def __init__(self, completion_id: str, model: str) -> None:
        self._id = completion_id
        self._model = model
        self._created = int(time.time())

    def chunk(
        self,
        delta: dict[str, Any],
        finish_reason: FinishReason | None = None,
        logprobs: list[dict[str, Any]] | None = None,
    ) -> Chunk:
        return Chunk(
            data={
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [
                    {
                        "index": 0,
                        "delta": delta,
                        "logprobs": _logprobs(logprobs),
                        "finish_reason": finish_reason,
                    }
                ],
            }
        )

    def opening(self, *, more: bool = False) -> Chunk:
        """The first chunk, as OpenAI sends it: the role and empty content (`more`: content
        follows at once)."""
        chunk = self.chunk({"role": "assistant", "content": "", "refusal": None})
        chunk.more = more
        return chunk

    def text(self, text: str, logprobs: list[dict[str, Any]] | None = None) -> Chunk:
        return self.chunk({"content": text}, logprobs=logprobs)

    def tool_start(self, index: int, call_id: str, name: str, arguments: str = "") -> Chunk:
        """A call's first fragment: id, type and name come once, as on OpenAI."""
        call = {"index": index, **tool_call(call_id, name, arguments)}
        return self.chunk({"tool_calls": [call]})

    def tool_arguments(self, index: int, fragment: str) -> Chunk:
        return self.chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})

    def refusal(self, text: str) -> Chunk:
        return self.chunk({"refusal": text})

    def finish(self, reason: FinishReason) -> Chunk:
        return self.chunk({}, reason)
