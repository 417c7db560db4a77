"""OpenAI request → Gemini request, and Gemini call ids: the decisions the recordings do not
cover."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from routeplex_gateway.errors import GatewayError
from routeplex_gateway.providers.gemini_calls import PartialCall, call_id, signature_of
from routeplex_gateway.providers.gemini_translate import FOREIGN_CALL_SIGNATURE
from routeplex_gateway.providers.gemini_translate import to_gemini as _to_gemini
from tests.support.chat import openai_request

USER = {"role": "user", "content": "hi"}
TOOL = {
    "type": "function",
    "function": {"name": "lookup", "description": "d", "parameters": {"type": "object"}},
}


def to_gemini(body: dict[str, Any], model: str) -> dict[str, Any]:
    return _to_gemini(openai_request(body), model)


def _call(call_id: str, name: str = "lookup", arguments: str = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_call_ids_are_deterministic_and_carry_signatures() -> None:
    assert call_id("resp", 0) == call_id("resp", 0) != call_id("resp", 1)
    assert call_id("resp", 0).startswith("call_") and len(call_id("resp", 0)) == 29
    signature = base64.b64encode(bytes(range(256)) * 5).decode()  # has + and /
    carried = call_id("resp", 0, signature)
    assert set(carried) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    assert signature_of(carried) == signature
    assert signature_of(call_id("resp", 0)) is None
    assert signature_of("toolu_01abc") is None  # another provider's id
    assert call_id("resp", 0, "not base64!") == call_id("resp", 0)


def test_tool_results_are_named_by_id_else_by_position() -> None:
    messages = [
        USER,
        {"role": "assistant", "tool_calls": [_call("a", "first"), _call("b", "second")]},
        {"role": "tool", "tool_call_id": "b", "content": '{"x": 1}'},
        {"role": "tool", "tool_call_id": "unknown", "content": "[1, 2]"},
    ]
    contents = to_gemini({"messages": messages}, "gemini-2.5-flash")["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "second", "response": {"x": 1}}},
        {"functionResponse": {"name": "second", "response": {"output": [1, 2]}}},
    ]


def test_a_tool_result_answering_nothing_is_refused() -> None:
    with pytest.raises(GatewayError) as raised:
        to_gemini({"messages": [USER, {"role": "tool", "tool_call_id": "x", "content": "y"}]}, "m")
    assert raised.value.param == "messages[1].tool_call_id"


def test_foreign_calls_get_the_placeholder_signature_on_gemini_3() -> None:
    messages = [USER, {"role": "assistant", "tool_calls": [_call("toolu_1"), _call("toolu_2")]}]
    for model, expected in (
        ("gemini-3-pro-preview", FOREIGN_CALL_SIGNATURE),
        ("gemini-2.5-flash", None),
    ):
        parts = to_gemini({"messages": messages}, model)["contents"][1]["parts"]
        assert parts[0].get("thoughtSignature") == expected
        assert "thoughtSignature" not in parts[1]


def test_media_parts() -> None:
    content = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lG"}},
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}},
    ]
    parts = to_gemini({"messages": [{"role": "user", "content": content}]}, "m")["contents"][0][
        "parts"
    ]
    assert parts == [
        {"text": "look"},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://x/y.png"}},
        {"inlineData": {"mimeType": "image/gif", "data": "R0lG"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklG"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "lookup"}},
            {"mode": "ANY", "allowedFunctionNames": ["lookup"]},
        ),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    sent = to_gemini({"messages": [USER], "tools": [TOOL], "tool_choice": choice}, "m")
    assert sent["toolConfig"] == {"functionCallingConfig": expected}
    assert sent["tools"] == [
        {
            "functionDeclarations": [
                {"name": "lookup", "description": "d", "parametersJsonSchema": {"type": "object"}}
            ]
        }
    ]


def test_generation_config() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = {
        "messages": [USER],
        "temperature": 1.5,
        "top_p": 0.9,
        "seed": 7,
        "max_tokens": 99,
        "stop": "END",
        "presence_penalty": 0.5,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        "reasoning_effort": "none",
    }
    assert to_gemini(body, "gemini-2.5-flash")["generationConfig"] == {
        "temperature": 1.5,
        "topP": 0.9,
        "seed": 7,
        "presencePenalty": 0.5,
        "maxOutputTokens": 99,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
        "thinkingConfig": {"thinkingBudget": 0},
    }
    pro = to_gemini(body, "gemini-2.5-pro")["generationConfig"]["thinkingConfig"]
    assert pro == {"thinkingBudget": 128}  # pro models cannot stop thinking
    # Thinking settings only go to models that think.
    assert "thinkingConfig" not in to_gemini(body, "gemini-2.0-flash")["generationConfig"]


def test_vertex_partial_args() -> None:
    call = PartialCall("f")
    call.add([{"jsonPath": "$.city", "stringValue": "San ", "willContinue": True}])
    call.add([{"jsonPath": "$.city", "stringValue": "Francisco"}])
    call.add(
        [{"jsonPath": "$.days[1].high", "numberValue": 20}, {"jsonPath": "$.ok", "boolValue": True}]
    )
    call.add([{"jsonPath": "$['odd key']", "nullValue": None}])
    assert call.args == {
        "city": "San Francisco",
        "days": [None, {"high": 20}],
        "ok": True,
        "odd key": None,
    }


def test_parallel_tool_calls_false_is_refused_only_with_tools() -> None:
    body: dict[str, Any] = {"messages": [USER], "tools": [TOOL], "parallel_tool_calls": False}
    with pytest.raises(GatewayError) as raised:
        to_gemini(body, "gemini-2.5-flash")
    assert raised.value.status == 400 and raised.value.param == "parallel_tool_calls"
    assert "toolConfig" not in to_gemini({**body, "tools": []}, "gemini-2.5-flash")


def test_tools_with_json_output_ask_for_json_in_words_before_gemini_3() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    body: dict[str, Any] = {
        "messages": [{"role": "system", "content": "Be brief."}, USER],
        "tools": [TOOL],
        "response_format": {"type": "json_schema", "json_schema": {"name": "c", "schema": schema}},
    }
    sent = to_gemini(body, "gemini-2.5-flash")
    assert "generationConfig" not in sent
    first, instruction = sent["systemInstruction"]["parts"]
    assert first == {"text": "Be brief."} and '"city"' in instruction["text"]
    gemini_3 = to_gemini(body, "gemini-3-pro-preview")
    assert gemini_3["generationConfig"]["responseJsonSchema"] == schema
    assert gemini_3["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    plain = to_gemini({**body, "response_format": {"type": "json_object"}, "tools": []}, "m")
    assert plain["generationConfig"] == {"responseMimeType": "application/json"}
