"""Canonical answers → Anthropic `message` objects and error envelopes
(`api.anthropic_encode`), judged by the official anthropic SDK's own models and error
classes: recorded OpenAI completions (as typed answers), recorded Anthropic messages taken
through the Anthropic provider and back from its typed parts (the same message, to the
token), thinking with its signature, and every RoutePlex error code."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, cast

import anthropic
import orjson
import pytest
from anthropic.types import Message
from anthropic.types.shared import ErrorResponse
from starlette.datastructures import Headers

from routeplex_gateway.api.anthropic import CODEC
from routeplex_gateway.api.anthropic_encode import ERROR_TYPES, error_body, message, tool_input
from routeplex_gateway.canonical import (
    AnswerPart,
    ChatResponse,
    FinishReason,
    Refusal,
    Text,
    Thinking,
    ToolCall,
    Usage,
)
from routeplex_gateway.errors import STATUS, ErrorCode, GatewayError
from routeplex_gateway.exchange import Exchange
from routeplex_gateway.metering.record import Endpoint
from routeplex_gateway.providers import anthropic as anthropic_provider
from routeplex_gateway.providers import openai as openai_provider
from tests.support import anthropic_sdk
from tests.support.cassettes import load

REQUEST_ID = "req_0190a1b2c3d4e5f60718293a4b5c6d7e"


def _encode(response: ChatResponse, usage: Usage, model: str = "gpt-4o") -> dict[str, Any]:
    out = message(response, usage, model, REQUEST_ID)
    Message.model_validate(out, strict=False)
    # What the SDK makes of it when it arrives as a response body.
    received = anthropic_sdk.client(orjson.dumps(out), content_type="application/json")
    assert received.messages.create(**anthropic_sdk.REQUEST).to_dict() == out
    return out


def _arguments(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else orjson.dumps(value).decode()


def _typed(completion: dict[str, Any]) -> ChatResponse:
    """An OpenAI completion's first choice as the typed answer a provider hands over."""
    choices = completion.get("choices") or [{}]
    answer = choices[0].get("message") or {}
    parts: list[AnswerPart] = []
    if answer.get("content"):
        parts.append(Text(answer["content"]))
    if answer.get("refusal"):
        parts.append(Refusal(answer["refusal"]))
    for call in answer.get("tool_calls") or ():
        if isinstance(call, dict):
            function = call["function"]
            parts.append(
                ToolCall(
                    id=call.get("id") or "",
                    name=function["name"],
                    arguments=_arguments(function.get("arguments")),
                )
            )
    return ChatResponse(
        id=str(completion.get("id") or ""),
        model=str(completion.get("model") or ""),
        parts=parts,
        finish_reason=cast(FinishReason | None, choices[0].get("finish_reason")),
        usage=Usage(),
    )


def _recorded_openai(cassette: str, turn: int = 0) -> tuple[ChatResponse, Usage]:
    body = json.loads(load(cassette)[turn].body)
    return _typed(body), openai_provider.parse_usage(body["usage"])


