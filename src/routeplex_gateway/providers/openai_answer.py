"""OpenAI's answers in canonical terms: a `chat.completion` → `ChatResponse`, each
`chat.completion.chunk` → its `Delta`s, and OpenAI's usage object → `Usage`.

The answer is choice 0 (the only one without `n`): its content is a `Text`, its refusal a
`Refusal`, its tool calls `ToolCall`s (arguments as the text the model produced), and the
`reasoning_content` that OpenAI-compatible servers (DeepSeek, vLLM) send a `Thinking`, ahead of
the text it led to. Finish reasons OpenAI does not document (a server's own) read as "stop";
the legacy `function_call` as "tool_calls". vLLM's `stop_reason` (the stop string that ended
the answer) is the stop sequence.

Chunks are read on the stream's hot path: `ChunkReader.deltas` looks only at choice 0's
`delta` and finish reason, with no work for a field that is absent.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..canonical import (
    AnswerPart,
    ChatResponse,
    Delta,
    Finish,
    FinishReason,
    Refusal,
    RefusalDelta,
    Text,
    TextDelta,
    Thinking,
    ThinkingDelta,
    TokenLogprob,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
    Usage,
)

WIRE = "openai"
_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def parse_usage(raw: Any) -> Usage:
    """OpenAI usage → canonical. Cached and reasoning counts are already inside the totals."""
    if not isinstance(raw, dict):
        return Usage()
    prompt = raw.get("prompt_tokens")
    completion = raw.get("completion_tokens")
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=prompt if isinstance(prompt, int) else None,
        output_tokens=completion if isinstance(completion, int) else None,
        cache_read_tokens=prompt_details.get("cached_tokens"),
        cache_write_tokens=prompt_details.get("cache_write_tokens"),
        reasoning_tokens=completion_details.get("reasoning_tokens"),
    )


def finish_reason(value: Any) -> FinishReason | None:
    if not value:
        return None
    return _FINISH.get(value, "stop") if isinstance(value, str) else "stop"


def _stop_sequence(choice: dict[str, Any]) -> str | None:
    stopped_by = choice.get("stop_reason")
    return stopped_by if isinstance(stopped_by, str) and stopped_by else None


def _arguments(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()


def _call(call: Any) -> ToolCall | None:
    if not isinstance(call, dict):
        return None
    function = call.get("function")
    function = function if isinstance(function, dict) else {}
    call_id, name = call.get("id"), function.get("name")
    return ToolCall(
        id=call_id if isinstance(call_id, str) else "",
        name=name if isinstance(name, str) else "",
        arguments=_arguments(function.get("arguments")),
    )


def completion(data: dict[str, Any]) -> ChatResponse:
    """A `chat.completion` (already checked to have `choices`) as the canonical answer."""
    choices = data.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    parts: list[AnswerPart] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        parts.append(Thinking(text=reasoning))
    content = message.get("content")
    if isinstance(content, str) and content:
        parts.append(Text(content))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        parts.append(Refusal(refusal))
    for raw in message.get("tool_calls") or ():
        call = _call(raw)
        if call is not None:
            parts.append(call)
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        name, arguments = legacy.get("name"), _arguments(legacy.get("arguments"))
        parts.append(
            ToolCall(id="", name=name if isinstance(name, str) else "", arguments=arguments)
        )
    answer_id, model, created = data.get("id"), data.get("model"), data.get("created")
    return ChatResponse(
        id=answer_id if isinstance(answer_id, str) else "",
        model=model if isinstance(model, str) else "",
        parts=parts,
        finish_reason=finish_reason(choice.get("finish_reason")),
        usage=parse_usage(data.get("usage")),
        created=created if isinstance(created, int) else 0,
        stop_sequence=_stop_sequence(choice),
        logprobs=token_logprobs(choice.get("logprobs")),
        wire=WIRE,
        native=data,
    )


def token_logprobs(raw: Any) -> list[TokenLogprob] | None:
    """OpenAI's `logprobs.content` as canonical token log probabilities."""
    content = raw.get("content") if isinstance(raw, dict) else None
    if not isinstance(content, list):
        return None
    return [_token(entry, top=True) for entry in content if isinstance(entry, dict)]


