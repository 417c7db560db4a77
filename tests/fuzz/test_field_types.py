"""Fields of the wrong type are refused with a 400 `validation_error` naming the field and the
type it takes — never forwarded to a provider, never quoting the value — on both surfaces.

The echo upstream accepts any body, so before these checks each case was a 200.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fuzz.conftest import FuzzTarget

MARK = "canary-value"  # a value (or a caller's key) the error must not repeat
USER = {"role": "user", "content": "hi"}


def _image(image_url: Any) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "image_url", "image_url": image_url}]}


def _call(function: Any) -> list[dict[str, Any]]:
    return [
        USER,
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "type": "function", "function": function}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]


# (messages, the param the error names): checked on both surfaces.
MESSAGES: dict[str, tuple[list[Any], str]] = {
    "name_not_a_string": ([{**USER, "name": 5}], "messages[0].name"),
    "name_an_object": ([{**USER, "name": {MARK: MARK}}], "messages[0].name"),
    "image_url_a_number": ([_image(5)], "messages[0].content[0].image_url"),
    "image_url_without_url": ([_image({"detail": "low"})], "messages[0].content[0].image_url"),
    "image_url_url_a_number": ([_image({"url": 5})], "messages[0].content[0].image_url"),
    "image_url_detail_a_number": (
        [_image({"url": "https://example.com/a.png", "detail": 5})],
        "messages[0].content[0].image_url.detail",
    ),
    "text_part_text_a_number": (
        [{"role": "user", "content": [{"type": "text", "text": 5}]}],
        "messages[0].content[0].text",
    ),
    "input_audio_a_string": (
        [{"role": "user", "content": [{"type": "input_audio", "input_audio": MARK}]}],
        "messages[0].content[0].input_audio",
    ),
    "file_a_string": (
        [{"role": "user", "content": [{"type": "file", "file": MARK}]}],
        "messages[0].content[0].file",
    ),
    "tool_call_id_a_number": (
        [*_call({"name": "f", "arguments": "{}"})[:2], {"role": "tool", "tool_call_id": 1}],
        "messages[2].tool_call_id",
    ),
    "tool_call_function_a_string": ([*_call(MARK)], "messages[1].tool_calls[0].function"),
    "tool_call_name_a_number": (
        [*_call({"name": 5, "arguments": "{}"})],
        "messages[1].tool_calls[0].function.name",
    ),
    "tool_call_arguments_a_number": (
        [*_call({"name": "f", "arguments": 5})],
        "messages[1].tool_calls[0].function.arguments",
    ),
    "refusal_a_number": (
        [USER, {"role": "assistant", "content": "no", "refusal": 5}],
        "messages[1].refusal",
    ),
}

# (fields added to a valid OpenAI body, the param the error names).
FIELDS: dict[str, tuple[dict[str, Any], str]] = {
    "logit_bias_key_not_a_token": ({"logit_bias": {MARK: 1}}, "logit_bias"),
    "logit_bias_value_a_string": ({"logit_bias": {"50256": "1"}}, "logit_bias"),
    "logit_bias_value_a_float": ({"logit_bias": {"50256": 1.5}}, "logit_bias"),
    "logit_bias_value_too_large": ({"logit_bias": {"50256": 101}}, "logit_bias"),
    "logit_bias_value_too_small": ({"logit_bias": {"50256": -101}}, "logit_bias"),
    "logit_bias_an_array": ({"logit_bias": [1]}, "logit_bias"),
    "logprobs_a_string": ({"logprobs": "yes"}, "logprobs"),
    "top_logprobs_too_large": ({"top_logprobs": 21}, "top_logprobs"),
    "top_logprobs_a_string": ({"top_logprobs": "5"}, "top_logprobs"),
    "seed_a_string": ({"seed": "42"}, "seed"),
    "seed_beyond_int64": ({"seed": 2**63}, "seed"),
    "store_a_number": ({"store": 1}, "store"),
    "parallel_tool_calls_a_string": ({"parallel_tool_calls": "no"}, "parallel_tool_calls"),
    "user_a_number": ({"user": 5}, "user"),
    "safety_identifier_an_object": ({"safety_identifier": {}}, "safety_identifier"),
    "prompt_cache_key_a_number": ({"prompt_cache_key": 5}, "prompt_cache_key"),
    "reasoning_effort_a_number": ({"reasoning_effort": 5}, "reasoning_effort"),
    "service_tier_a_list": ({"service_tier": ["auto"]}, "service_tier"),
    "verbosity_a_number": ({"verbosity": 1}, "verbosity"),
    "metadata_value_a_number": ({"metadata": {MARK: 5}}, "metadata"),
    "metadata_a_string": ({"metadata": MARK}, "metadata"),
    "modalities_a_string": ({"modalities": "text"}, "modalities"),
    "modalities_item_a_number": ({"modalities": [1]}, "modalities"),
    "audio_a_string": ({"audio": MARK}, "audio"),
    "audio_without_format": ({"audio": {"voice": "alloy"}}, "audio"),
    "moderation_a_string": ({"moderation": MARK}, "moderation"),
    "tool_choice_function_a_string": (
        {"tool_choice": {"type": "function", "function": MARK}},
        "tool_choice.function",
    ),
    "function_call_name_a_number": ({"function_call": {"name": 5}}, "function_call.name"),
    "json_schema_without_name": (
        {"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
        "response_format.json_schema",
    ),
    "json_schema_schema_a_string": (
        {"response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": MARK}}},
        "response_format.json_schema.schema",
    ),
    "web_search_options_a_string": ({"web_search_options": MARK}, "web_search_options"),
    "stop_item_a_number": ({"stop": ["a", 1]}, "stop"),
    "stream_options_include_usage_a_string": (
        {"stream_options": {"include_usage": "yes"}},
        "stream_options.include_usage",
    ),
    "tool_a_string": ({"tools": [MARK]}, "tools[0]"),
    "tool_without_type": ({"tools": [{"function": {"name": "f"}}]}, "tools[0].type"),
    "tool_function_name_a_number": (
        {"tools": [{"type": "function", "function": {"name": 5}}]},
        "tools[0].function.name",
    ),
    "tool_parameters_a_string": (
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": MARK}}]},
        "tools[0].function.parameters",
    ),
    "function_name_a_number": ({"functions": [{"name": 5}]}, "functions[0].name"),
    "tool_choice_a_number": ({"tool_choice": 5}, "tool_choice"),
    "function_call_a_number": ({"function_call": 5}, "function_call"),
    "prediction_a_string": ({"prediction": MARK}, "prediction"),
    "prediction_content_a_number": (
        {"prediction": {"type": "content", "content": 5}},
        "prediction",
    ),
    "prediction_part_not_text": (
        {"prediction": {"type": "content", "content": [{"type": "image_url"}]}},
        "prediction",
    ),
    "prediction_of_another_type": ({"prediction": {"type": MARK, "content": "x"}}, "prediction"),
}


def _post(target: FuzzTarget, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{target.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {target.key}"},
        timeout=15,
    )


def _refused(response: httpx.Response, param: str, openai: bool) -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert (error["param"] if openai else error["details"]["param"]) == param
    assert MARK not in response.text
    message: str = error["message"]
    assert f"'{param}'" in message  # the field, by name, and then what it takes
    assert "must" in message
    return message


@pytest.mark.parametrize("case", list(MESSAGES))
def test_a_message_field_of_the_wrong_type_is_refused(fuzz_target: FuzzTarget, case: str) -> None:
    messages, param = MESSAGES[case]
    openai = _post(
        fuzz_target, "/v1/chat/completions", {"model": "fuzz/echo", "messages": messages}
    )
    _refused(openai, param, openai=True)
    native = _post(fuzz_target, "/api/v1/chat", {"model": "fuzz/echo", "messages": messages})
    _refused(native, param, openai=False)


@pytest.mark.parametrize("case", list(FIELDS))
def test_a_request_field_of_the_wrong_type_is_refused(fuzz_target: FuzzTarget, case: str) -> None:
    fields, param = FIELDS[case]
    body = {"model": "fuzz/echo", "messages": [USER], **fields}
    _refused(_post(fuzz_target, "/v1/chat/completions", body), param, openai=True)


def test_the_same_fields_well_typed_are_served(fuzz_target: FuzzTarget) -> None:
    body = {
        "model": "fuzz/echo",
        "messages": [
            {"role": "system", "content": "Be brief.", "name": "rules"},
            {
                "role": "user",
                "name": "ann",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                    {"type": "image_url", "image_url": "https://example.com/b.png"},
                ],
            },
            *_call({"name": "f", "arguments": "{}"})[1:],
        ],
        "logit_bias": {"50256": -100, "1": 100},
        "logprobs": True,
        "top_logprobs": 2,
        "seed": -(2**63),
        "store": False,
        "parallel_tool_calls": True,
        "user": "u1",
        "metadata": {"team": "search"},
        "modalities": ["text"],
        "stop": ["\n\n"],
        "stream_options": None,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "prediction": {"type": "content", "content": [{"type": "text", "text": "Hello"}]},
        "reasoning_effort": "low",
        "audio": {"voice": {"id": "voice_1"}, "format": "wav"},
        "function_call": "auto",
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {}}},
        "verbosity": None,
    }
    response = _post(fuzz_target, "/v1/chat/completions", body)
    assert response.status_code == 200, response.text
    native = {"model": "fuzz/echo", "messages": body["messages"]}
    assert _post(fuzz_target, "/api/v1/chat", native).status_code == 200
