"""The request schemas (`api/schemas`) are the one definition of each chat body: they validate
it, their refusals name the field as a JSON path and say what it takes without quoting what
was sent, and `/openapi.json` is generated from them.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from routeplex_gateway.api import openapi
from routeplex_gateway.api.native import _openai_body
from routeplex_gateway.api.operations import OPERATIONS
from routeplex_gateway.api.schemas.anthropic_messages import Conversation, MessagesRequest
from routeplex_gateway.api.schemas.embeddings import CreateEmbeddingRequest
from routeplex_gateway.api.schemas.native import EstimateRequest, NativeChatRequest
from routeplex_gateway.api.schemas.openai_chat import ChatCompletionRequest
from routeplex_gateway.api.schemas.refusal import _fields, check
from routeplex_gateway.api.validation import validate_chat_body
from routeplex_gateway.app import create_app
from routeplex_gateway.config import Settings
from routeplex_gateway.errors import ErrorCode, GatewayError

CANARY = "canary-9d41"
USER = {"role": "user", "content": "hi"}
# Wrong for every field, each carrying the canary where a validator could echo it: as a
# value, as a key of the caller's, and as an item of an array.
BAD = (CANARY, {CANARY: CANARY}, [CANARY, {CANARY: 1}])
BASES: dict[type[BaseModel], dict[str, Any]] = {
    ChatCompletionRequest: {"model": "m", "messages": [USER]},
    NativeChatRequest: {"model": "m", "messages": [USER]},
    EstimateRequest: {"messages": [USER]},
}


def _quiet(error: GatewayError) -> str:
    """The refusal's message, once checked to name a field and say nothing sent."""
    said = f"{error.message} {error.param} {orjson.dumps(error.details).decode()}"
    assert CANARY not in said, said
    assert error.status == 400
    if error.param is not None:
        assert f"'{error.param}'" in error.message and "must" in error.message, error.message
    return error.message


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        (schema, field.alias or name)
        for schema in BASES
        for name, field in schema.model_fields.items()
    ],
)
def test_every_field_refuses_what_it_does_not_take_without_quoting_it(
    schema: type[BaseModel], field: str
) -> None:
    refused = 0
    for bad in BAD:
        try:
            check(schema, {**BASES[schema], field: bad})
        except GatewayError as error:
            _quiet(error)
            assert error.param is not None and error.param.startswith(field), error.param
            refused += 1
    assert refused, f"'{field}' took every bad value"


def _image(url: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "image_url", "image_url": url}]}]


def _called(call: Any) -> list[dict[str, Any]]:
    return [USER, {"role": "assistant", "tool_calls": [call]}]


# (fields of an OpenAI chat body, the field the refusal names): a canary in every kind of
# nested field — a message, a part, a tool call, a tool, a choice, a format, a caller's key.
NESTED: list[tuple[dict[str, Any], str]] = [
    ({"messages": [CANARY]}, "messages[0]"),
    ({"messages": [{"role": CANARY, "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": {CANARY: 1}}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": [CANARY]}]}, "messages[0].content[0]"),
    (
        {"messages": [{"role": "user", "content": [{"type": {CANARY: 1}}]}]},
        "messages[0].content[0]",
    ),
    (
        {"messages": [{"role": "user", "content": [{"type": "text", "text": {CANARY: 1}}]}]},
        "messages[0].content[0].text",
    ),
    ({"messages": _image({CANARY: CANARY})}, "messages[0].content[0].image_url"),
    (
        {"messages": _image({"url": "u", "detail": [CANARY]})},
        "messages[0].content[0].image_url.detail",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": [{"type": "file", "file": {"file_id": [CANARY]}}]}
            ]
        },
        "messages[0].content[0].file.file_id",
    ),
    ({"messages": [{**USER, "name": {CANARY: CANARY}}]}, "messages[0].name"),
    ({"messages": [{**USER, "audio": {"id": [CANARY]}}]}, "messages[0].audio"),
    ({"messages": _called(CANARY)}, "messages[1].tool_calls"),
    ({"messages": _called({"type": [CANARY]})}, "messages[1].tool_calls[0].type"),
    (
        {"messages": _called({"function": {"name": [CANARY]}})},
        "messages[1].tool_calls[0].function.name",
    ),
    (
        {"messages": _called({"function": {"name": "f", "arguments": [CANARY]}})},
        "messages[1].tool_calls[0].function.arguments",
    ),
    (
        {"messages": _called({"type": "custom", "custom": {CANARY: 1}})},
        "messages[1].tool_calls[0].custom",
    ),
    ({"tools": [{"type": {CANARY: 1}}]}, "tools[0].type"),
    (
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": CANARY}}]},
        "tools[0].function.parameters",
    ),
    ({"tools": [{"type": "custom", "custom": {"name": [CANARY]}}]}, "tools[0].custom"),
    ({"functions": [{"name": "f", "description": [CANARY]}]}, "functions[0].description"),
    ({"tool_choice": {"type": "function", "function": CANARY}}, "tool_choice.function"),
    ({"tool_choice": {"type": [CANARY]}}, "tool_choice.type"),
    ({"function_call": {"name": {CANARY: 1}}}, "function_call.name"),
    ({"response_format": {"type": {CANARY: 1}}}, "response_format"),
    (
        {"response_format": {"type": "json_schema", "json_schema": {CANARY: 1}}},
        "response_format.json_schema",
    ),
    (
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "s", "strict": CANARY},
            }
        },
        "response_format.json_schema.strict",
    ),
    ({"logit_bias": {CANARY: 1}}, "logit_bias"),
    ({"metadata": {CANARY * 8: "v"}}, "metadata"),
    ({"metadata": {"k": CANARY * 60}}, "metadata"),
    ({"stream_options": {"include_usage": CANARY}}, "stream_options.include_usage"),
    ({"prediction": {"type": "content", "content": [{"type": CANARY}]}}, "prediction"),
    ({"audio": {"voice": [CANARY], "format": "wav"}}, "audio"),
    ({"stop": [CANARY, {CANARY: 1}]}, "stop"),
]


