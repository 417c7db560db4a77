"""Schemathesis against a live gateway's Anthropic Messages routes (`POST /v1/messages` and
`POST /v1/messages/count_tokens`), from the description it serves at `/openapi.json`, with the
same target as test_api_schema (the echo upstream behind, so a 5xx is the gateway's own).

Every answer: never a 5xx; a `request-id` header (the anthropic SDK reads it); on a 4xx,
Anthropic's error envelope `{"type": "error", "error": {"type", "message"}}` whose message
quotes nothing generated; and the status, content type and body as described.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.conftest import FuzzTarget
from tests.fuzz.test_api_schema import DESCRIPTION, _strings, load_schema

ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "overloaded_error",
        "timeout_error",
    }
)


def anthropic_envelope(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """A 4xx in Anthropic's envelope, naming no value the request carried."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert body["type"] == "error", body
    assert set(body) <= {"type", "error", "request_id"}, body
    error = body["error"]
    assert set(error) == {"type", "message"}, body
    assert error["type"] in ERROR_TYPES, body
    assert isinstance(error["message"], str) and error["message"], body
    # Long enough to be content, and not a word schemathesis took from the description itself.
    for text in _strings(case.body):
        if len(text.strip()) >= 12 and text not in DESCRIPTION:
            assert text not in error["message"], "an error message quotes the request"
    return None


def request_id(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Every answer, refusals included, carries its id as the anthropic SDK reads it."""
    assert response.headers.get("request-id"), response.headers
    return None


def no_server_error(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    return not_a_server_error(ctx, response, case)


def described_status(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    return status_code_conformance(ctx, response, case)


schema = load_schema().include(tag="Anthropic dialect")


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_messages(case: schemathesis.Case, fuzz_target: FuzzTarget) -> None:
    case.call_and_validate(
        base_url=fuzz_target.url,
        headers={"x-api-key": fuzz_target.key, "anthropic-version": "2023-06-01"},
        timeout=15,
        checks=[
            no_server_error,
            anthropic_envelope,
            request_id,
            described_status,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


def test_a_valid_message_is_answered(fuzz_target: FuzzTarget) -> None:
    response = httpx.post(
        f"{fuzz_target.url}/v1/messages",
        headers={"x-api-key": fuzz_target.key, "anthropic-version": "2023-06-01"},
        json={
            "model": "fuzz/echo",
            "max_tokens": 8,
            "messages": [{"role": "user", "content": "hi"}],
        },
        timeout=15,
    )
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "message"
