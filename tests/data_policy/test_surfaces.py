"""Data-policy routing through every surface, with the official SDKs over real sockets: the
OpenAI dialect (chat, plain and streamed; Responses, passed through to OpenAI and translated;
embeddings), Anthropic's Messages (plain, streamed, and `count_tokens`, which sends the prompt
only to a compliant deployment and otherwise estimates) and the native `/api/v1/chat`. Each
answer goes only to a compliant deployment and names its policy in `X-RoutePlex-Data-Policy`
(refusals: `test_surface_refusals.py`)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from tests.data_policy.conftest import HEADER, LABELS, PROMPT, PolicyGateway

EU = "region=eu"
STRICT = "zero-retention, no-training"


def oai(gw: PolicyGateway, key: str, policy: str | None = None) -> openai.OpenAI:
    headers = {HEADER: policy} if policy is not None else None
    return openai.OpenAI(
        base_url=f"{gw.url}/v1", api_key=key, max_retries=0, default_headers=headers
    )


def claude(gw: PolicyGateway, key: str, policy: str | None = None) -> anthropic.Anthropic:
    headers = {HEADER: policy} if policy is not None else None
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, default_headers=headers)


def test_openai_chat_names_the_serving_policy(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("surfaces")
    client = oai(policy_gw, key, "zero-retention, no-training, region=eu")
    policy_gw.upstream()
    for _ in range(8):
        raw = client.chat.completions.with_raw_response.create(
            model="pol-mixed", messages=PROMPT, max_tokens=16
        )
        completion = raw.parse()
        assert completion.choices[0].message.content
        assert completion.model_extra and completion.model_extra["x_routeplex"]["provider"] == (
            "eu-zdr"
        )
        assert raw.headers[HEADER] == LABELS["eu-zdr"]
    assert set(policy_gw.sent()) == {("/v1/chat/completions", "mixed-eu")}


def test_openai_chat_stream_names_the_serving_policy(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("surfaces")
    client = oai(policy_gw, key, "region=us")
    policy_gw.upstream()
    raw = client.chat.completions.with_raw_response.create(
        model="pol-mixed", messages=PROMPT, max_tokens=16, stream=True
    )
    assert raw.headers[HEADER] == LABELS["us-keeps"]
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    extra = chunks[-1].model_extra or {}
    assert extra["x_routeplex"]["provider"] == "us-keeps"
    assert policy_gw.sent() == [("/v1/chat/completions", "mixed-us")]
    row = policy_gw.row(raw.headers["X-Request-Id"])
    assert row["data_policy_required"] == "region=us" and row["data_policy_met"] == 1
    assert row["data_policy_served"] == LABELS["us-keeps"] and row["http_status"] == 200


@pytest.mark.parametrize("stream", [False, True])
def test_native_chat_names_the_serving_policy(policy_gw: PolicyGateway, stream: bool) -> None:
    key = policy_gw.account("surfaces")
    policy_gw.upstream()
    with policy_gw.http.stream(
        "POST",
        f"{policy_gw.url}/api/v1/chat",
        headers={"Authorization": f"Bearer {key}", HEADER: "region=eu"},
        json={"model": "pol-pinned", "messages": PROMPT, "stream": stream},
        timeout=30,
    ) as reply:
        body = reply.read().decode()
    assert reply.status_code == 200, body
    assert reply.headers[HEADER] == LABELS["eu-zdr"]
    if stream:
        assert '"type":"done"' in body
    else:
        assert json.loads(body)["data"]["provider"] == "unknown"
    assert policy_gw.sent() == [("/v1/chat/completions", "pinned-eu")]


def test_anthropic_messages_go_only_to_the_compliant_deployment(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("surfaces")
    client = claude(policy_gw, key, EU)
    policy_gw.upstream()
    for _ in range(6):
        raw = client.messages.with_raw_response.create(
            model="claude-haiku-4-5",
            max_tokens=32,
            messages=[{"role": "user", "content": "hello canary"}],
        )
        message = raw.parse()
        assert message.content[0].type == "text" and message.content[0].text
        assert raw.headers[HEADER] == LABELS["anthropic-eu"]
        assert message.model_dump()["x_routeplex"]["provider"] == "anthropic-eu"
    assert set(policy_gw.sent()) == {("/v1/messages", "claude-haiku-4-5-eu")}
    # The control: without the requirement, Anthropic itself serves too.
    plain = claude(policy_gw, key)
    labels = {
        plain.messages.with_raw_response.create(
            model="claude-haiku-4-5", max_tokens=32, messages=[{"role": "user", "content": "hi"}]
        ).headers[HEADER]
        for _ in range(12)
    }
    assert LABELS["anthropic"] in labels


def test_anthropic_stream_names_the_serving_policy(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("surfaces")
    policy_gw.upstream()
    with claude(policy_gw, key, EU).messages.stream(
        model="claude-haiku-4-5",
        max_tokens=32,
        messages=[{"role": "user", "content": "hello canary"}],
    ) as stream:
        final = stream.get_final_message()
        headers = stream.response.headers
    assert final.content[0].type == "text" and final.usage.output_tokens > 0
    assert headers[HEADER] == LABELS["anthropic-eu"]
    assert policy_gw.sent() == [("/v1/messages", "claude-haiku-4-5-eu")]
    row = policy_gw.row(headers["request-id"])
    assert row["endpoint"] == "anthropic.messages" and row["data_policy_met"] == 1
    assert row["data_policy_served"] == LABELS["anthropic-eu"]


def test_count_tokens_asks_only_a_compliant_deployment(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("surfaces")
    messages: Any = [{"role": "user", "content": "how many tokens is this canary prompt?"}]
    policy_gw.upstream()
    # Claude Haiku has an EU deployment of Anthropic's format: it counts.
    counted = claude(policy_gw, key, EU).messages.count_tokens(
        model="claude-haiku-4-5", messages=messages
    )
    assert counted.input_tokens > 0
    assert policy_gw.sent() == [("/v1/messages/count_tokens", "claude-haiku-4-5-eu")]
    # Claude Sonnet's only deployment is global: it is not sent the prompt; the gateway
    # estimates instead.
    estimated = claude(policy_gw, key, EU).messages.count_tokens(
        model="claude-sonnet-4-20250514", messages=messages
    )
    assert estimated.input_tokens > 0
    assert policy_gw.sent() == []
    # The control: without the requirement, Anthropic counts it.
    claude(policy_gw, key).messages.count_tokens(
        model="claude-sonnet-4-20250514", messages=messages
    )
    assert policy_gw.sent() == [("/v1/messages/count_tokens", "claude-sonnet-4-20250514")]


WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}


def test_an_anthropic_only_request_is_refused_for_the_policy_it_cannot_meet(
    policy_gw: PolicyGateway,
) -> None:
    """Claude 3.5 Haiku's EU deployment speaks OpenAI's format, so a request with Anthropic's
    web search tool may go only to Anthropic, which is not in the EU: the refusal is the
    policy's (403), not "only Anthropic models serve this" about an Anthropic model."""
    key = policy_gw.account("surfaces")
    model = "claude-3-5-haiku-20241022"
    policy_gw.upstream()
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        claude(policy_gw, key, EU).messages.create(
            model=model,
            max_tokens=32,
            messages=[{"role": "user", "content": "hi"}],
            tools=[WEB_SEARCH],  # type: ignore[list-item]
        )
    assert "region=eu" in refused.value.message
    assert policy_gw.sent() == []
    row = policy_gw.row(refused.value.response.headers["request-id"])
    assert row["http_status"] == 403 and row["data_policy_met"] == 0
    # Without the tool, the EU deployment serves it (translated to its format)...
    served = claude(policy_gw, key, EU).messages.with_raw_response.create(
        model=model, max_tokens=32, messages=[{"role": "user", "content": "hi"}]
    )
    assert served.headers[HEADER] == LABELS["eu-zdr"]
    assert policy_gw.sent() == [("/v1/chat/completions", "claude-3-5-haiku-eu")]
    # ... and without the requirement, Anthropic serves the tool.
    with_tool = claude(policy_gw, key).messages.with_raw_response.create(
        model=model,
        max_tokens=32,
        messages=[{"role": "user", "content": "hi"}],
        tools=[WEB_SEARCH],  # type: ignore[list-item]
    )
    assert with_tool.headers[HEADER] == LABELS["anthropic"]
    assert policy_gw.sent() == [("/v1/messages", model)]


