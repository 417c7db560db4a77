"""Schemathesis against a live gateway, from the OpenAPI description it serves at
`/openapi.json`: every operation, positive and negative inputs, and no response may be a
5xx, every error must be in its dialect's envelope with a RoutePlex code and must not quote
the request, and every response must match the description.

The gateway's upstream is the echo upstream, which accepts any body: a 5xx here is the
gateway's own failure, never a provider refusing a strange request. Its model names are
pinned to what this gateway serves, so generated requests reach the provider path instead
of stopping at `invalid_model`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from routeplex_gateway.api import openapi
from routeplex_gateway.errors import ErrorCode
from tests.fuzz.conftest import FuzzTarget

MODELS = ["fuzz/echo", "routeplex-ai"]
CODES = frozenset(code.value for code in ErrorCode)
DESCRIPTION = openapi.description().decode()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def right_envelope(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Every error: its dialect's envelope, a RoutePlex code, and no quote of the request."""
    if response.status_code < 400:
        return None
    body = response.json()
    if "anthropic-version" in (case.headers or {}):
        # The model routes answer a caller that speaks Anthropic's API in its envelope (the
        # Messages routes are fuzzed in test_anthropic_schema).
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}, body
        error = body["error"]
    elif case.path.startswith("/v1"):
        error = body["error"]
        assert set(error) == {"message", "type", "param", "code"}, body
    else:
        assert body["success"] is False, body
        error = body["error"]
        assert set(error) == {"code", "message", "details"}, body
        assert isinstance(error["details"], dict)
    assert "anthropic-version" in (case.headers or {}) or error["code"] in CODES, body
    assert isinstance(error["message"], str)
    # Long enough to be content, and not a word schemathesis took from the description
    # itself (an enum, a header name), which a message may legitimately say too.
    sent = [*_strings(case.body), *map(str, (case.path_parameters or {}).values())]
    for text in sent:
        if len(text.strip()) >= 12 and text not in DESCRIPTION:
            assert text not in error["message"], "an error message quotes the request"
    return None


REQUESTS = (
    "ChatCompletionRequest", "NativeChatRequest", "EstimateRequest", "MessagesRequest",
    "Conversation", "ResponsesRequest",
)  # fmt: skip


def load_schema() -> schemathesis.BaseSchema:
    """The description the gateway serves (the same file; a test below checks), with model
    names pinned to the ones the fuzz gateway serves."""
    description: dict[str, Any] = orjson.loads(openapi.description())
    schemas = description["components"]["schemas"]
    for name in REQUESTS:
        schemas[name]["properties"]["model"] = {"type": "string", "enum": MODELS}
    return schemathesis.openapi.from_dict(description)


# Loaded at collection from the packaged file: schemathesis's fixture-based loading does not
# run under this pytest, and the file is exactly what `/openapi.json` serves.
# Anthropic's Messages routes are fuzzed in test_anthropic_schema, by their own checks.
schema = load_schema().exclude(tag="Anthropic dialect")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api(case: schemathesis.Case, fuzz_target: FuzzTarget) -> None:
    key = fuzz_target.admin_key if case.path.startswith("/admin") else fuzz_target.key
    # Every other admin call on a real account, so updates and key creation get past 404
    # (deleting it would leave nothing for the operations after it).
    fuzz_target.calls += 1
    real = case.method != "DELETE" and fuzz_target.calls % 2
    if real and "account_id" in (case.path_parameters or {}):
        case.path_parameters = {**case.path_parameters, "account_id": fuzz_target.target_account}
    case.call_and_validate(
        base_url=fuzz_target.url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=15,
        checks=[
            not_a_server_error,
            right_envelope,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


def test_openapi_json_is_served(fuzz_target: FuzzTarget) -> None:
    response = httpx.get(f"{fuzz_target.url}/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.content == openapi.description()
    paths = response.json()["paths"]
    served = {"/v1/chat/completions", "/v1/messages", "/v1/responses", "/api/v1/chat", "/health"}
    assert served <= set(paths)