def test_text_message() -> None:
    out = _encode(*_recorded_openai("openai/chat_completions_nonstream_basic.yaml"))
    assert out == {
        "id": "msg_0190a1b2c3d4e5f60718293a4b5c6d7e",
        "type": "message",
        "role": "assistant",
        "model": "gpt-4o",
        "content": [{"type": "text", "text": "Hello! How can I assist you today?"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 8,
            "output_tokens": 9,
            "cache_creation_input_tokens": None,
            "cache_read_input_tokens": 0,
            "output_tokens_details": {"thinking_tokens": 0},
        },
    }


def test_tool_call_messages() -> None:
    first = _encode(*_recorded_openai("openai/chat_completions_nonstream_tool_calls.yaml", 0))
    second = _encode(*_recorded_openai("openai/chat_completions_nonstream_tool_calls.yaml", 1))
    assert first["content"] == [
        {
            "type": "tool_use",
            "id": "call_iXFttys57ap0o16JSlC8yhYo",
            "name": "get_user_country",
            "input": {},
        }
    ]
    assert second["content"] == [
        {
            "type": "tool_use",
            "id": "call_gmD2oUZUzSoCkmNmp3JPUF7R",
            "name": "final_result",
            "input": {"city": "Mexico City", "country": "Mexico"},
        }
    ]
    assert first["stop_reason"] == second["stop_reason"] == "tool_use"


def test_reasoning_tokens_are_thinking_tokens() -> None:
    cassette = "openai/chat_completions_nonstream_reasoning_tokens_o3mini.yaml"
    usage = _encode(*_recorded_openai(cassette))["usage"]
    assert (usage["output_tokens"], usage["output_tokens_details"]) == (87, {"thinking_tokens": 64})


@pytest.mark.parametrize(("turn", "written", "read"), [(0, 4012, 0), (1, 0, 4012)])
def test_cached_input_is_taken_out_of_input_tokens(turn: int, written: int, read: int) -> None:
    cassette = "openai/chat_completions_nonstream_prompt_cache_cached_tokens.yaml"
    usage = _encode(*_recorded_openai(cassette, turn))["usage"]
    # OpenAI's prompt_tokens (4020) includes both; Anthropic's input_tokens neither.
    assert usage["input_tokens"] == 8
    assert (usage["cache_creation_input_tokens"], usage["cache_read_input_tokens"]) == (
        written,
        read,
    )


@pytest.mark.parametrize(
    ("cassette", "turn"),
    [
        ("anthropic/messages_nonstream_basic.yaml", 0),
        ("anthropic/messages_nonstream_tool_use.yaml", 0),
        ("anthropic/messages_nonstream_tool_use.yaml", 1),
        ("anthropic/messages_nonstream_prompt_cache_tokens.yaml", 0),
        ("anthropic/messages_nonstream_prompt_cache_tokens.yaml", 1),
    ],
)
def test_recorded_anthropic_message_survives_the_canonical_shape(cassette: str, turn: int) -> None:
    """Anthropic's answer → canonical (by the Anthropic provider) → Anthropic again: the same
    content, stop reason and token counts."""
    original = json.loads(load(cassette)[turn].body)
    canonical = anthropic_provider.completion(original, answer_tool=False)
    typed = replace(canonical, wire="", native=None)  # encoded from its parts, not relayed
    out = _encode(typed, canonical.usage, original["model"])
    assert out["content"] == original["content"]
    assert (out["model"], out["stop_reason"], out["stop_sequence"]) == (
        original["model"],
        original["stop_reason"],
        original["stop_sequence"],
    )
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
    ):
        assert out["usage"][name] == original["usage"][name], name


def _answer(
    content: str | None = None,
    finish: str | None = "stop",
    calls: list[ToolCall] | None = None,
    refusal: str | None = None,
    stop_sequence: str | None = None,
) -> ChatResponse:
    parts: list[AnswerPart] = [Text(content)] if content is not None else []
    if refusal is not None:
        parts.append(Refusal(refusal))
    parts += calls or []
    return ChatResponse(
        id="chatcmpl-1",
        model="gpt-4o",
        parts=parts,
        finish_reason=cast(FinishReason | None, finish),
        usage=Usage(),
        stop_sequence=stop_sequence,
    )


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
        ("something_new", "end_turn"),
    ],
)
def test_stop_reason(finish: str | None, stop_reason: str) -> None:
    out = _encode(_answer("x", finish), Usage(1, 1))
    assert (out["stop_reason"], out["stop_sequence"]) == (stop_reason, None)


