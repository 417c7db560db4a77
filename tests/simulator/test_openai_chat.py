"""The OpenAI Chat Completions surface over a real socket: SDK client and raw bytes."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest
import yaml

from routeplex_gateway.simulator import create_simulator_app
from tests.simulator import sse
from tests.simulator.conftest import Upstream
from tests.support.cassettes import PROVIDERS
from tests.support.openai_schema import assert_all_valid as assert_valid
from tests.support.servers import serve_in_thread

FIXTURES = PROVIDERS / "openai"
HELLO: Any = [{"role": "user", "content": "hello"}]


def test_sdk_non_stream_basic(upstream: Upstream) -> None:
    completion = upstream.client().chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert choice.message.content and "hello" not in choice.message.content.lower()
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens == 8
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_raw_non_stream_body_matches_recorded_shape(upstream: Upstream) -> None:
    status, headers, raw = upstream.chat({"model": "any-compatible-model", "messages": HELLO})
    assert status == 200, raw
    body = json.loads(raw)
    assert headers["content-type"] == "application/json"
    assert headers["x-request-id"].startswith("req_")
    assert_valid("CreateChatCompletionResponse", body)
    recording = yaml.safe_load((FIXTURES / "chat_completions_nonstream_basic.yaml").read_text())
    recorded = recording["interactions"][0]["response"]["parsed_body"]
    assert set(body) == set(recorded)
    assert set(body["choices"][0]) == set(recorded["choices"][0])
    assert set(body["choices"][0]["message"]) == set(recorded["choices"][0]["message"])
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}
    assert body["usage"]["completion_tokens_details"] == {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    }
    assert body["model"] == "any-compatible-model"
    assert body["id"].startswith("chatcmpl-sim")


def test_same_body_same_answer_except_id_and_created(upstream: Upstream) -> None:
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "tell me zqxwv"}]}
    first = upstream.completion(request)
    second = upstream.completion(request)
    assert first["id"] != second["id"]
    for body in (first, second):
        body.pop("id"), body.pop("created")
    assert first == second
    assert "zqxwv" not in json.dumps(first)
    other = upstream.completion({**request, "messages": HELLO})
    assert other["choices"][0]["message"]["content"] != first["choices"][0]["message"]["content"]


def test_stream_with_include_usage_framing(upstream: Upstream) -> None:
    request = {"model": "gpt-4o-mini", "messages": HELLO, "stream_options": {"include_usage": True}}
    headers, raw = upstream.stream(request)
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    assert b"event:" not in raw and raw.endswith(b"\n\ndata: [DONE]\n\n")
    chunks = sse.chunks(raw)
    assert_valid("CreateChatCompletionStreamResponse", *chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    *choice_chunks, usage_chunk = chunks
    assert all(chunk["usage"] is None for chunk in choice_chunks)
    assert choice_chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert usage_chunk["choices"] == []
    non_stream = upstream.completion({"model": "gpt-4o-mini", "messages": HELLO})
    assert usage_chunk["usage"] == non_stream["usage"]
    assert sse.content(chunks) == non_stream["choices"][0]["message"]["content"]
    # One chunk per token-ish piece, as the usage says.
    pieces = [c for c in choice_chunks[1:-1] if c["choices"][0]["delta"].get("content")]
    assert len(pieces) == usage_chunk["usage"]["completion_tokens"]
    for chunk in chunks:
        assert list(chunk)[:7] == [
            "id",
            "object",
            "created",
            "model",
            "service_tier",
            "system_fingerprint",
            "choices",
        ]
        assert chunk["object"] == "chat.completion.chunk" and chunk["id"] == chunks[0]["id"]


def test_stream_without_include_usage_has_no_usage(upstream: Upstream) -> None:
    _, raw = upstream.stream({"model": "gpt-4o-mini", "messages": HELLO})
    chunks = sse.chunks(raw)
    assert_valid("CreateChatCompletionStreamResponse", *chunks)
    assert all("usage" not in chunk for chunk in chunks)
    assert all(chunk["choices"] for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_obfuscation_can_be_turned_off(upstream: Upstream) -> None:
    options = {"include_usage": True, "include_obfuscation": False}
    _, raw = upstream.stream({"model": "m", "messages": HELLO, "stream_options": options})
    assert all("obfuscation" not in chunk for chunk in sse.chunks(raw))


def test_sdk_stream_reassembles(upstream: Upstream) -> None:
    stream = upstream.client().chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (
        text
        == upstream.client()
        .chat.completions.create(model="gpt-4o", messages=HELLO)
        .choices[0]
        .message.content
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_max_tokens_gives_length(upstream: Upstream) -> None:
    for field in ("max_tokens", "max_completion_tokens"):
        body = upstream.completion({"model": "gpt-4o", "messages": HELLO, field: 3})
        assert body["choices"][0]["finish_reason"] == "length"
        assert body["usage"]["completion_tokens"] == 3
    request = {"model": "gpt-4o", "messages": HELLO, "max_tokens": 3}
    request["stream_options"] = {"include_usage": True}
    _, raw = upstream.stream(request)
    chunks = sse.chunks(raw)
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 3


def test_reasoning_model_reports_reasoning_tokens(upstream: Upstream) -> None:
    body = upstream.completion({"model": "o3-mini", "messages": HELLO})
    usage = body["usage"]
    reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
    assert reasoning in (64, 128)
    assert usage["completion_tokens"] > reasoning
    assert_valid("CreateChatCompletionResponse", body)


def test_n_choices(upstream: Upstream) -> None:
    body = upstream.completion({"model": "gpt-4o", "messages": HELLO, "n": 2})
    assert [choice["index"] for choice in body["choices"]] == [0, 1]
    _, raw = upstream.stream({"model": "gpt-4o", "messages": HELLO, "n": 2})
    indexes = {chunk["choices"][0]["index"] for chunk in sse.chunks(raw)}
    assert indexes == {0, 1}


def test_invalid_key_and_missing_auth(upstream: Upstream) -> None:
    request = {"model": "gpt-4o", "messages": HELLO}
    assert upstream.completion(request, expected=401, key="sk-invalid") == {
        "error": {
            "message": "Incorrect API key provided: sk-inval**lid. You can find your API key at"
            " https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    missing = upstream.completion(request, expected=401, key=None)
    assert_valid("ErrorResponse", missing)
    assert missing["error"]["message"].startswith("You didn't provide an API key.")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=upstream.url + "/v1", api_key="sk-invalid", max_retries=0
        ).models.list()


BAD_REQUESTS: list[tuple[dict[str, Any], str | None, str | None, str | None]] = [
    ({"model": "m"}, "messages", "missing_required_parameter", "Missing required parameter"),
    ({"model": "m", "messages": []}, "messages", "empty_array", "Invalid 'messages': empty array"),
    ({"messages": HELLO}, None, None, "you must provide a model parameter"),
    ({"model": "m", "messages": [{}]}, "messages[0].role", "missing_required_parameter", None),
    ({"model": "m", "messages": [{"role": "x"}]}, "messages[0].role", "invalid_value", None),
    ({"model": "m", "messages": HELLO, "max_tokens": "9"}, "max_tokens", "invalid_type", None),
    (
        {"model": "m", "messages": HELLO, "max_tokens": 0},
        "max_tokens",
        "integer_below_min_value",
        "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0",
    ),
    ({"model": "m", "messages": HELLO, "tool_choice": "auto"}, "tool_choice", None, None),
    ({"model": "m", "messages": HELLO, "stream_options": {}}, "stream_options", None, None),
    (
        {"model": "m", "messages": HELLO, "tools": [{"type": "function", "function": {}}]},
        "tools[0].function.name",
        "missing_required_parameter",
        None,
    ),
]


@pytest.mark.parametrize(("request_body", "param", "code", "message"), BAD_REQUESTS)
def test_bad_requests_get_openai_400s(
    upstream: Upstream,
    request_body: dict[str, Any],
    param: str | None,
    code: str | None,
    message: str | None,
) -> None:
    body = upstream.completion(request_body, expected=400)
    assert_valid("ErrorResponse", body)
    error = body["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    if message:
        assert error["message"].startswith(message)


def test_invalid_json_body(upstream: Upstream) -> None:
    body = upstream.completion(b"{not json", expected=400)
    assert body["error"]["message"].startswith("We could not parse the JSON body")


def test_models_list(upstream: Upstream) -> None:
    status, _, raw = upstream.call("GET", "/v1/models", headers={"authorization": "Bearer k"})
    assert status == 200
    assert_valid("ListModelsResponse", json.loads(raw))
    ids = [model.id for model in upstream.client().models.list()]
    assert "gpt-4o-mini" in ids and len(ids) >= 5


def test_request_log(upstream: Upstream) -> None:
    request = {"model": "gpt-4o", "messages": HELLO, "seed": 7, "user": "someone"}
    upstream.chat(request)
    upstream.chat(request, key=None)
    _, _, raw = upstream.call("GET", "/_simulator/requests")
    logged = json.loads(raw)["requests"]
    assert [entry["body"] for entry in logged] == [request, request]
    assert [entry["auth_header"] for entry in logged] == ["authorization", None]
    assert logged[0]["path"] == "/v1/chat/completions" and logged[0]["method"] == "POST"
    assert "sk-test" not in raw.decode()
    for index in range(52):
        upstream.chat({"model": "gpt-4o", "messages": HELLO, "seed": index})
    logged = json.loads(upstream.call("GET", "/_simulator/requests")[2])["requests"]
    assert len(logged) == 50 and logged[-1]["body"]["seed"] == 51
    assert json.loads(upstream.call("DELETE", "/_simulator/requests")[2]) == {"cleared": 50}
    assert json.loads(upstream.call("GET", "/_simulator/requests")[2]) == {"requests": []}


def test_pacing() -> None:
    app = create_simulator_app(time_to_first_token_s=0.2, chunk_gap_s=0.01)
    with serve_in_thread(app) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        started = time.monotonic()
        stream = client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True)
        arrivals = [time.monotonic() - started for _ in stream]
    assert arrivals[0] >= 0.2
    assert arrivals[-1] - arrivals[0] >= 0.01 * (len(arrivals) - 1)
