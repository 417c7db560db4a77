"""Property tests on the request parsers: any JSON value (and any body bytes) either parses
or is refused with a `GatewayError` (or, for limits, a `ValueError`) carrying the right code —
never another exception, which would be a 500 — and no message ever repeats the input.

Every generated string that is not a word the parsers know starts with MARK, so "the input's
text is not in the message" is simply "MARK is not in the message".
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from routeplex_gateway.api.account import key_options
from routeplex_gateway.api.admin import _changes
from routeplex_gateway.api.native import _openai_body
from routeplex_gateway.api.validation import validate_chat_body
from routeplex_gateway.api.wire import read_json
from routeplex_gateway.config import SHIPPED_PLANS, Settings
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.limits.plans import Limits, Plans, validate_limits
from routeplex_gateway.routing.catalog import build_catalog

MARK = "☃"
WORDS = [
    *("system", "developer", "user", "assistant", "tool", "function"),
    *("text", "image_url", "json_schema", "json_object", "type", "role", "content"),
    *("gpt-4o-mini", "openai/gpt-4o-mini", "routeplex-ai", "manual", "evaluation", "usage"),
    *("auto", "balanced", "cost", "speed", "quality", "buffered", "realtime"),
    *("1", "0.5", "-1", "NaN", "Infinity", "1e999", ""),
]
REQUEST_CODES = {ErrorCode.VALIDATION_ERROR, ErrorCode.EMPTY_MESSAGES, ErrorCode.INVALID_MODE}
KEY_CODES = {ErrorCode.VALIDATION_ERROR, ErrorCode.INVALID_MODEL}
BODY_CODES = {
    ErrorCode.BAD_REQUEST,
    ErrorCode.PAYLOAD_TOO_LARGE,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}

words = st.sampled_from(WORDS)
marked = st.text(max_size=12).map(lambda s: MARK + s)
strings = words | marked
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | strings
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4),
    max_leaves=20,
)
parts = st.lists(
    st.fixed_dictionaries({"type": words | json_values}, optional={"text": strings}), max_size=3
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": words | json_values},
        optional={
            "content": strings | parts | json_values,
            "name": strings | json_values,
            "tool_calls": st.lists(json_values, max_size=2) | json_values,
            "tool_call_id": strings | json_values,
        },
    )
    | json_values,
    max_size=3,
)
FIELDS = [
    *("model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens"),
    *("n", "temperature", "top_p", "presence_penalty", "frequency_penalty", "tools", "stop"),
    *("response_format", "mode", "strategy", "stream_mode", "max_output_tokens", "test_mode"),
    *("enhance_prompt", "user", "metadata"),
    # Pass-through fields whose types are checked (api/field_types.py).
    *("logit_bias", "logprobs", "top_logprobs", "seed", "store", "parallel_tool_calls"),
    *("modalities", "audio", "prediction", "functions", "function_call", "tool_choice"),
    *("reasoning_effort", "service_tier", "web_search_options"),
]
chat_bodies = st.fixed_dictionaries(
    {"model": words | json_values, "messages": messages},
    optional={name: json_values | words for name in FIELDS[2:]},
)
limit_objects = st.dictionaries(
    st.sampled_from(["tokens_per_day", "cost_per_day_usd", "rpm", "concurrency"]) | marked,
    scalars | json_values,
    max_size=5,
)
key_bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": strings | json_values,
        "expires_in_days": json_values,
        "allowed_models": st.lists(strings) | json_values,
        "limits": limit_objects | json_values,
        "plan": strings | json_values,
        "email": strings | json_values,
        "disabled": json_values,
    },
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def assert_quiet(error: BaseException) -> None:
    """The message (and param) the caller would see says nothing they sent."""
    text = str(error)
    if isinstance(error, GatewayError):
        text += f" {error.message} {error.param or ''} {orjson.dumps(error.details).decode()}"
    assert MARK not in text, text


@FAST
@given(chat_bodies | json_values)
def test_openai_body_parses_or_refuses_cleanly(body: Any) -> None:
    try:
        validate_chat_body(body)
    except GatewayError as error:
        assert error.code in REQUEST_CODES and error.status == 400
        assert_quiet(error)


@FAST
@given(chat_bodies | json_values)
def test_native_body_parses_or_refuses_cleanly(body: Any) -> None:
    try:
        openai_body, options = _openai_body(body)
        validate_chat_body(openai_body)  # what the native handler does next
    except GatewayError as error:
        assert error.code in REQUEST_CODES and error.status == 400
        assert_quiet(error)
    else:
        assert options["stream_mode"] in ("buffered", "realtime")


@FAST
@given(limit_objects | json_values)
def test_limits_validate_or_refuse_and_then_always_apply(raw: Any) -> None:
    try:
        limits = validate_limits(raw)
    except ValueError as error:
        assert_quiet(error)
        return
    # Accepted limits must be usable wherever they are applied later — in the key cache,
    # at start-up — or one stored value would keep the gateway from starting.
    base = Limits.of(SHIPPED_PLANS["usage"])
    base.overridden(limits)
    base.narrowed(limits)
    Plans(SHIPPED_PLANS).policy("usage", limits, limits)


_GATEWAY = SimpleNamespace(
    catalog=build_catalog(Settings(), "http://127.0.0.1:9"), plans=Plans(SHIPPED_PLANS)
)


@FAST
@given(key_bodies | json_values)
def test_key_and_account_bodies_parse_or_refuse_cleanly(body: Any) -> None:
    for parse in (
        lambda: key_options(_GATEWAY, body),  # type: ignore[arg-type]
        lambda: _changes(_GATEWAY, body, creating=False),  # type: ignore[arg-type]
        lambda: _changes(_GATEWAY, body, creating=True),  # type: ignore[arg-type]
    ):
        try:
            parse()
        except GatewayError as error:
            assert error.code in KEY_CODES and error.status == 400
            assert_quiet(error)


def _request(body: bytes, headers: list[tuple[bytes, bytes]], split: int) -> Request:
    pieces = [body[:split], body[split:]]

    async def receive() -> dict[str, Any]:
        chunk = pieces.pop(0) if pieces else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(pieces)}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    return Request(scope, receive)


header_values = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "x+json", ""]
) | st.text(max_size=20).map(lambda s: MARK + s)
lengths = (
    st.none()
    | st.sampled_from(["0", "²", "١٢", "9" * 30, "-1", MARK])
    | st.integers(0, 10**6).map(str)
)


@FAST
@given(
    st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
    st.none() | header_values,
    lengths,
    st.integers(0, 200),
)
def test_bodies_parse_or_refuse_cleanly(
    raw: bytes, content_type: str | None, length: str | None, split: int
) -> None:
    headers = []
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    if length is not None:
        headers.append((b"content-length", length.encode()))
    try:
        parsed = asyncio.run(read_json(_request(raw, headers, split), max_bytes=100))
    except GatewayError as error:
        assert error.code in BODY_CODES
        assert_quiet(error)
    else:
        assert parsed == orjson.loads(raw)