def test_a_stop_sequence_named_by_the_provider_is_the_stop_reason() -> None:
    out = _encode(_answer("x", "stop", stop_sequence="END"), Usage(1, 1))
    assert (out["stop_reason"], out["stop_sequence"]) == ("stop_sequence", "END")
    cut = _encode(_answer("x", "length", stop_sequence="END"), Usage(1, 1))
    assert (cut["stop_reason"], cut["stop_sequence"]) == ("max_tokens", None)


def test_refusal_is_text_with_stop_reason_refusal() -> None:
    out = _encode(_answer(None, "stop", refusal="I can't help with that."), Usage(1, 1))
    assert out["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert out["stop_reason"] == "refusal"


def test_another_providers_reasoning_is_left_out() -> None:
    # Its signature (Gemini's, or none) would get the history refused by a Claude model.
    answer = ChatResponse(
        id="r",
        model="m",
        parts=[
            Thinking(text="Let me see.", signature="c2ln"),
            Thinking(text="", signature="ZGF0YQ==", redacted=True),
            Thinking(text="No signature from this provider."),
            Text("Done."),
        ],
        finish_reason="stop",
        usage=Usage(),
    )
    out = _encode(answer, Usage(1, 1))
    assert out["content"] == [{"type": "text", "text": "Done."}]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("", {}),
        ('{"a": 1', {}),  # cut off by max_tokens
        ("not json", {}),
        ("[1, 2]", {}),  # JSON, but not an object
        ('"text"', {}),
        (None, {}),
        ({"already": "parsed"}, {"already": "parsed"}),
    ],
)
def test_tool_input_is_always_an_object(arguments: Any, expected: dict[str, Any]) -> None:
    assert tool_input(arguments) == expected
    call = ToolCall(id="call_1", name="f", arguments=_arguments(arguments))
    out = _encode(_answer(None, "tool_calls", [call]), Usage(1, 1))
    assert out["content"][0]["input"] == expected


def test_text_and_calls_without_ids() -> None:
    calls = [
        ToolCall(id="", name="a", arguments="{}"),
        ToolCall(id="", name="b", arguments="{}"),
    ]
    out = _encode(_answer("Let me check.", "tool_calls", calls), Usage(1, 1))
    assert out["content"] == [
        {"type": "text", "text": "Let me check."},
        {
            "type": "tool_use",
            "id": "toolu_0190a1b2c3d4e5f60718293a4b5c6d7e_0",
            "name": "a",
            "input": {},
        },
        {
            "type": "tool_use",
            "id": "toolu_0190a1b2c3d4e5f60718293a4b5c6d7e_1",
            "name": "b",
            "input": {},
        },
    ]


def test_empty_answer_has_no_blocks() -> None:
    assert _encode(_answer("", "length"), Usage(5, 0))["content"] == []
    assert _encode(_answer(None, None), Usage(5, 0))["content"] == []


def test_unknown_usage_is_zero_where_required_and_null_where_allowed() -> None:
    usage = _encode(_answer("x"), Usage())["usage"]
    assert usage == {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_creation_input_tokens": None,
        "cache_read_input_tokens": None,
    }


def test_one_hour_cache_writes_are_split_out() -> None:
    usage = Usage(
        input_tokens=1000,
        output_tokens=10,
        cache_read_tokens=100,
        cache_write_tokens=300,
        cache_write_1h_tokens=200,
    )
    assert _encode(_answer("x"), usage)["usage"] == {
        "input_tokens": 600,
        "output_tokens": 10,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 100,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
    }


# --- errors ---------------------------------------------------------------------------------

