"""The Anthropic decode (`api/anthropic_decode.py`) refuses only what the typed Messages schema
(`api/schemas/anthropic_messages.py`) refuses, with the schema's own refusal (code, field and
message), and maps every body the schema accepts without failing: the schema is the one check
of the body, and the mapping after it reads the body as valid.

The corpus: every body the Anthropic tests send and the requests recorded from Anthropic's API
(`tests/support/anthropic_bodies.py`), and each valid one with one field changed — every field,
at any depth, set to a value of each JSON type, to an empty one, to another block, source or
choice type, and left out. The decode refuses a few bodies for what no schema of the request
says (`BESIDE_THE_SCHEMA`): those are the known differences, and any other fails the test, as
does a mapping that fails on a body the schema took. Then bodies generated from
`/openapi.json` (valid ones and not), as they would arrive over HTTP.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from routeplex_gateway.api.anthropic_decode import decode
from routeplex_gateway.api.schemas.anthropic_messages import Conversation, MessagesRequest
from routeplex_gateway.api.schemas.refusal import _fields, check
from routeplex_gateway.errors import ErrorCode, GatewayError
from tests.fuzz.test_api_schema import load_schema
from tests.support.anthropic_bodies import bodies

CANARY = "CANARY-5e1d"
VALUES: list[Any] = [CANARY, 7, 1.5, -1, 10**8, True, None, "", [], {}, [CANARY], {"type": CANARY}]
TYPES = [
    *("text", "image", "document", "search_result", "tool_result", "tool_use", "thinking"),
    *("redacted_thinking", "server_tool_use", "container_upload", "base64", "url", "file"),
    *("content", "custom", "auto", "any", "tool", "none", "enabled", "adaptive", "disabled"),
    *("json_schema", "web_search_20250305"),
]
# Values of one field's own kind, beside VALUES.
BY_FIELD: dict[str, list[Any]] = {
    "type": TYPES,
    "role": ["user", "assistant", "system"],
    **{
        name: ["", "x", [{"type": "text", "text": "x"}], [{"type": "text", "text": ""}]]
        for name in ("content", "system", "text", "data", "url")
    },
}

# ("ok", None, None) or (error code, field named, message); a mapping that fails otherwise
# than with a refusal fails the test.
Verdict = tuple[str, str | None, str | None]


def _verdict(validate: Callable[[Any], object], body: Any) -> Verdict:
    try:
        validate(copy.deepcopy(body))
    except GatewayError as error:
        assert CANARY not in error.message, error.message
        return error.code.value, error.param, error.message
    return "ok", None, None


def _paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield from _paths(item, (*path, index))


def _changed(body: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """`body` with the field at `path` set to `value`; left out when `value` is `_LEFT_OUT`."""
    changed = copy.deepcopy(body)
    target = changed
    for step in path[:-1]:
        target = target[step]
    if value is _LEFT_OUT:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


_LEFT_OUT = object()


@cache
def corpus() -> tuple[Any, ...]:
    return tuple(_corpus())


def _corpus() -> Iterator[Any]:
    for body in bodies():
        yield body
        if _verdict(decode, body)[0] != "ok":
            continue
        for path in _paths(body):
            name = path[-1]
            values = VALUES + BY_FIELD.get(name, []) if isinstance(name, str) else VALUES
            for value in values:
                yield _changed(body, path, value)
            if isinstance(name, str):
                yield _changed(body, path, _LEFT_OUT)


def _nested(verdict: Verdict, body: Any) -> bool:
    return verdict[0] == ErrorCode.VALIDATION_ERROR.value and "levels deep" in (verdict[2] or "")


# What the decode refuses beside the request's schema, and why (a fault the schema of the
# Anthropic body cannot see: the decode checks it, as validation.py does for OpenAI's).
BESIDE_THE_SCHEMA: dict[str, Callable[[Verdict, Any], bool]] = {
    # Nesting deeper than the canonical body's limit allows, counted before translation (as
    # `validate_nesting` for an OpenAI body: no JSON schema says it).
    "nesting": _nested,
}


def _disagreements(schema: type[Conversation]) -> tuple[int, dict[str, int], list[str]]:
    """How many bodies were judged, the known disagreements by kind, and the unknown ones."""
    judged, known, unknown = 0, dict.fromkeys(BESIDE_THE_SCHEMA, 0), []
    for body in corpus():
        judged += 1
        decoded = _verdict(lambda b: decode(b, schema), body)
        checked = _verdict(lambda b: check(schema, b), body)
        if decoded == checked:
            continue
        why = checked[0] == "ok" and next(
            (name for name, test in BESIDE_THE_SCHEMA.items() if test(decoded, body)), None
        )
        if why:
            known[why] += 1
        else:
            unknown.append(f"decode {decoded}, schema {checked}: {str(body)[:300]}")
    return judged, known, unknown


@pytest.mark.parametrize("schema", [MessagesRequest, Conversation])
def test_the_decode_refuses_only_what_the_schema_refuses(schema: type[Conversation]) -> None:
    # MessagesRequest for POST /v1/messages; Conversation, without the output cap, for
    # count_tokens.
    judged, known, unknown = _disagreements(schema)
    assert judged > 20_000
    assert unknown == []
    assert all(known.values()), known  # each known difference is still there to be tested


@pytest.mark.parametrize(
    ("body", "param"),
    [
        # A turn's place is judged before what it holds, as the decode reads turns in order.
        ({"messages": [{"role": "system", "content": [{"type": "image"}]}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": ""}, {"role": "user", "content": [7]}]},
            "messages[0].content",
        ),
        (
            {"messages": [{"role": "user", "content": [7]}, {"role": "user", "content": ""}]},
            "messages[0].content[0]",
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": []}]},
            "messages[1].content",
        ),
    ],
)
def test_the_first_fault_in_the_turns_is_named_first(body: dict[str, Any], param: str) -> None:
    body = {"model": "m", "max_tokens": 1, **body}
    assert _verdict(decode, body) == _verdict(lambda b: check(MessagesRequest, b), body)
    assert _verdict(decode, body)[1] == param


def test_a_final_assistant_turn_may_be_empty_and_no_other() -> None:
    user = {"role": "user", "content": "hi"}
    prefill = {
        "model": "m",
        "max_tokens": 1,
        "messages": [user, {"role": "assistant", "content": []}],
    }
    check(MessagesRequest, prefill)
    early = {**prefill, "messages": [*prefill["messages"], user]}
    with pytest.raises(GatewayError) as refused:
        check(MessagesRequest, early)
    assert (refused.value.param, refused.value.message) == (
        "messages[1].content",
        "'messages[1].content' must not be empty.",
    )


def test_the_canary_sent_in_a_field_is_never_said() -> None:
    field = re.compile(r"'[^']+'")
    for value in VALUES:
        with pytest.raises(GatewayError) as refused:
            check(MessagesRequest, {"model": "m", "max_tokens": 1, "messages": [value]})
        assert CANARY not in refused.value.message
        assert field.match(refused.value.message)


@pytest.mark.parametrize("schema", [MessagesRequest, Conversation])
def test_every_field_a_refusal_may_name_says_what_it_takes(schema: type[Conversation]) -> None:
    # Without a Takes, a fault in the field could only be reported as a bad body. The fields
    # only Anthropic reads take anything, so are never at fault.
    checked = {name for name, field in schema.model_fields.items() if field.annotation is not Any}
    assert [name for name in checked if _fields(schema)[name].takes is None] == []
    assert "max_tokens" in checked and "service_tier" not in checked


operation = load_schema()["/v1/messages"]["POST"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_bodies_are_judged_alike(mode: GenerationMode) -> None:
    unknown: list[str] = []

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy(generation_mode=mode))
    def judge(case: schemathesis.Case) -> None:
        try:  # as it would arrive: JSON has no lone surrogates (nor would the body parse)
            body = orjson.loads(orjson.dumps(case.body))
        except (orjson.JSONEncodeError, orjson.JSONDecodeError):
            return
        decoded = _verdict(decode, body)
        checked = _verdict(lambda b: check(MessagesRequest, b), body)
        if decoded == checked:
            return
        if checked[0] == "ok" and any(t(decoded, body) for t in BESIDE_THE_SCHEMA.values()):
            return
        unknown.append(f"decode {decoded}, schema {checked}: {str(body)[:300]}")

    judge()
    assert unknown == []