def _token(entry: dict[str, Any], *, top: bool) -> TokenLogprob:
    token, logprob = entry.get("token"), entry.get("logprob")
    alternatives = entry.get("top_logprobs") if top else None
    return TokenLogprob(
        token=token if isinstance(token, str) else "",
        logprob=float(logprob) if isinstance(logprob, int | float) else 0.0,
        top=tuple(_token(a, top=False) for a in alternatives if isinstance(a, dict))
        if isinstance(alternatives, list)
        else None,
    )


class ChunkReader:
    """The deltas of one stream's chunks. Tool calls are renumbered in the order they
    start (a server may reuse index 0 for every call, or leave the index out)."""

    __slots__ = ("_calls", "_last", "_started", "finish_reason")

    def __init__(self) -> None:
        self._calls: dict[Any, tuple[str, int]] = {}  # upstream index → (id, canonical index)
        self._last: Any = None  # the upstream index of the last call fragment
        self._started = 0
        self.finish_reason: FinishReason | None = None

    def deltas(self, data: dict[str, Any]) -> tuple[Delta, ...]:
        """Choice 0's deltas of a parsed chunk (none for a chunk without it)."""
        for choice in data.get("choices") or ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                return self._choice(choice)
        return ()

    def _choice(self, choice: dict[str, Any]) -> tuple[Delta, ...]:
        delta = choice.get("delta")
        if type(delta) is dict and len(delta) == 1 and not choice.get("finish_reason"):
            # Nearly every chunk: a piece of text and nothing else (a third of the per-chunk
            # parsing cost when it took the general path below).
            content = delta.get("content")
            if type(content) is str and not choice.get("logprobs"):
                return (TextDelta(content),) if content else ()
        out: list[Delta] = []
        if delta and isinstance(delta, dict):
            reasoning = delta.get("reasoning_content")
            if reasoning and isinstance(reasoning, str):
                out.append(ThinkingDelta(reasoning))
            content = delta.get("content")
            if content and isinstance(content, str):
                logprobs = choice.get("logprobs")
                tokens = token_logprobs(logprobs) if logprobs else None
                out.append(TextDelta(content, tuple(tokens) if tokens is not None else None))
            refusal = delta.get("refusal")
            if refusal and isinstance(refusal, str):
                out.append(RefusalDelta(refusal))
            calls = delta.get("tool_calls")
            if calls and isinstance(calls, list):
                self._tool_calls(calls, out)
        reason = choice.get("finish_reason")
        if reason:
            self.finish_reason = finish = finish_reason(reason) or "stop"
            out.append(Finish(finish, _stop_sequence(choice)))
        return tuple(out)

    def _tool_calls(self, calls: list[Any], out: list[Delta]) -> None:
        for call in calls:
            if not isinstance(call, dict):
                continue
            call_id = call.get("id")
            call_id = call_id if isinstance(call_id, str) else ""
            function = call.get("function")
            function = function if isinstance(function, dict) else {}
            key = call.get("index")
            if not isinstance(key, int):
                # No index: a fragment with an id starts a call, one without continues.
                key = ("unindexed", self._started) if call_id else self._last
            known = self._calls.get(key)
            if known is None or (call_id and call_id != known[0]):
                name = function.get("name")
                known = self._calls[key] = (call_id, self._started)
                self._started += 1
                out.append(ToolCallStart(known[1], call_id, name if isinstance(name, str) else ""))
            self._last = key
            arguments = function.get("arguments")
            if arguments and isinstance(arguments, str):
                out.append(ToolArgumentsDelta(known[1], arguments))
