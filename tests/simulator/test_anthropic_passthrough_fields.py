"""The simulator's Anthropic side takes what a caller forwards as it is — thinking blocks with
signatures in the history, cache_control on any block, server tools, container, metadata —
and answers `POST /v1/messages/count_tokens` as Anthropic does, with the count its usage
reports. The official `anthropic` SDK is the client."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from tests.simulator.conftest import Upstream

KEY = "sk-ant-test"
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
MODEL = "claude-sonnet-4-20250514"
WEB_SEARCH: Any = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
LOOKUP: Any = {"name": "lookup", "input_schema": {"type": "object"}}
HISTORY: Any = [
    {"role": "user", "content": "hi"},
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "A greeting.", "signature": "EqQBCkgIARAB=="},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/"},
            {"type": "text", "text": "Hello!", "cache_control": {"type": "ephemeral"}},
        ],
    },
    {"role": "user", "content": [{"type": "text", "text": "and the news?"}]},
]
SYSTEM: Any = [{"type": "text", "text": "Be brief. " * 20, "cache_control": {"type": "ephemeral"}}]


def _client(upstream: Upstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=upstream.url, api_key=KEY, max_retries=0)


def test_forwarded_fields_are_accepted(upstream: Upstream) -> None:
    client = _client(upstream)
    message = client.messages.create(
        model=MODEL,
        max_tokens=4000,
        system=SYSTEM,
        messages=HISTORY,
        tools=[WEB_SEARCH],
        thinking={"type": "enabled", "budget_tokens": 1024},
        metadata={"user_id": "caller-7"},
        extra_body={"container": "container_011", "cache_control": {"type": "ephemeral"}},
    )
    # A server tool is never called (there is no server to run it): the answer is text.
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.usage.cache_creation_input_tokens
    forced = client.messages.create(
        model=MODEL,
        max_tokens=200,
        messages=HISTORY,
        tools=[WEB_SEARCH, LOOKUP],
        tool_choice={"type": "tool", "name": "web_search"},
    )
    assert [b.type for b in forced.content] == ["text"]
    adaptive = client.messages.create(
        model=MODEL,
        max_tokens=200,
        messages=HISTORY,
        thinking={"type": "adaptive"},  # type: ignore[typeddict-item]
    )
    assert adaptive.content[0].type == "thinking"


def test_count_tokens_is_what_the_usage_reports(upstream: Upstream) -> None:
    client = _client(upstream)
    for tools in ([], [WEB_SEARCH, LOOKUP]):
        counted = client.messages.count_tokens(
            model=MODEL, system=SYSTEM, messages=HISTORY, tools=tools
        )
        used = client.messages.create(
            model=MODEL,
            max_tokens=200,
            system=SYSTEM,
            messages=HISTORY,
            tools=tools,
            tool_choice={"type": "none"} if tools else anthropic.omit,
        ).usage
        assert used.cache_creation_input_tokens  # the system prompt's cache breakpoint
        assert counted.input_tokens == used.input_tokens + used.cache_creation_input_tokens
    plain = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert plain.input_tokens == 3 + 3 + 1 + 1  # priming, per-message overhead, role, word


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_tokens": 10}, "max_tokens: Extra inputs are not permitted"),
        ({"stream": True}, "stream: Extra inputs are not permitted"),
        ({"metadata": {"user_id": "u"}}, "metadata: Extra inputs are not permitted"),
        ({"model": None}, "model: Field required"),
        ({"messages": []}, "messages: at least one message is required"),
        ({"thinking": {"type": "enabled", "budget_tokens": 5}}, "greater than or equal to 1024"),
    ],
)
def test_count_tokens_refuses_what_anthropic_refuses(
    upstream: Upstream, body: dict[str, Any], message: str
) -> None:
    request = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **body}
    status, _, raw = upstream.call("POST", "/v1/messages/count_tokens", request, HEADERS)
    assert status == 400
    error = json.loads(raw)
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert message in error["error"]["message"]


def test_count_tokens_checks_the_key_and_version(upstream: Upstream) -> None:
    request = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    path = "/v1/messages/count_tokens"
    status, _, raw = upstream.call("POST", path, request, {"anthropic-version": "2023-06-01"})
    assert status == 401 and json.loads(raw)["error"]["type"] == "authentication_error"
    status, _, raw = upstream.call("POST", path, request, {"x-api-key": KEY})
    assert status == 400 and "anthropic-version" in json.loads(raw)["error"]["message"]
