"""The OpenAI Chat Completions wire format: bodies, SSE chunks, error bodies, the model list.

Every shape follows recorded real traffic (`tests/fixtures/providers/openai/`): key order,
`refusal` / `annotations` / `logprobs` placeholders, `service_tier`, `system_fingerprint`, the
`obfuscation` padding on stream chunks, and usage sent in one final `choices: []` chunk only
when `stream_options.include_usage` is set (chunks carry no `usage` key otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson

from routeplex_gateway.simulator.answer import Answer, digest, stable_token

SERVICE_TIER = "default"
DONE_EVENT = b"data: [DONE]\n\n"
API_KEYS_URL = "https://platform.openai.com/account/api-keys"

MISSING_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header"
    " using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with"
    " blank username) if you're accessing the API from your browser and are prompted for a"
    f" username. You can obtain an API key from {API_KEYS_URL}."
)
# Recorded 400 (chat_completions_error_400_unsupported_value.yaml), used by `status: 400` faults.
RECORDED_400 = {
    "message": "Unsupported value: 'messages[0].role' does not support 'system' with this model.",
    "type": "invalid_request_error",
    "param": "messages[0].role",
    "code": "unsupported_value",
}
# Recorded 429 body (error_429_insufficient_quota_body.json).
INSUFFICIENT_QUOTA = {
    "message": "You exceeded your current quota, please check your plan and billing details. For"
    " more information on this error, read the docs:"
    " https://platform.openai.com/docs/guides/error-codes/api-errors.",
    "type": "insufficient_quota",
    "param": None,
    "code": "insufficient_quota",
}
STATUS_ERRORS: dict[int, dict[str, Any]] = {
    400: RECORDED_400,
    403: {
        "message": "Country, region, or territory not supported",
        "type": "request_forbidden",
        "param": None,
        "code": "unsupported_country_region_territory",
    },
    429: {
        "message": "Rate limit reached for requests",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    },
    500: {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    },
    503: {
        "message": "The engine is currently overloaded, please try again later",
        "type": "server_error",
        "param": None,
        "code": None,
    },
}

# A handful of common model ids for `GET /v1/models` (any model name is accepted anyway).
MODELS = (
    ("gpt-4o", 1715367049),
    ("gpt-4o-mini", 1721172741),
    ("gpt-4.1", 1744316542),
    ("gpt-4.1-mini", 1744318173),
    ("o3-mini", 1737146383),
    ("o4-mini", 1744225351),
    ("gpt-5", 1754425777),
    ("gpt-5-mini", 1754425928),
)


@dataclass(frozen=True)
class Completion:
    """One generated completion: identity, choices and prompt size."""

    id: str
    created: int
    model: str
    seed: bytes
    answers: tuple[Answer, ...]
    prompt_tokens: int

    @property
    def system_fingerprint(self) -> str:
        """A stable fingerprint per model, shaped like OpenAI's `fp_` + 10 hex digits."""
        return "fp_" + digest(self.model.encode()).hex()[:10]


def error(message: str, type_: str, param: str | None, code: str | None) -> dict[str, Any]:
    """The OpenAI error envelope."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def mask_key(key: str) -> str:
    """Mask an API key the way OpenAI's 401 message does (`sk-invalid` → `sk-inval**lid`)."""
    if len(key) > 12:
        return key[:8] + "*" * (len(key) - 12) + key[-4:]
    return key[:8] + "**" + key[-3:]


def invalid_key_error(key: str) -> dict[str, Any]:
    """OpenAI's 401 body for a wrong key."""
    message = (
        f"Incorrect API key provided: {mask_key(key)}. You can find your API key at {API_KEYS_URL}."
    )
    return error(message, "invalid_request_error", None, "invalid_api_key")


def status_error(status: int, code: str | None, *, model: str, api_key: str) -> dict[str, Any]:
    """The body OpenAI sends with `status`; `code` picks a variant or overrides the code."""
    if status == 401:
        return invalid_key_error(api_key)
    if status == 429 and code == "insufficient_quota":
        return {"error": dict(INSUFFICIENT_QUOTA)}
    if status == 404:
        message = f"The model `{model}` does not exist or you do not have access to it."
        body = error(message, "invalid_request_error", None, "model_not_found")["error"]
    elif status in STATUS_ERRORS:
        body = dict(STATUS_ERRORS[status])
    else:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        kind = "server_error" if status >= 500 else "invalid_request_error"
        body = error(f"{phrase}.", kind, None, None)["error"]
    if code is not None:
        body["code"] = code
    return {"error": body}


