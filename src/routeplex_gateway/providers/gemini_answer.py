"""A Gemini answer in the gateway's own terms: a `generateContent` body as the canonical
`ChatResponse` (the parsed body kept as its native form), an `alt=sse` stream as `Chunk`s of
typed deltas (no native bytes: no surface speaks Gemini).

Parts marked `thought` are reasoning summaries: `Thinking` (with the part's
`thoughtSignature`), never answer text. Function calls arrive whole (or, on Vertex, as
`partialArgs` assembled here) and get synthesised ids (`gemini_calls`); since Gemini says
`finishReason: STOP` after function calls, any call makes the finish reason `tool_calls`.
Policy stops (safety, recitation, blocklists, OTHER, LANGUAGE…) are `content_filter`; a
botched function call (MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL) is a retryable provider
error, not an answer. Streams are `data: {json}` events framed with CRLF and no terminator:
the chunk carrying `finishReason` is the last, and a stream that ends without one is broken.

Usage: `usageMetadata` is cumulative on every chunk — the last counts, never a sum (even the
prompt count changes between chunks). `cachedContentTokenCount` is part of
`promptTokenCount`; output is `candidatesTokenCount + thoughtsTokenCount` (thoughts are billed
as output) with the thoughts as reasoning tokens. Audio is priced above text, so the AUDIO
entries of `promptTokensDetails` and `cacheTokensDetails` are kept apart (text, image and video
share one rate); without those lists the audio count is unknown. Counts omitted from a chunk
are zero (proto3 JSON leaves zeros out), but a chunk with no counts at all (Vertex) changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from ..canonical import (
    AnswerPart,
    ChatResponse,
    Chunk,
    Delta,
    Finish,
    FinishReason,
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
from ..errors import ErrorCode, GatewayError
from .base import broken_stream, json_object, stream_error_event
from .gemini_calls import PartialCall, call_id
from .gemini_translate import WIRE
from .sse import sse_events

# Stops that withhold or cut the answer for policy reasons: an empty `stop` would pass for a
# normal (empty) answer. OTHER and LANGUAGE are Gemini's "stopped for another reason" and
# "unsupported language", neither an answer the caller should take as complete.
_FILTERED = frozenset(
    (
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "IMAGE_OTHER",
        "OTHER",
        "LANGUAGE",
    )
)
# The model botched a function call: worth another try (here or on a fallback).
_FAILED_CALL = frozenset(("MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"))


def parse_usage(raw: Any) -> Usage | None:
    """Gemini `usageMetadata` → canonical; None when it holds no counts at all."""
    if not isinstance(raw, dict) or not any(k.endswith("TokenCount") for k in raw):
        return None
    thoughts = raw.get("thoughtsTokenCount") or 0
    prompt_audio = _modality(raw.get("promptTokensDetails"), "AUDIO")
    tool_audio = _modality(raw.get("toolUsePromptTokensDetails"), "AUDIO")
    return Usage(
        input_tokens=(raw.get("promptTokenCount") or 0) + (raw.get("toolUsePromptTokenCount") or 0),
        output_tokens=(raw.get("candidatesTokenCount") or 0) + thoughts,
        cache_read_tokens=raw.get("cachedContentTokenCount") or 0,
        reasoning_tokens=thoughts,
        input_audio_tokens=(None if prompt_audio is None else prompt_audio + (tool_audio or 0)),
        cache_audio_read_tokens=_modality(raw.get("cacheTokensDetails"), "AUDIO")
        if raw.get("cachedContentTokenCount")
        else 0,
    )


def _modality(details: Any, modality: str) -> int | None:
    """The tokens of one modality in a `*TokensDetails` list; None when there is no list."""
    if not isinstance(details, list):
        return None
    return sum(
        d.get("tokenCount") or 0
        for d in details
        if isinstance(d, dict) and d.get("modality") == modality
    )


def failed_call(provider: str, reason: str) -> GatewayError:
    return GatewayError(
        ErrorCode.PROVIDER_ERROR,
        f"The provider '{provider}' ended the answer with a failed function call ({reason}).",
        retryable=True,
        details={"provider": provider, "finish_reason": reason},
    )


def finish_reason(raw: Any, *, has_calls: bool) -> FinishReason:
    if raw == "MAX_TOKENS":
        return "length"
    if raw in _FILTERED:
        return "content_filter"
    return "tool_calls" if has_calls else "stop"


class _Calls:
    """Numbering of one answer's calls, and the Vertex call still being streamed."""

    def __init__(self, basis: str) -> None:
        self.basis = basis
        self.count = 0
        self.partial: PartialCall | None = None

    def take(self, part: dict[str, Any]) -> ToolCall | None:
        """The finished call in `part`, if this part finishes one."""
        call = part.get("functionCall")
        if not isinstance(call, dict):
            return None
        signature = part.get("thoughtSignature")
        if self.partial is None and "name" in call and not call.get("willContinue"):
            return self._finished(call["name"], call.get("args") or {}, signature)
        if self.partial is None:
            if "name" not in call:
                return None
            self.partial = PartialCall(call["name"], signature)
        if isinstance(call.get("partialArgs"), list):
            self.partial.add(call["partialArgs"])
        if call.get("willContinue"):
            return None
        done, self.partial = self.partial, None
        return self._finished(done.name, done.args, done.signature)

    def _finished(self, name: str, args: Any, signature: Any) -> ToolCall:
        identifier = call_id(
            self.basis, self.count, signature if isinstance(signature, str) else None
        )
        self.count += 1
        return ToolCall(id=identifier, name=str(name), arguments=orjson.dumps(args).decode())


