"""The Gemini `generateContent` wire format: response bodies, stream chunks, error bodies.

Every shape follows recorded real traffic (`tests/fixtures/providers/google/`): one candidate
with `content.parts` and role `model`, `finishReason` only on the last stream chunk (`STOP`
after function calls too), `usageMetadata` on every chunk and cumulative, zero counts left out
(proto3 JSON), `thoughtsTokenCount` repeated on every chunk, `promptTokensDetails` by modality
(media parts by their MIME type), `modelVersion` and `responseId`.
Function calls have no ids; on thinking models the first call carries a `thoughtSignature`,
and after function calls a last chunk with an empty text part carries the finish reason, as
Gemini 3 does. With `alt=sse` chunks are `data: {json}` events framed with CRLF and no
terminator; without it the stream is one JSON array sent element by element.

Errors use Google's envelope `{"error": {"code", "message", "status", "details"}}`; a bad key
is 400 `INVALID_ARGUMENT` with reason `API_KEY_INVALID`, a 429 says when to retry in
`google.rpc.RetryInfo.retryDelay`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson

from routeplex_gateway.simulator.answer import Answer, digest, sentences

API_KEY_INVALID = "API_KEY_INVALID"
DEFAULT_RETRY_DELAY_S = 20
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login"
    " cookie or other valid authentication credential.",
    403: "The caller does not have permission",
    404: "models/{model} is not found for API version v1beta, or is not supported for"
    " generateContent. Call ListModels to see the list of available models and their supported"
    " methods.",
    429: "You exceeded your current quota, please check your plan and billing details. For more"
    " information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
    500: "An internal error has occurred. Please retry or report in"
    " https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
# The `code` of a status fault that renders Gemini's context-window overflow (400
# INVALID_ARGUMENT), in Gemini's wording.
CONTEXT_OVERFLOW_CODE = "context_length_exceeded"
CONTEXT_OVERFLOW_MESSAGE = (
    "The input token count (1234567) exceeds the maximum number of tokens allowed (1048576)."
)
MISSING_KEY_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). Please"
    " use API Key or other form of API consumer identity to call this API."
)
_QUOTA_METRIC = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}


@dataclass(frozen=True)
class Generated:
    """One generated Gemini answer."""

    response_id: str
    model: str
    seed: bytes
    answer: Answer
    prompt_tokens: int
    include_thoughts: bool
    media_tokens: tuple[tuple[str, int], ...] = ()

    def thought_text(self) -> str:
        return "**Simulating a thought**\n\n" + " ".join(sentences(digest(self.seed, b"thought")))

    def signature(self) -> str:
        return base64.b64encode(digest(self.seed, b"thought-signature") * 3).decode()

    def usage(self, candidates: int) -> dict[str, Any]:
        """Cumulative usage after `candidates` answer tokens; zero counts left out."""
        thoughts = self.answer.reasoning_tokens
        usage: dict[str, Any] = {"promptTokenCount": self.prompt_tokens}
        if candidates:
            usage["candidatesTokenCount"] = candidates
        usage["totalTokenCount"] = self.prompt_tokens + candidates + thoughts
        media = sum(count for _, count in self.media_tokens)
        usage["promptTokensDetails"] = [
            {"modality": "TEXT", "tokenCount": self.prompt_tokens - media},
            *({"modality": m, "tokenCount": count} for m, count in self.media_tokens),
        ]
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        usage["serviceTier"] = "standard"  # as in the recent recordings
        return usage

    def envelope(
        self, parts: list[dict[str, Any]], finish: bool, candidates: int
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
        if finish:
            candidate["finishReason"] = _FINISH[self.answer.finish_reason]
        candidate["index"] = 0
        return {
            "candidates": [candidate],
            "usageMetadata": self.usage(candidates),
            "modelVersion": self.model,
            "responseId": self.response_id,
        }


def _call_parts(generated: Generated) -> list[dict[str, Any]]:
    parts = []
    for index, call in enumerate(generated.answer.tool_calls):
        part: dict[str, Any] = {
            "functionCall": {"name": call.name, "args": orjson.loads(call.arguments)}
        }
        if index == 0 and generated.answer.reasoning_tokens:
            part["thoughtSignature"] = generated.signature()
        parts.append(part)
    return parts


def _thought_parts(generated: Generated) -> list[dict[str, Any]]:
    if not generated.include_thoughts:
        return []
    return [{"text": generated.thought_text(), "thought": True}]


def response_body(generated: Generated) -> dict[str, Any]:
    """A non-streamed `generateContent` response."""
    answer = generated.answer
    parts = _thought_parts(generated)
    if answer.tool_calls:
        parts += _call_parts(generated)
    else:
        parts.append({"text": "".join(answer.pieces)})
    visible = answer.completion_tokens - answer.reasoning_tokens
    return generated.envelope(parts, True, visible)


def stream_chunks(generated: Generated) -> list[dict[str, Any]]:
    """The chunks of a streamed answer, in order."""
    answer = generated.answer
    chunks = []
    thoughts = _thought_parts(generated)
    if thoughts:
        chunks.append(generated.envelope(thoughts, False, 0))
    if answer.tool_calls:
        visible = answer.completion_tokens - answer.reasoning_tokens
        chunks.append(generated.envelope(_call_parts(generated), False, visible))
        chunks.append(generated.envelope([{"text": ""}], True, visible))
        return chunks
    pieces = answer.pieces or ("",)
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        chunks.append(generated.envelope([{"text": piece}], last, len(answer.pieces[: index + 1])))
    return chunks


def sse_events(generated: Generated) -> tuple[bytes, ...]:
    """`alt=sse`: `data: {json}` events framed with CRLF, no terminator."""
    return tuple(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in stream_chunks(generated))


def json_array_events(generated: Generated) -> tuple[bytes, ...]:
    """Without `alt=sse`: one JSON array, element by element (`[{…}`, `\\n,\\r\\n{…}`, `\\n]`)."""
    encoded = [orjson.dumps(c, option=orjson.OPT_INDENT_2) for c in stream_chunks(generated)]
    events = [b"[" + encoded[0]]
    events += [b"\n,\r\n" + chunk for chunk in encoded[1:]]
    return (*events, b"\n]")


def malformed_event(generated: Generated) -> bytes:
    """An event whose JSON is cut off mid-string, for `malformed_after_chunks` faults."""
    return b'data: {"candidates": [{"content": {"parts": [{"text": "\r\n\r\n'


def error_body(status: int, message: str, status_name: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": message,
            "status": status_name or _STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }


def invalid_key_error() -> dict[str, Any]:
    body = error_body(400, "API key not valid. Please pass a valid API key.")
    body["error"]["details"] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": API_KEY_INVALID,
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
        {
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": "API key not valid. Please pass a valid API key.",
        },
    ]
    return body


def status_error(
    status: int, code: str | None, *, model: str, retry_after: float | None
) -> dict[str, Any]:
    """The body Gemini sends with `status`; `code` picks the bad-key variant or a status name."""
    if status == 400 and code == API_KEY_INVALID:
        return invalid_key_error()
    if code == CONTEXT_OVERFLOW_CODE:
        return error_body(status, CONTEXT_OVERFLOW_MESSAGE, "INVALID_ARGUMENT")
    try:
        fallback = HTTPStatus(status).phrase
    except ValueError:
        fallback = "Error"
    body = error_body(status, _MESSAGES.get(status, fallback).format(model=model), code)
    if status == 429:
        delay = retry_after if retry_after is not None else DEFAULT_RETRY_DELAY_S
        body["error"]["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": _QUOTA_METRIC,
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                        "quotaDimensions": {"location": "global", "model": model},
                        "quotaValue": "10",
                    }
                ],
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay:g}s"},
        ]
    return body
