"""Input-token estimates bound what providers bill: dense text, tools, schemas, images, and
every recorded provider exchange in tests/fixtures/providers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from routeplex_gateway.metering import tokens
from routeplex_gateway.metering.tokens import estimate_prediction_tokens
from tests.support.cassettes import PROVIDERS, load
from tests.support.chat import anthropic_request, openai_request


def estimate_input_tokens(body: dict[str, Any]) -> int:
    return tokens.estimate_input_tokens(openai_request(body))


def estimate_predicted(body: dict[str, Any]) -> int:
    return estimate_prediction_tokens(openai_request(body))


@pytest.fixture(autouse=True)
def _no_tokenizer(monkeypatch: pytest.MonkeyPatch) -> None:
    # As on CI: the o200k encoding is not on disk, so the bound is what admission uses.
    monkeypatch.setattr(tokens, "_encoding", lambda: None)


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def test_dense_prompt_is_not_undercounted() -> None:
    # OpenAI billed 307 prompt tokens for this message; 4 characters a token said 157.
    assert estimate_input_tokens(_user("a " * 300)) >= 307


def test_text_bound_holds_for_any_script() -> None:
    # Tokens never outnumber bytes: CJK and emoji take 3-4 bytes a character.
    for text in ("漢字" * 50, "🙂" * 50, "xq" * 100):
        body = _user(text)
        assert estimate_input_tokens(body) >= len(text.encode()) + 7


def test_tools_and_their_schemas_are_counted() -> None:
    description = "word " * 86_000  # 430,000 characters, 80,039 tokens at OpenAI
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": description,
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    plain = estimate_input_tokens(_user("hi"))
    with_tool = estimate_input_tokens({**_user("hi"), "tools": [tool]})
    assert with_tool - plain >= len(description)
    legacy = estimate_input_tokens({**_user("hi"), "functions": [tool["function"]]})
    assert legacy - plain >= len(description)


def test_response_format_schema_is_counted() -> None:
    schema = {
        "type": "object",
        "properties": {f"field_{i}": {"type": "string"} for i in range(200)},
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}
    plain = estimate_input_tokens(_user("hi"))
    shaped = estimate_input_tokens({**_user("hi"), "response_format": response_format})
    assert shaped - plain >= len(json.dumps(schema, separators=(",", ":")))


def test_images_count_the_largest_provider_rule() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    body = {"messages": [{"role": "user", "content": [image, image]}]}
    # Anthropic: ~1,600 an image at its size limit (OpenAI high detail <= 1,445; Gemini 258).
    assert estimate_input_tokens(body) - estimate_input_tokens(_user("")) >= 2 * 1_600 - 2


def test_a_prediction_is_bounded_as_output() -> None:
    text = "xq" * 5_000  # random letters: the densest text o200k knows
    for content in (text, [{"type": "text", "text": text}]):
        body = {**_user("hi"), "prediction": {"type": "content", "content": content}}
        assert estimate_predicted(body) >= len(text)
    assert estimate_predicted(_user("hi")) == 0
    assert estimate_predicted({**_user("hi"), "prediction": None}) == 0


def test_tool_calls_results_and_documents_are_counted() -> None:
    arguments = json.dumps({"city": "Paris" * 100})
    body = {
        "messages": [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "w", "arguments": arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny " * 100},
            {
                "role": "user",
                "content": [{"type": "file", "file": {"file_data": "JVBER" * 200}}],
            },
        ]
    }
    assert estimate_input_tokens(body) >= len(arguments) + 600 + 1_000


def _recorded_prompt_tokens(body: bytes) -> int | None:
    """The input the provider billed: OpenAI's prompt_tokens, or Anthropic's input tokens
    with its cache reads and writes."""
    text = body.decode()

    def largest(key: str) -> int:
        return max((int(n) for n in re.findall(rf'"{key}":\s*(\d+)', text)), default=0)

    if '"prompt_tokens"' in text:
        return largest("prompt_tokens")
    if '"input_tokens"' in text:
        return sum(
            largest(k)
            for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        )
    return None


_RECORDED = sorted(
    str(path.relative_to(PROVIDERS))
    for kind in ("openai", "anthropic")
    for path in (PROVIDERS / kind).glob("*.yaml")
    if path.name.startswith(("chat_completions", "messages")) and "_error_" not in path.name
)


@pytest.mark.parametrize("cassette", _RECORDED)
def test_never_below_what_the_provider_billed(cassette: str) -> None:
    checked = 0
    for exchange in load(cassette):
        billed = _recorded_prompt_tokens(exchange.body)
        if billed is None or exchange.status != 200:
            continue
        # Decoded by the surface of the recording's own wire format, as the gateway would.
        decode = anthropic_request if cassette.startswith("anthropic") else openai_request
        assert tokens.estimate_input_tokens(decode(exchange.request)) >= billed, cassette
        checked += 1
    assert checked, f"{cassette} has no billed request"