def _logprobs(data: dict[str, Any]) -> list[TokenLogprob] | None:
    """The first candidate's `logprobsResult`: each chosen token with its alternatives."""
    candidates = data.get("candidates") or [{}]
    result = candidates[0].get("logprobsResult") if isinstance(candidates[0], dict) else None
    if not isinstance(result, dict):
        return None
    tops = result.get("topCandidates") or []
    content = []
    for index, chosen in enumerate(result.get("chosenCandidates") or ()):
        alternatives = tops[index].get("candidates") if index < len(tops) else None
        top = tuple(_token(t) for t in alternatives or () if isinstance(t, dict))
        content.append(TokenLogprob(_token(chosen).token, _token(chosen).logprob, top))
    return content


def _token(candidate: dict[str, Any]) -> TokenLogprob:
    return TokenLogprob(
        str(candidate.get("token", "")), float(candidate.get("logProbability") or 0.0)
    )


def _parts(data: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
    """The parts and finish reason of the first candidate (Gemini sends one here)."""
    candidates = data.get("candidates") or []
    if not candidates:
        blocked = (data.get("promptFeedback") or {}).get("blockReason")
        return [], "SAFETY" if blocked else None
    candidate = candidates[0]
    parts = (candidate.get("content") or {}).get("parts") or []
    return [p for p in parts if isinstance(p, dict)], candidate.get("finishReason")


def _signature(part: dict[str, Any]) -> str | None:
    signature = part.get("thoughtSignature")
    return signature if isinstance(signature, str) and signature else None


def completion(data: dict[str, Any], provider: str = "gemini") -> ChatResponse:
    """A `generateContent` answer as the canonical one: thought summaries as `Thinking`,
    text as `Text` (consecutive parts of each joined), calls as `ToolCall`s."""
    calls = _Calls(str(data.get("responseId") or orjson.dumps(data).decode()))
    answer: list[AnswerPart] = []
    parts, finish = _parts(data)
    if finish in _FAILED_CALL:
        raise failed_call(provider, finish)
    for part in parts:
        text = part.get("text")
        previous = answer[-1] if answer else None
        if part.get("thought"):
            # A reasoning summary, not the answer; its signature (if any) goes with it.
            text = text if isinstance(text, str) else ""
            signature = _signature(part)
            if isinstance(previous, Thinking):
                answer[-1] = Thinking(
                    text=previous.text + text, signature=signature or previous.signature
                )
            else:
                answer.append(Thinking(text=text, signature=signature))
            continue
        if isinstance(text, str) and text:
            if isinstance(previous, Text):
                answer[-1] = Text(previous.text + text)
            else:
                answer.append(Text(text))
        call = calls.take(part)
        if call is not None:
            answer.append(call)
    return ChatResponse(
        id=str(data.get("responseId") or ""),
        model=str(data.get("modelVersion") or ""),
        parts=answer,
        finish_reason=finish_reason(finish, has_calls=calls.count > 0),
        usage=parse_usage(data.get("usageMetadata")) or Usage(),
        created=int(time.time()),
        logprobs=_logprobs(data),
        wire=WIRE,
        native=data,
    )


class GeminiStream:
    """Gemini `alt=sse` chunks as canonical `Chunk`s of typed deltas (implements
    `ChatStream`). `id` and `model` are the first chunk's, known once it has arrived; a
    thought summary's signature is given when the thinking ends (at the first answer part
    after it, or at the finish), where a thinking block's signature belongs."""

    wire = WIRE

    def __init__(
        self, response: aiohttp.ClientResponse, provider: str, *, secret: str = ""
    ) -> None:
        self._response = response
        self._provider = provider
        self._secret = secret  # the deployment's key: masked in relayed error events
        self.id = ""
        self.model = ""
        self.created = int(time.time())
        self.usage = Usage()
        self.finish_reason: FinishReason | None = None
        self._calls: _Calls | None = None
        self._last_usage: Usage | None = None
        self._thinking = False  # a thought summary is open
        self._signature: str | None = None  # its signature, given when it ends

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[Chunk]:
        try:
            async for _name, payload in sse_events(self._response):
                deltas = self._translate(payload)
                if deltas:
                    yield Chunk(deltas=tuple(deltas), native=None)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise broken_stream(self._provider, type(exc).__name__) from None
        finally:
            self._response.release()
        if self.finish_reason is None:
            raise broken_stream(self._provider, "ended without a finish reason")
        if self._last_usage is not None:
            self.usage = self._last_usage

    def _translate(self, payload: bytes) -> list[Delta]:
        data = json_object(payload)
        if data is None:
            raise broken_stream(self._provider, "malformed chunk")
        if isinstance(data.get("error"), dict):
            message, status = data["error"].get("message"), data["error"].get("status")
            raise stream_error_event(
                self._provider,
                status if isinstance(status, str) else None,
                message if isinstance(message, str) else None,
                secret=self._secret,
            )
        if self._calls is None:
            self.id = str(data.get("responseId") or "")
            self.model = str(data.get("modelVersion") or "")
            self._calls = _Calls(self.id or payload.decode(errors="replace"))
        calls = self._calls
        usage = parse_usage(data.get("usageMetadata"))
        if usage is not None:
            self._last_usage = usage
            # Until the last chunk the output count is still growing: unknown if cut here.
            self.usage = Usage(
                input_tokens=usage.input_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                input_audio_tokens=usage.input_audio_tokens,
                cache_audio_read_tokens=usage.cache_audio_read_tokens,
            )
        deltas: list[Delta] = []
        parts, finish = _parts(data)
        logprobs = _logprobs(data)
        for part in parts:
            text = part.get("text")
            if part.get("thought"):
                self._thinking = True
                self._signature = _signature(part) or self._signature
                if isinstance(text, str) and text:
                    deltas.append(ThinkingDelta(text))
                continue
            if isinstance(text, str) and text:
                self._end_thinking(deltas)
                deltas.append(TextDelta(text, None if logprobs is None else tuple(logprobs)))
                logprobs = None  # the chunk's tokens go with its first text
            call = calls.take(part)
            if call is not None:
                self._end_thinking(deltas)
                index = calls.count - 1
                deltas.append(ToolCallStart(index, call.id, call.name))
                deltas.append(ToolArgumentsDelta(index, call.arguments))
        if finish in _FAILED_CALL:
            raise failed_call(self._provider, finish)
        if finish is not None and self.finish_reason is None:
            self._end_thinking(deltas)
            reason = finish_reason(finish, has_calls=calls.count > 0)
            self.finish_reason = reason
            deltas.append(Finish(reason))
        return deltas

    def _end_thinking(self, deltas: list[Delta]) -> None:
        if self._thinking and self._signature is not None:
            deltas.append(ThinkingDelta(signature=self._signature))
        self._thinking, self._signature = False, None

    async def aclose(self) -> None:
        self._response.close()