_TYPE_BY_STATUS = {
    400: {"invalid_request_error"},
    401: {"authentication_error"},
    403: {"permission_error"},
    404: {"not_found_error"},
    413: {"request_too_large"},
    429: {"rate_limit_error"},
    500: {"api_error"},
    502: {"api_error"},
    503: {"overloaded_error"},
    504: {"timeout_error"},
}
# The SDK's exception class for each status it reads.
_SDK_ERRORS: dict[int, type[anthropic.APIStatusError]] = {
    400: anthropic.BadRequestError,
    401: anthropic.AuthenticationError,
    403: anthropic.PermissionDeniedError,
    404: anthropic.NotFoundError,
    413: anthropic.RequestTooLargeError,
    429: anthropic.RateLimitError,
}


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_has_an_anthropic_type(code: ErrorCode) -> None:
    assert code in ERROR_TYPES
    status = STATUS[code]
    expected = _TYPE_BY_STATUS.get(status, {"invalid_request_error"})  # other 4xx, Anthropic's way
    assert ERROR_TYPES[code] in expected
    error = GatewayError(code, "Something is wrong.")
    body = error_body(error, request_id=REQUEST_ID)
    assert body == {
        "type": "error",
        "error": {"type": ERROR_TYPES[code], "message": "Something is wrong."},
        "request_id": REQUEST_ID,
    }
    if ERROR_TYPES[code] != "request_too_large":  # documented, though not in the SDK's union
        ErrorResponse.model_validate(body)
    # The SDK raises its class for the status, and keeps the body.
    sdk = anthropic_sdk.client(orjson.dumps(body), status, "application/json")
    with pytest.raises(anthropic.APIStatusError) as raised:
        sdk.messages.create(**anthropic_sdk.REQUEST)
    assert raised.value.status_code == status
    assert type(raised.value) is _SDK_ERRORS.get(status, type(raised.value))
    if status >= 500:
        assert isinstance(raised.value, anthropic.InternalServerError)
    assert raised.value.body == body


def test_error_message_relays_the_providers_words_masked() -> None:
    error = GatewayError(
        ErrorCode.PROVIDER_ERROR,
        "The provider refused the request.",
        provider_message="bad key sk-proj-abcdefghijkl given",
    )
    body = error_body(error)
    assert body["error"]["message"] == (
        "The provider refused the request. Provider said: bad key [redacted] given"
    )
    assert "request_id" not in body


def test_sdk_keeps_an_x_routeplex_object_on_the_message() -> None:
    """The surface adds `x_routeplex` as the OpenAI surface does: the SDK tolerates it."""
    out = message(_answer("hi"), Usage(1, 1), "gpt-4o", REQUEST_ID)
    out["x_routeplex"] = {"request_id": REQUEST_ID, "cost_usd": None}
    sdk = anthropic_sdk.client(orjson.dumps(out), content_type="application/json")
    received = sdk.messages.create(**anthropic_sdk.REQUEST)
    assert received.to_dict()["x_routeplex"] == out["x_routeplex"]
    assert received.content[0].to_dict() == {"type": "text", "text": "hi"}


# --- the surface: relay or encode -----------------------------------------------------------


def _answered(response: ChatResponse) -> dict[str, Any]:
    ex = Exchange(Endpoint.ANTHROPIC_MESSAGES, request_id=REQUEST_ID)
    ex.usage = Usage(3, 2)
    decoded = CODEC.decode(dict(anthropic_sdk.REQUEST), Headers({}))
    out: dict[str, Any] = orjson.loads(bytes(CODEC.answer(ex, decoded, response).body))
    assert out.pop("x_routeplex")["request_id"] == REQUEST_ID
    return out


def test_an_anthropic_answer_is_relayed_as_it_came() -> None:
    original = json.loads(load("anthropic/messages_nonstream_tool_use.yaml")[0].body)
    # Typed parts that disagree with the body: the body is what goes out.
    response = _answer("not this")
    response.wire, response.native = "anthropic", original
    assert _answered(response) == original


def test_any_other_answer_is_encoded_from_its_parts() -> None:
    response = _answer("Hello.")
    response.wire, response.native = "openai", {"choices": []}
    out = _answered(response)
    assert out["content"] == [{"type": "text", "text": "Hello."}]
    assert (out["id"], out["usage"]["input_tokens"]) == ("msg_" + REQUEST_ID[4:], 3)
