"""A streamed answer in the Responses API's semantic events, each framed
`event: <type>\\ndata: <json>\\n\\n` with a `sequence_number` counting from 0.

`ResponseStream` encodes the canonical deltas of any provider: `response.created` and
`response.in_progress` first; then each output item opened (`response.output_item.added`),
filled (`response.content_part.added` + `response.output_text.delta` / `response.refusal.delta`
for a message, `response.function_call_arguments.delta` for a call,
`response.reasoning_summary_*` for thinking) and closed with its `.done` events when the next
item starts or the answer ends; last `response.completed` (or `response.incomplete` when the
output cap cut it) with the whole response, its usage and `x_routeplex`. A stream that fails
after its first byte ends as OpenAI ends one: an `error` event, then `response.failed`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..canonical import (
    Chunk,
    Finish,
    FinishReason,
    RefusalDelta,
    TextDelta,
    ThinkingDelta,
    ToolArgumentsDelta,
    ToolCallStart,
    Usage,
)
from ..errors import GatewayError
from .responses_encode import (
    call_item,
    envelope,
    failure,
    item_id,
    message_item,
    reasoning_item,
    refusal_part,
    status_of,
    text_part,
    usage,
)


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


@dataclass(slots=True)
class _Item:
    """The output item being written: a message (its parts), a call, or reasoning."""

    kind: str  # "message", "function_call", "reasoning"
    index: int
    iid: str
    parts: list[dict[str, Any]] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    text: str = ""  # a call's arguments, or the reasoning so far
    signature: str | None = None
    redacted: bool = False


class ResponseStream:
    """The events of one answer encoded from canonical deltas (see the module docstring)."""

    def __init__(
        self, body: dict[str, Any], *, request_id: str, rid: str, sealed: bool, seq: int = 0
    ) -> None:
        self._body = body
        self._request_id = request_id
        self._rid = rid
        self._sealed = sealed
        self.seq = seq
        self._model = ""
        self._created = 0
        self._items: list[dict[str, Any]] = []
        self._open: _Item | None = None
        self._finish: FinishReason | None = None

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        payload = {"type": kind, "sequence_number": self.seq, **payload}
        self.seq += 1
        return event(kind, payload)

    def _response(self, status: Any) -> dict[str, Any]:
        out = envelope(
            self._body, rid=self._rid, model=self._model, created=self._created, status=status
        )
        out["output"] = list(self._items)
        return out

    def start(self, model: str, created: int | None = None) -> bytes:
        self._model = model
        self._created = created or int(time.time())
        return self._event(
            "response.created", {"response": self._response("in_progress")}
        ) + self._event("response.in_progress", {"response": self._response("in_progress")})

    # --- items ---------------------------------------------------------------------------
    def _begin(self, kind: str, prefix: str, item: dict[str, Any], **fields: Any) -> bytes:
        index = len(self._items)
        iid = item_id(prefix, self._request_id, index)
        self._open = _Item(kind, index, iid, **fields)
        item["id"] = iid
        return self._event("response.output_item.added", {"output_index": index, "item": item})

    def _where(self, item: _Item) -> dict[str, Any]:
        return {"item_id": item.iid, "output_index": item.index}

    def _end_part(self, item: _Item) -> bytes:
        if not item.parts:
            return b""
        part = item.parts[-1]
        where = {**self._where(item), "content_index": len(item.parts) - 1}
        if part["type"] == "output_text":
            done = self._event(
                "response.output_text.done", {**where, "text": part["text"], "logprobs": []}
            )
        else:
            done = self._event("response.refusal.done", {**where, "refusal": part["refusal"]})
        return done + self._event("response.content_part.done", {**where, "part": dict(part)})

    def _end(self) -> bytes:
        item = self._open
        if item is None:
            return b""
        self._open = None
        out = b""
        if item.kind == "message":
            out += self._end_part(item)
            done = message_item(item.iid, [dict(p) for p in item.parts], "completed")
        elif item.kind == "function_call":
            out += self._event(
                "response.function_call_arguments.done",
                {**self._where(item), "name": item.name, "arguments": item.text},
            )
            done = call_item(item.iid, item.call_id, item.name, item.text, "completed")
        else:
            if item.text:
                where = {**self._where(item), "summary_index": 0}
                out += self._event(
                    "response.reasoning_summary_text.done", {**where, "text": item.text}
                )
                part = {"type": "summary_text", "text": item.text}
                out += self._event("response.reasoning_summary_part.done", {**where, "part": part})
            done = reasoning_item(
                item.iid, item.text, item.signature, redacted=item.redacted, sealed=self._sealed
            )
        self._items.append(done)
        return out + self._event(
            "response.output_item.done", {"output_index": item.index, "item": done}
        )

    def _message_part(self, kind: str) -> bytes:
        """The open message's current part, of `kind` ("output_text" or "refusal")."""
        out = b""
        item = self._open
        if item is None or item.kind != "message":
            out += self._end()
            out += self._begin("message", "msg", message_item("", [], "in_progress"))
            item = self._open
            assert item is not None
        if item.parts and item.parts[-1]["type"] == kind:
            return out
        out += self._end_part(item)
        part = text_part("") if kind == "output_text" else refusal_part("")
        item.parts.append(part)
        where = {**self._where(item), "content_index": len(item.parts) - 1}
        return out + self._event("response.content_part.added", {**where, "part": dict(part)})

    def _text(self, text: str) -> bytes:
        out = self._message_part("output_text")
        item = self._open
        assert item is not None
        item.parts[-1]["text"] += text
        where = {**self._where(item), "content_index": len(item.parts) - 1}
        return out + self._event(
            "response.output_text.delta", {**where, "delta": text, "logprobs": []}
        )

    def _refusal(self, text: str) -> bytes:
        out = self._message_part("refusal")
        item = self._open
        assert item is not None
        item.parts[-1]["refusal"] += text
        where = {**self._where(item), "content_index": len(item.parts) - 1}
        return out + self._event("response.refusal.delta", {**where, "delta": text})

    def _thinking(self, delta: ThinkingDelta) -> bytes:
        out = b""
        item = self._open
        if item is None or item.kind != "reasoning":
            out += self._end()
            added = reasoning_item("", "", None, redacted=False, sealed=False)
            out += self._begin("reasoning", "rs", added)
            item = self._open
            assert item is not None
        if delta.signature is not None:
            item.signature = delta.signature
            item.redacted = delta.redacted
        if not delta.text:
            return out
        where = {**self._where(item), "summary_index": 0}
        if not item.text:
            part = {"type": "summary_text", "text": ""}
            out += self._event("response.reasoning_summary_part.added", {**where, "part": part})
        item.text += delta.text
        return out + self._event(
            "response.reasoning_summary_text.delta", {**where, "delta": delta.text}
        )

    def _call(self, start: ToolCallStart) -> bytes:
        out = self._end()
        added = call_item("", start.id, start.name, "", "in_progress")
        return out + self._begin("function_call", "fc", added, call_id=start.id, name=start.name)

    def _arguments(self, fragment: str) -> bytes:
        item = self._open
        if item is None or item.kind != "function_call" or not fragment:
            return b""
        item.text += fragment
        return self._event(
            "response.function_call_arguments.delta", {**self._where(item), "delta": fragment}
        )

    def chunk(self, chunk: Chunk) -> bytes:
        out: list[bytes] = []
        for delta in chunk.deltas:
            if isinstance(delta, TextDelta):
                out.append(self._text(delta.text))
            elif isinstance(delta, ToolCallStart):
                out.append(self._call(delta))
            elif isinstance(delta, ToolArgumentsDelta):
                out.append(self._arguments(delta.fragment))
            elif isinstance(delta, ThinkingDelta):
                out.append(self._thinking(delta))
            elif isinstance(delta, RefusalDelta):
                out.append(self._refusal(delta.text))
            elif isinstance(delta, Finish):
                self._finish = delta.reason
        return b"".join(out)

    # --- the end -------------------------------------------------------------------------
    def end(self, finish: FinishReason | None, counts: Usage, extra: dict[str, Any]) -> bytes:
        """The open item closed, then `response.completed` (or `.incomplete`)."""
        out = self._end()
        status, details = status_of(finish or self._finish)
        response = self._response(status)
        response["incomplete_details"] = details
        if counts.known:
            response["usage"] = usage(counts)
        response["x_routeplex"] = extra
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return out + self._event(kind, {"response": response})

    def fail(self, error: GatewayError) -> bytes:
        """An `error` event (its fields as the schema has them, and nested as OpenAI sends
        them, which is what makes the openai SDK raise), then `response.failed`."""
        body = orjson.loads(error.openai_body())["error"]
        fields = {"code": body["code"], "message": body["message"], "param": body["param"]}
        problem = self._event("error", {**fields, "error": body})
        response = self._response("failed")
        response["error"] = {**failure(error), "message": body["message"]}
        return problem + self._event("response.failed", {"response": response})