@pytest.mark.parametrize(("fields", "param"), NESTED)
def test_a_nested_field_is_named_by_its_path_and_never_quoted(
    fields: dict[str, Any], param: str
) -> None:
    with pytest.raises(GatewayError) as refused:
        validate_chat_body({"model": "m", "messages": [USER], **fields})
    assert refused.value.code == ErrorCode.VALIDATION_ERROR
    assert refused.value.param == param
    _quiet(refused.value)


def _refusal(body: Any) -> GatewayError:
    with pytest.raises(GatewayError) as refused:
        validate_chat_body(body)
    return refused.value


def test_the_refusals_say_what_the_field_takes() -> None:
    no_content = _refusal({"model": "m", "messages": [{"role": "user"}]})
    assert no_content.message == (
        "'messages[0].content' is required for user messages and must be a string or an "
        "array of parts."
    )
    assert _refusal({"model": "m", "messages": [USER], "max_tokens": 0}).message == (
        "'max_tokens' must be an integer from 1 to 10000000."
    )
    assert _refusal({"model": "m", "messages": [USER], "temperature": True}).message == (
        "'temperature' must be a number from 0 to 2."
    )
    empty = _refusal({"model": "m", "messages": []})
    assert (empty.code, empty.message) == (
        ErrorCode.EMPTY_MESSAGES,
        "'messages' must not be empty.",
    )
    assert (
        _refusal({"messages": [USER]}).message
        == "'model' is required and must be a non-empty string."
    )
    nothing = _refusal([USER])
    assert (nothing.param, nothing.message) == (None, "The request body must be a JSON object.")


def test_a_fault_in_a_required_field_is_named_first() -> None:
    # Pydantic reports the inherited optional fields first; the missing model matters more.
    assert _refusal({"messages": [USER], "temperature": 9}).param == "model"


def test_the_native_body_is_refused_in_its_own_words() -> None:
    with pytest.raises(GatewayError) as mode:
        _openai_body({"mode": CANARY, "messages": [USER]})
    assert mode.value.code == ErrorCode.INVALID_MODE
    assert _quiet(mode.value) == "'mode' must be 'manual' or 'routeplex-ai'."
    with pytest.raises(GatewayError) as cap:
        _openai_body({"model": "m", "messages": [USER], "max_output_tokens": 0})
    assert cap.value.param == "max_output_tokens"
    body, options = _openai_body({"mode": "routeplex-ai", "strategy": "Cost", "messages": [USER]})
    assert options["strategy"] == "cost" and body["max_tokens"] == 512


@pytest.mark.parametrize("schema", list(BASES))
def test_every_field_a_refusal_may_name_says_what_it_takes(schema: type[BaseModel]) -> None:
    # Without a Takes on the field, a fault in it could only be reported as a bad body.
    assert [name for name, node in _fields(schema).items() if node.takes is None] == []


def test_openapi_is_generated_from_the_schemas_that_validate() -> None:
    document = orjson.loads(openapi.description())
    schemas = document["components"]["schemas"]
    for path, schema in (
        ("/v1/chat/completions", ChatCompletionRequest),
        ("/api/v1/chat", NativeChatRequest),
        ("/api/v1/chat/estimate", EstimateRequest),
        ("/v1/messages", MessagesRequest),
        ("/v1/messages/count_tokens", Conversation),
        ("/v1/embeddings", CreateEmbeddingRequest),
    ):
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": f"#/components/schemas/{schema.__name__}"}
        declared = {field.alias or name for name, field in schema.model_fields.items()}
        assert set(schemas[schema.__name__]["properties"]) == declared
        assert set(schemas[schema.__name__]["required"]) == {
            field.alias or name
            for name, field in schema.model_fields.items()
            if field.is_required()
        }


def test_every_route_is_described(tmp_path: Any) -> None:
    app = create_app(Settings(data_dir=tmp_path, simulate=True))
    described = {(op.method.upper(), op.path) for op in OPERATIONS}
    served = {
        (method, route.path)
        for route in app.routes
        for method in getattr(route, "methods", None) or ()
        if method != "HEAD"
    }
    assert served - described == set()
    assert described - served == set()


def test_openapi_json_is_valid_openapi_3_1() -> None:
    document = orjson.loads(openapi.description())
    faults = [error.message for error in OPENAPI_31_VALIDATOR.iter_errors(document)]
    assert faults == []
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