def test_responses_pass_through_to_a_compliant_openai(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("surfaces")
    policy_gw.upstream()
    raw = oai(policy_gw, key, "no-training").responses.with_raw_response.create(
        model="gpt-4o-mini", input="hello canary", max_output_tokens=32
    )
    response = raw.parse()
    assert response.output_text
    assert raw.headers[HEADER] == LABELS["openai"]
    assert policy_gw.sent() == [("/v1/responses", "gpt-4o-mini")]
    with pytest.raises(openai.PermissionDeniedError) as refused:
        oai(policy_gw, key, "zero-retention").responses.create(
            model="gpt-4o-mini", input="hello canary"
        )
    assert refused.value.code == "forbidden_model"
    assert "zero-retention" in refused.value.message
    assert policy_gw.sent() == []


@pytest.mark.parametrize(
    ("model", "policy", "label", "upstream"),
    [
        ("claude-haiku-4-5", EU, LABELS["anthropic-eu"], ("/v1/messages", "claude-haiku-4-5-eu")),
        ("pol-mixed", "region=us", LABELS["us-keeps"], ("/v1/chat/completions", "mixed-us")),
    ],
)
def test_translated_responses_go_only_to_a_compliant_deployment(
    policy_gw: PolicyGateway, model: str, policy: str, label: str, upstream: tuple[str, str]
) -> None:
    key = policy_gw.account("surfaces")
    client = oai(policy_gw, key, policy)
    policy_gw.upstream()
    for _ in range(4):
        raw = client.responses.with_raw_response.create(
            model=model, input="hello canary", max_output_tokens=32
        )
        assert raw.parse().output_text
        assert raw.headers[HEADER] == label
    streamed = client.responses.with_raw_response.create(
        model=model, input="hello canary", max_output_tokens=400, stream=True
    )
    assert streamed.headers[HEADER] == label
    assert [e.type for e in streamed.parse()][-1] == "response.completed"
    assert set(policy_gw.sent()) == {upstream}


def test_embeddings_go_only_to_a_compliant_deployment(policy_gw: PolicyGateway) -> None:
    key = policy_gw.account("surfaces")
    strict = oai(policy_gw, key, STRICT)
    for _ in range(8):
        raw = strict.embeddings.with_raw_response.create(
            model="text-embedding-3-small", input="the canary sings"
        )
        assert len(raw.parse().data[0].embedding) == 1536
        assert raw.headers[HEADER] == LABELS["eu-zdr"]
    row = policy_gw.row(raw.headers["X-Request-Id"])
    assert row["endpoint"] == "openai.embeddings" and row["data_policy_required"] == STRICT
    assert row["data_policy_met"] == 1 and row["data_policy_served"] == LABELS["eu-zdr"]
    # The control: OpenAI's and the trainer's deployments serve without the requirement.
    loose = oai(policy_gw, key)
    labels = {
        loose.embeddings.with_raw_response.create(
            model="text-embedding-3-small", input="the canary sings"
        ).headers[HEADER]
        for _ in range(12)
    }
    assert len(labels) > 1