def usage(completion: Completion) -> dict[str, Any]:
    """The `usage` object, in OpenAI's key order."""
    completion_tokens = sum(answer.completion_tokens for answer in completion.answers)
    reasoning_tokens = sum(answer.reasoning_tokens for answer in completion.answers)
    return {
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": completion.prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion_body(completion: Completion) -> dict[str, Any]:
    """A non-streaming `chat.completion` body."""
    choices = [
        {
            "index": index,
            "message": _message(answer),
            "logprobs": None,
            "finish_reason": answer.finish_reason,
        }
        for index, answer in enumerate(completion.answers)
    ]
    return {
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "choices": choices,
        "usage": usage(completion),
        "service_tier": SERVICE_TIER,
        "system_fingerprint": completion.system_fingerprint,
    }


def stream_chunks(
    completion: Completion, *, include_usage: bool, include_obfuscation: bool = True
) -> list[dict[str, Any]]:
    """Every `chat.completion.chunk` of a stream, in order (the `[DONE]` line excluded)."""
    chunks = []
    for index, answer in enumerate(completion.answers):
        for delta, finish in _deltas(answer):
            choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            chunks.append(_chunk(completion, [choice], None, include_usage))
    if include_usage:
        chunks.append(_chunk(completion, [], usage(completion), include_usage))
    if include_obfuscation:
        for position, chunk in enumerate(chunks):
            chunk["obfuscation"] = _obfuscation(completion, position)
    return chunks


def sse_event(chunk: Mapping[str, Any]) -> bytes:
    """One SSE event exactly as OpenAI frames it: `data: {json}` and a blank line."""
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def stream_events(
    completion: Completion, *, include_usage: bool, include_obfuscation: bool = True
) -> tuple[bytes, ...]:
    """The complete SSE byte stream, as events, ending with `data: [DONE]`."""
    chunks = stream_chunks(
        completion, include_usage=include_usage, include_obfuscation=include_obfuscation
    )
    return (*(sse_event(chunk) for chunk in chunks), DONE_EVENT)


def malformed_event(completion: Completion) -> bytes:
    """A `data:` line whose JSON is cut off mid-string, for `malformed_after_chunks` faults."""
    start = b'{"id":"' + completion.id.encode() + b'","object":"chat.completion.chunk","choices":'
    return b"data: " + start + b'[{"index":0,"delta":{"content":"\n\n'


def models_body() -> dict[str, Any]:
    """`GET /v1/models`."""
    data = [
        {"id": model, "object": "model", "created": created, "owned_by": "system"}
        for model, created in MODELS
    ]
    return {"object": "list", "data": data}


def _message(answer: Answer) -> dict[str, Any]:
    if answer.tool_calls:
        calls = [
            {
                "id": _call_id(call.key),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in answer.tool_calls
        ]
        return {
            "role": "assistant",
            "content": None,
            "tool_calls": calls,
            "refusal": None,
            "annotations": [],
        }
    return {"role": "assistant", "content": answer.text, "refusal": None, "annotations": []}


def _deltas(answer: Answer) -> list[tuple[dict[str, Any], str | None]]:
    """The deltas of one choice: opening, content or argument fragments, then the finish."""
    deltas: list[tuple[dict[str, Any], str | None]] = []
    if not answer.tool_calls:
        deltas.append(({"role": "assistant", "content": "", "refusal": None}, None))
        deltas += [({"content": piece}, None) for piece in answer.pieces]
    for index, call in enumerate(answer.tool_calls):
        # As recorded: id, type and name come once with empty arguments, then only fragments.
        opening = {
            "index": index,
            "id": _call_id(call.key),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        if index == 0:
            first = {"role": "assistant", "content": None, "tool_calls": [opening]}
            deltas.append(({**first, "refusal": None}, None))
        else:
            deltas.append(({"tool_calls": [opening]}, None))
        for fragment in argument_fragments(call.arguments):
            fragment_call = {"index": index, "function": {"arguments": fragment}}
            deltas.append(({"tool_calls": [fragment_call]}, None))
    deltas.append(({}, answer.finish_reason))
    return deltas


def argument_fragments(arguments: str) -> list[str]:
    """Split argument JSON into word and punctuation runs, like `{"`, `country`, `":"`, `UK`."""
    fragments: list[str] = []
    for char in arguments:
        if fragments and fragments[-1][-1].isalnum() == char.isalnum():
            fragments[-1] += char
        else:
            fragments.append(char)
    return fragments


def _chunk(
    completion: Completion,
    choices: list[dict[str, Any]],
    usage_value: dict[str, Any] | None,
    include_usage: bool,
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model,
        "service_tier": SERVICE_TIER,
        "system_fingerprint": completion.system_fingerprint,
        "choices": choices,
    }
    if include_usage:
        chunk["usage"] = usage_value
    return chunk


def _call_id(key: str) -> str:
    return "call_" + key


def _obfuscation(completion: Completion, position: int) -> str:
    # OpenAI pads chunks with random characters against size side channels; ours are stable.
    label = f"obfuscation-{position}"
    return stable_token(completion.seed, label, 2 + digest(completion.seed, label.encode())[0] % 14)
