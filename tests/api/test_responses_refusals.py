"""What the Responses surface refuses, and how: the stateless refusals (`previous_response_id`,
`conversation`, `background`, `item_reference`, the stored-response routes), built-in tools,
Files API ids, and malformed or hostile bodies — each a 4xx in OpenAI's envelope (valid by
OpenAI's schema) naming the field and never quoting the input, never a 500, and no request
refused before admission reaching a provider."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import RunningGateway
from tests.support.openai_schema import assert_responses_valid

CANARY = "kestrel-canary-9014"
OK: dict[str, Any] = {"model": "gpt-4o-mini", "input": "hello"}
WEATHER = {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}


def said(*parts: Any) -> dict[str, Any]:
    """A user message item of these content parts."""
    return {"role": "user", "content": list(parts)}


def post(gw: RunningGateway, body: Any, path: str = "/v1/responses") -> httpx.Response:
    headers = {"Authorization": f"Bearer {gw.keys['alice']}"}
    return httpx.post(f"{gw.url}{path}", json=body, headers=headers, timeout=10)


def refused(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert_responses_valid(body, "ErrorResponse")
    assert CANARY not in response.text
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize(
    "field", ["previous_response_id", "conversation"], ids=["previous", "conversation"]
)
def test_continuing_stored_state_is_refused_saying_why(gateway: RunningGateway, field: str) -> None:
    with pytest.raises(openai.BadRequestError) as failed:
        openai.OpenAI(
            base_url=f"{gateway.url}/v1", api_key=gateway.keys["alice"], max_retries=0
        ).responses.create(model="gpt-4o-mini", input="hi", **{field: f"resp_{CANARY}"})
    error = refused(failed.value.response)
    assert error["param"] == field and error["code"] == "validation_error"
    assert "keeps no state" in error["message"]
    assert "whole conversation" in error["message"]
    assert "reasoning.encrypted_content" in error["message"]
    assert gateway.metadata(expect=1)[0]["http_status"] == 400


def test_background_and_item_references_are_refused(gateway: RunningGateway) -> None:
    error = refused(post(gateway, {**OK, "background": True}))
    assert error["param"] == "background" and "stores nothing" in error["message"]
    body = {**OK, "input": [{"type": "item_reference", "id": f"msg_{CANARY}"}]}
    error = refused(post(gateway, body))
    assert error["param"] == "input[0].type" and "keeps no state" in error["message"]
    answered = post(gateway, {**OK, "background": False, "store": True})
    assert answered.status_code == 200 and answered.json()["store"] is False


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("DELETE", ""), ("GET", "/input_items"), ("POST", "/cancel")],
)
def test_stored_responses_are_never_found(
    gateway: RunningGateway, method: str, suffix: str
) -> None:
    headers = {"Authorization": f"Bearer {gateway.keys['alice']}"}
    url = f"{gateway.url}/v1/responses/resp_{CANARY}{suffix}"
    error = refused(httpx.request(method, url, headers=headers, timeout=10), 404)
    assert error["code"] == "not_found" and error["type"] == "not_found_error"
    assert "keeps no state" in error["message"]
    assert "reasoning.encrypted_content" in error["message"]
    unauthenticated = httpx.request(method, url, timeout=10)
    assert unauthenticated.status_code == 401


def test_the_sdk_sees_a_retrieve_as_not_found(gateway: RunningGateway) -> None:
    sdk = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.keys["alice"], max_retries=0)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve("resp_123")
    with pytest.raises(openai.NotFoundError):
        sdk.responses.delete("resp_123")


@pytest.mark.parametrize(
    ("tool", "named"),
    [
        ({"type": "web_search"}, "web search"),
        ({"type": "web_search_preview"}, "web search"),
        ({"type": "file_search", "vector_store_ids": ["vs_1"]}, "file search"),
        ({"type": "code_interpreter", "container": {"type": "auto"}}, "code interpreter"),
        ({"type": "computer_use_preview", "display_width": 1, "display_height": 1}, "computer"),
        ({"type": "image_generation"}, "image generation"),
        ({"type": "mcp", "server_label": CANARY, "server_url": "https://x"}, "MCP"),
        ({"type": f"{CANARY}_tool"}, "not a function tool"),
    ],
)
def test_built_in_tools_are_refused_by_name(
    gateway: RunningGateway, tool: dict[str, Any], named: str
) -> None:
    error = refused(post(gateway, {**OK, "tools": [{**WEATHER, "type": "function"}, tool]}))
    assert error["param"] == "tools[1].type"
    assert named in error["message"] and "function tools" in error["message"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"prompt": {"id": "pmpt_1"}}, "a stored prompt ('prompt')"),
        ({"top_logprobs": 5}, "log probabilities ('top_logprobs')"),
        ({"include": ["message.output_text.logprobs"]}, "log probabilities ('include'"),
        ({"max_tool_calls": 1}, "a cap on tool calls ('max_tool_calls')"),
    ],
)
def test_what_only_openai_serves_goes_only_to_openai(
    gateway: RunningGateway, fields: dict[str, Any], named: str
) -> None:
    """Another provider's request has no place for these: refused by name there (rather
    than dropped, changing the answer), forwarded as sent to OpenAI."""
    for model in ("claude-haiku-4-5", "gemini-2.5-flash"):
        error = refused(post(gateway, {"model": model, "input": "hello", **fields}))
        assert error["param"] == "model" and named in error["message"]
        assert "'openai' models" in error["message"]
    served = post(gateway, {**OK, **fields})
    assert served.status_code == 200, served.text
    routed = post(gateway, {**OK, "model": "routeplex-ai", **fields})
    assert routed.status_code == 200, routed.text
    assert routed.json()["x_routeplex"]["provider"] == "openai"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "gpt-4o-mini"}, "input"),
        ({**OK, "input": ""}, "input"),
        ({**OK, "input": []}, "input"),
        ({**OK, "input": 7}, "input"),
        ({**OK, "input": [CANARY]}, "input[0]"),
        ({**OK, "input": [{"role": CANARY, "content": "x"}]}, "input[0].role"),
        ({**OK, "input": [{"role": "user"}]}, "input[0].content"),
        ({**OK, "input": [said({"type": CANARY})]}, "input[0].content[0].type"),
        ({**OK, "input": [said({"type": "input_text"})]}, "input[0].content[0].text"),
        ({**OK, "input": [{"type": "function_call", "call_id": "c", "name": "f"}]},
         "input[0].arguments"),
        ({**OK, "input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        ({**OK, "input": [{"type": CANARY}]}, "input[0].type"),
        ({**OK, "input": [{"type": "computer_call_output", "call_id": "c"}]}, "input[0].type"),
        ({**OK, "input": [said({"type": "input_image", "file_id": "f"})]},
         "input[0].content[0].image_url"),
        ({**OK, "input": [said({"type": "input_file", "file_id": "f"})]},
         "input[0].content[0].file_data"),
        ({**OK, "max_output_tokens": 0}, "max_output_tokens"),
        ({**OK, "max_output_tokens": CANARY}, "max_output_tokens"),
        ({**OK, "temperature": 3}, "temperature"),
        ({**OK, "top_p": True}, "top_p"),
        ({**OK, "tools": {}}, "tools"),
        ({**OK, "tools": [{"type": "function"}]}, "tools[0].name"),
        ({**OK, "tool_choice": CANARY}, "tool_choice"),
        ({**OK, "tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
        ({**OK, "text": {"format": {"type": CANARY}}}, "text.format"),
        ({**OK, "text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
        ({**OK, "reasoning": {"effort": CANARY}}, "reasoning.effort"),
        ({**OK, "metadata": {"k": 7}}, "metadata"),
        ({**OK, "include": CANARY}, "include"),
        ({**OK, "stream": CANARY}, "stream"),
        ({**OK, "store": CANARY}, "store"),
        ({**OK, "input": ["x", "y", said([[[]]])]}, "input[0]"),
        ({**OK, "input": [{"role": "user", "content": "x"}] * 2 + [said([[[]]])]},
         "input[2].content[0]"),
    ],
)  # fmt: skip
def test_malformed_bodies_are_400_naming_the_field(
    gateway: RunningGateway, body: dict[str, Any], param: str
) -> None:
    error = refused(post(gateway, body))
    assert error["param"] == param, error
    assert error["code"] in ("validation_error", "bad_request")


@pytest.mark.parametrize(
    "body",
    [
        [OK],
        CANARY,
        None,
        {**OK, "instructions": {"a": CANARY}},
        {**OK, "parallel_tool_calls": "yes"},
        {**OK, "input": [said({"type": "input_text", "text": [CANARY]})]},
        {**OK, "tools": [{"type": "function", "name": "f", "parameters": [CANARY]}]},
        {**OK, "input": [{"type": "reasoning", "summary": [{"text": 7}]}]},
    ],
)
def test_hostile_bodies_are_refused_not_500(gateway: RunningGateway, body: Any) -> None:
    response = post(gateway, body)
    assert 400 <= response.status_code < 500, response.text
    refused(response, response.status_code)


def test_deeply_nested_input_is_refused_naming_a_field(gateway: RunningGateway) -> None:
    deep: Any = "x"
    for _ in range(200):
        deep = {"a": deep}
    body = {**OK, "tools": [{**WEATHER, "type": "function", "parameters": deep}]}
    error = refused(post(gateway, body))
    assert error["param"] == "tools"
    assert gateway.metadata(expect=1)[0]["http_status"] == 400
