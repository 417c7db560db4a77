"""The Gemini `generateContent` surface over a real socket: raw bytes compared with the
recorded real responses, SSE and JSON-array framing, validation, faults and thinking."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.simulator.conftest import Upstream
from tests.support.cassettes import PROVIDERS

KEY = {"x-goog-api-key": "AIza-test"}
HELLO: Any = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
WEATHER: Any = {
    "functionDeclarations": [
        {
            "name": "get_weather",
            "parametersJsonSchema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ]
}


def _post(
    upstream: Upstream,
    model: str,
    body: Any,
    method: str = "generateContent",
    query: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    path = f"/v1beta/models/{model}:{method}{query}"
    return upstream.call("POST", path, body, KEY if headers is None else headers)


def _ok(upstream: Upstream, model: str, body: Any, **options: Any) -> dict[str, Any]:
    status, _, raw = _post(upstream, model, body, **options)
    assert status == 200, raw
    parsed: dict[str, Any] = json.loads(raw)
    return parsed


def _sse(raw: bytes) -> list[dict[str, Any]]:
    """Gemini SSE: `data: {json}` + CRLF CRLF per event, no `event:` lines, no terminator."""
    assert raw.endswith(b"\r\n\r\n") and b"event:" not in raw and b"[DONE]" not in raw
    events = raw[:-4].split(b"\r\n\r\n")
    assert all(e.startswith(b"data: ") and b"\n" not in e for e in events)
    return [json.loads(e[len(b"data: ") :]) for e in events]


def _recorded(name: str, turn: int = 0) -> dict[str, Any]:
    cassette = yaml.safe_load((PROVIDERS / "google" / name).read_text())
    interaction: dict[str, Any] = cassette["interactions"][turn]
    return interaction


def _skeleton(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _skeleton(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_skeleton(value[0])] if value else []
    return type(value).__name__


def test_response_has_the_recorded_shape(upstream: Upstream) -> None:
    recorded = _recorded("generate_content_basic_thoughts_tokens.yaml")
    ours = _ok(upstream, "gemini-2.5-flash", recorded["request"]["parsed_body"])
    expected = recorded["response"]["parsed_body"]
    usage = ours["usageMetadata"]
    assert usage.pop("serviceTier") == "standard"  # newer than this recording
    assert _skeleton(ours) == _skeleton(expected)
    assert usage["promptTokenCount"] == 3 + 4 + 3 + 5 + 3  # system + user, the shared recipe
    assert usage["thoughtsTokenCount"] in (64, 128)
    total = usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]
    assert usage["totalTokenCount"] == total


def test_sse_stream_framing_and_cumulative_usage(upstream: Upstream) -> None:
    recorded = _recorded("stream_generate_content_sse_cumulative_usage.yaml")
    status, headers, raw = _post(
        upstream,
        "gemini-2.5-flash",
        recorded["request"]["parsed_body"],
        "streamGenerateContent",
        "?alt=sse",
    )
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    chunks = _sse(raw)
    recorded_chunks = _sse(recorded["response"]["body"]["string"].encode())
    assert _skeleton(chunks[-1]) == _skeleton(recorded_chunks[-1])
    assert _skeleton(chunks[1]) == _skeleton(recorded_chunks[1])
    finishes = [c["candidates"][0].get("finishReason") for c in chunks]
    assert finishes == [None] * (len(chunks) - 1) + ["STOP"]
    counts = [c["usageMetadata"].get("candidatesTokenCount", 0) for c in chunks]
    assert counts == sorted(counts) and counts[-1] == len(chunks)  # cumulative, one per chunk
    assert {c["usageMetadata"]["thoughtsTokenCount"] for c in chunks} == {
        chunks[-1]["usageMetadata"]["thoughtsTokenCount"]
    }
    plain = _ok(upstream, "gemini-2.5-flash", recorded["request"]["parsed_body"])
    text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    assert text == plain["candidates"][0]["content"]["parts"][0]["text"]


def test_json_array_stream_without_alt_sse(upstream: Upstream) -> None:
    status, headers, raw = _post(upstream, "gemini-2.0-flash", HELLO, "streamGenerateContent")
    assert status == 200 and headers["content-type"] == "application/json; charset=UTF-8"
    assert raw.startswith(b"[{") and raw.endswith(b"\n]") and b"\n,\r\n{" in raw
    chunks = json.loads(raw)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "thoughtsTokenCount" not in chunks[-1]["usageMetadata"]  # 2.0 does not think


def test_function_calls_have_no_ids_and_carry_a_signature(upstream: Upstream) -> None:
    body = {**HELLO, "tools": [WEATHER]}
    ours = _ok(upstream, "gemini-3-pro-preview", body)
    [part] = ours["candidates"][0]["content"]["parts"]
    assert set(part) == {"functionCall", "thoughtSignature"}
    assert set(part["functionCall"]) == {"name", "args"} and part["functionCall"]["args"]["city"]
    assert ours["candidates"][0]["finishReason"] == "STOP"
    recording = _recorded("stream_generate_content_sse_function_call_thought_signature.yaml")
    status, _, raw = _post(
        upstream,
        "gemini-3-pro-preview",
        recording["request"]["parsed_body"],
        "streamGenerateContent",
        "?alt=sse",
    )
    chunks = _sse(raw)
    for chunk in chunks:
        assert chunk["usageMetadata"].pop("serviceTier") == "standard"  # newer than this recording
    recorded = _sse(recording["response"]["body"]["string"].encode())
    assert [_skeleton(c) for c in chunks] == [_skeleton(c) for c in recorded]

    history = [
        *HELLO["contents"],
        {"role": "model", "parts": [part]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"t": 9}}}],
        },
    ]
    answer = _ok(upstream, "gemini-3-pro-preview", {"contents": history, "tools": [WEATHER]})
    assert answer["candidates"][0]["content"]["parts"][0]["text"]
    # Gemini 3 refuses the call back without its signature, unless told to skip the check.
    unsigned = {"functionCall": part["functionCall"]}
    history[1] = {"role": "model", "parts": [unsigned]}
    status, _, raw = _post(upstream, "gemini-3-pro-preview", {"contents": history})
    assert status == 400 and "thought_signature" in json.loads(raw)["error"]["message"]
    history[1]["parts"][0]["thoughtSignature"] = "skip_thought_signature_validator"
    _ok(upstream, "gemini-3-pro-preview", {"contents": history})
    history[1]["parts"][0].pop("thoughtSignature")
    _ok(upstream, "gemini-2.5-flash", {"contents": history})  # 2.5 does not insist


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"contents": []}, "contents is not specified"),
        ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "valid role"),
        ({"contents": [{"role": "user", "parts": []}]}, "must not be empty"),
        (
            {
                "contents": [
                    {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}
                ]
            },
            "function response turn comes immediately after a function call turn",
        ),
        ({**HELLO, "generationConfig": {"temperature": 3}}, "temperature"),
    ],
)
def test_invalid_requests(upstream: Upstream, body: Any, message: str) -> None:
    status, _, raw = _post(upstream, "gemini-2.5-flash", body)
    assert status == 400
    error = json.loads(raw)["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    assert message in error["message"]


def test_api_keys(upstream: Upstream) -> None:
    status, _, raw = _post(upstream, "gemini-2.5-flash", HELLO, headers={})
    assert status == 403 and json.loads(raw)["error"]["status"] == "PERMISSION_DENIED"
    status, _, raw = _post(
        upstream, "gemini-2.5-flash", HELLO, headers={"x-goog-api-key": "sk-invalid"}
    )
    error = json.loads(raw)["error"]
    assert status == 400 and error["details"][0]["reason"] == "API_KEY_INVALID"
    assert _ok(upstream, "gemini-2.5-flash", HELLO, query="?key=AIza-test", headers={})


def test_status_faults(upstream: Upstream) -> None:
    upstream.add_fault(model="gemini-2.5-flash", status=429, retry_after=7, count=1)
    status, _, raw = _post(upstream, "gemini-2.5-flash", HELLO)
    error = json.loads(raw)["error"]
    assert status == 429 and error["status"] == "RESOURCE_EXHAUSTED"
    retry = [d for d in error["details"] if d["@type"].endswith("RetryInfo")]
    assert retry == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]
    upstream.add_fault(model="gemini-2.5-flash", status=400, code="API_KEY_INVALID", count=1)
    status, _, raw = _post(upstream, "gemini-2.5-flash", HELLO)
    assert status == 400 and "API key not valid" in json.loads(raw)["error"]["message"]
    upstream.add_fault(model="gemini-2.5-flash", status=503, count=1)
    status, _, raw = _post(upstream, "gemini-2.5-flash", HELLO)
    assert status == 503 and json.loads(raw)["error"]["status"] == "UNAVAILABLE"
    upstream.add_fault(model="other-model", status=500)
    assert _ok(upstream, "gemini-2.5-flash", HELLO)  # faults are keyed by the model name


def test_break_faults_on_the_sse_stream(upstream: Upstream) -> None:
    upstream.add_fault(model="gemini-2.5-flash", malformed_after_chunks=2, count=1)
    status, _, raw = _post(upstream, "gemini-2.5-flash", HELLO, "streamGenerateContent", "?alt=sse")
    assert status == 200
    *good, bad = raw[:-4].split(b"\r\n\r\n")
    assert len(good) == 2 and all(json.loads(e[6:]) for e in good)
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad[6:])


def test_thinking_is_optional_on_flash_models(upstream: Upstream) -> None:
    def usage(model: str, config: dict[str, Any]) -> dict[str, Any]:
        body = _ok(upstream, model, {**HELLO, "generationConfig": config})
        parts = body["candidates"][0]["content"]["parts"]
        return {**body["usageMetadata"], "thought_parts": sum(1 for p in parts if p.get("thought"))}

    assert usage("gemini-2.5-flash", {})["thoughtsTokenCount"] in (64, 128)
    assert "thoughtsTokenCount" not in usage(
        "gemini-2.5-flash", {"thinkingConfig": {"thinkingBudget": 0}}
    )
    assert "thoughtsTokenCount" not in usage("gemini-2.0-flash", {})
    shown = usage("gemini-2.5-flash", {"thinkingConfig": {"includeThoughts": True}})
    assert shown["thought_parts"] == 1
    status, _, raw = _post(
        upstream,
        "gemini-2.5-pro",
        {**HELLO, "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}},
    )
    assert status == 400 and "only works in thinking mode" in json.loads(raw)["error"]["message"]


def test_json_output(upstream: Upstream) -> None:
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "required": ["n"]}
    for config in (
        {"responseMimeType": "application/json"},
        {"responseMimeType": "application/json", "responseSchema": schema},
        {"response_mime_type": "application/json", "response_json_schema": {"type": "object"}},
    ):
        body = _ok(upstream, "gemini-2.5-flash", {**HELLO, "generationConfig": config})
        value = json.loads(body["candidates"][0]["content"]["parts"][0]["text"])
        assert isinstance(value, dict)
        if "responseSchema" in config:
            assert isinstance(value["n"], int)
