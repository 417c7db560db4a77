"""Bad requests to Anthropic's Messages surface: wrong types in every field, unknown block types,
deep nesting, empty and out-of-order messages, broken images, impossible `max_tokens`, bodies
that are not JSON or not an object, the wrong content type, and bodies past the size limit.

Every string the caller chose in the bad field carries `CANARY`, which no answer may quote
back. Most are refused by the gateway itself (`GATEWAY`); a few are well-formed but break a
rule only the provider checks (`UPSTREAM`): admitted, sent once, refused there — by Anthropic
(a translated request's provider, real OpenAI, refuses them too, in its own words; the
simulator's OpenAI format does not model that check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CANARY = "hostile-canary-5150"
C = CANARY
GATEWAY, UPSTREAM = "gateway", "upstream"
MB = 1024 * 1024
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
    "RU5ErkJggg=="
)


@dataclass(frozen=True)
class Bad:
    """One bad request: its body (a function of the model) or raw bytes, and the answer."""

    name: str
    body: Callable[[str], Any] | None = None
    raw: bytes | None = None
    content_type: str = "application/json"
    status: int = 400
    kind: str = "invalid_request_error"
    where: str = GATEWAY
    # The models whose names start so: what only Anthropic checks is sent to GPT as a valid
    # OpenAI conversation, which the simulator's OpenAI format serves.
    only: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def base(name: str, **fields: Any) -> dict[str, Any]:
    body = {"model": name, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    return {**body, **fields}


def without(model: str, name: str) -> dict[str, Any]:
    body = base(model)
    del body[name]
    return body


def turns(model: str, *messages: dict[str, Any]) -> dict[str, Any]:
    return base(model, messages=list(messages))


def user(*blocks: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def image(source: Any) -> dict[str, Any]:
    return {"type": "image", "source": source}


def b64(media_type: str, data: Any) -> dict[str, Any]:
    return {"type": "base64", "media_type": media_type, "data": data}


def tool(**fields: Any) -> dict[str, Any]:
    spec = {"name": "lookup", "input_schema": {"type": "object"}, **fields}
    return {key: value for key, value in spec.items() if value is not None}


def nested(depth: int, leaf: Any = C) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def deep_dict(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "string", "description": C}
    for _ in range(depth):
        value = {"type": "object", "properties": {"x": value}}
    return value


HI = {"type": "text", "text": "hi"}
CALL = {"type": "tool_use", "id": "toolu_01", "name": "lookup", "input": {"q": "x"}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_01", "content": "found"}


def _m(name: str, body: Callable[[str], Any], **options: Any) -> Bad:
    return Bad(name, body=body, **options)


BAD: list[Bad] = [
    # The body itself.
    _m("body is an array", lambda m: [C, base(m)]),
    _m("body is a string", lambda m: C),
    _m("body is a number", lambda m: 5150),
    _m("body is null", lambda m: None),
    # model
    _m("model missing", lambda m: without(m, "model")),
    _m("model is a number", lambda m: base(m, model=5150)),
    _m("model is an object", lambda m: base(m, model={"id": C})),
    _m("model is empty", lambda m: base(m, model="")),
    _m("model is unknown", lambda m: base(m, model=C)),
    # messages and roles
    _m("messages missing", lambda m: without(m, "messages")),
    _m("messages is a string", lambda m: base(m, messages=C)),
    _m("messages is an object", lambda m: base(m, messages={"role": "user", "content": C})),
    _m("messages is empty", lambda m: base(m, messages=[])),
    _m("message is a string", lambda m: base(m, messages=[C])),
    _m("role system in messages", lambda m: turns(m, {"role": "system", "content": C})),
    _m("role unknown", lambda m: turns(m, {"role": C, "content": "hi"})),
    _m("role missing", lambda m: turns(m, {"content": C})),
    _m("role is a number", lambda m: turns(m, {"role": 1, "content": C})),
    _m("content missing", lambda m: turns(m, {"role": "user"})),
    _m("content is a number", lambda m: turns(m, {"role": "user", "content": 5150})),
    _m("content is an object", lambda m: turns(m, {"role": "user", "content": {"text": C}})),
    _m("user content is empty", lambda m: turns(m, {"role": "user", "content": ""})),
    _m("user content is no blocks", lambda m: turns(m, user())),
    _m(
        "an assistant turn in the middle is empty",
        lambda m: turns(m, user(HI), {"role": "assistant", "content": ""}, user(HI)),
    ),
    # content blocks
    _m("block is a string", lambda m: turns(m, user(C))),
    _m("block without a type", lambda m: turns(m, user({"text": C}))),
    _m("block type unknown", lambda m: turns(m, user({"type": C, "text": "x"}))),
    _m("block type is a number", lambda m: turns(m, user({"type": 7, "text": C}))),
    _m("text block text is a list", lambda m: turns(m, user({"type": "text", "text": [C]}))),
    _m("text block without text", lambda m: turns(m, user({"type": "text", "note": C}))),
    _m("image block in an assistant turn", lambda m: turns(m, user(HI), assistant(image(C)))),
    _m("tool_use block in a user turn", lambda m: turns(m, user(CALL))),
    _m(
        "unknown block in an assistant turn",
        lambda m: turns(m, user(HI), assistant({"type": C})),
    ),
    # tool use and results
    _m(
        "tool_result without tool_use_id",
        lambda m: turns(m, user(HI), assistant(CALL), user({"type": "tool_result", "content": C})),
    ),
    _m(
        "tool_result id is a number",
        lambda m: turns(m, user(HI), assistant(CALL), user({**RESULT, "tool_use_id": 1})),
    ),
    _m(
        "tool_result is_error is a string",
        lambda m: turns(m, user(HI), assistant(CALL), user({**RESULT, "is_error": C})),
    ),
    _m(
        "tool_result content is a number",
        lambda m: turns(m, user(HI), assistant(CALL), user({**RESULT, "content": 5150})),
    ),
    _m(
        "tool_result content block unknown",
        lambda m: turns(m, user(HI), assistant(CALL), user({**RESULT, "content": [{"type": C}]})),
    ),
    _m(
        "tool_result content block is a string",
        lambda m: turns(m, user(HI), assistant(CALL), user({**RESULT, "content": [C]})),
    ),
    _m(
        "tool_use input is a string",
        lambda m: turns(m, user(HI), assistant({**CALL, "input": C}), user(RESULT)),
    ),
    _m(
        "tool_use input is a list",
        lambda m: turns(m, user(HI), assistant({**CALL, "input": [C]}), user(RESULT)),
    ),
    _m(
        "tool_use without name",
        lambda m: turns(m, user(HI), assistant({**CALL, "name": None}), user(RESULT)),
    ),
    _m(
        "tool_use without id",
        lambda m: turns(m, user(HI), assistant({**CALL, "id": None}), user(RESULT)),
    ),
    # images and documents
    _m("image without source", lambda m: turns(m, user({"type": "image", "data": C}))),
    _m("image source is a string", lambda m: turns(m, user(image(C)))),
    _m("image source type unknown", lambda m: turns(m, user(image({"type": C})))),
    _m("image base64 data not base64", lambda m: turns(m, user(image(b64("image/png", C))))),
    _m(
        "image base64 data with junk after it",
        lambda m: turns(m, user(image(b64("image/png", PNG + "!" + C)))),
    ),
    _m("image base64 data is a number", lambda m: turns(m, user(image(b64("image/png", 5150))))),
    _m("image media type unsupported", lambda m: turns(m, user(image(b64(f"image/{C}", PNG))))),
    _m(
        "image media type missing", lambda m: turns(m, user(image({"type": "base64", "data": PNG})))
    ),
    _m("image url is a number", lambda m: turns(m, user(image({"type": "url", "url": 5150})))),
    _m(
        "document base64 not a PDF",
        lambda m: turns(m, user({"type": "document", "source": b64(f"text/{C}", PNG)})),
    ),
    _m(
        "document base64 data not base64",
        lambda m: turns(m, user({"type": "document", "source": b64("application/pdf", C)})),
    ),
    _m("document without source", lambda m: turns(m, user({"type": "document", "title": C}))),
    # max_tokens
    _m("max_tokens missing", lambda m: without(m, "max_tokens")),
    _m("max_tokens is 0", lambda m: base(m, max_tokens=0)),
    _m("max_tokens is negative", lambda m: base(m, max_tokens=-20)),
    _m("max_tokens is a string", lambda m: base(m, max_tokens="20")),
    _m("max_tokens is a float", lambda m: base(m, max_tokens=20.5)),
    _m("max_tokens is true", lambda m: base(m, max_tokens=True)),
    _m("max_tokens is null", lambda m: base(m, max_tokens=None)),
    _m("max_tokens is huge", lambda m: base(m, max_tokens=10**12)),
    _m("max_tokens past 64 bits", lambda m: base(m, max_tokens=2**70)),
    # the other fields
    _m("temperature is a string", lambda m: base(m, temperature=C)),
    _m("temperature above 1", lambda m: base(m, temperature=1.5)),
    _m("top_p is negative", lambda m: base(m, top_p=-0.5)),
    _m("stop_sequences is a string", lambda m: base(m, stop_sequences=C)),
    _m("stop_sequences holds a number", lambda m: base(m, stop_sequences=[C, 5])),
    _m("stream is a string", lambda m: base(m, stream=C)),
    _m("metadata is a string", lambda m: base(m, metadata=C)),
    _m("metadata.user_id is a number", lambda m: base(m, metadata={"user_id": 5150})),
    _m("system is a number", lambda m: base(m, system=5150)),
    _m("system block is an image", lambda m: base(m, system=[image(C)])),
    _m("system text is a number", lambda m: base(m, system=[{"type": "text", "text": 5}])),
    _m("tools is an object", lambda m: base(m, tools={"name": C})),
    _m("tool is a string", lambda m: base(m, tools=[C])),
    _m("tool without name", lambda m: base(m, tools=[tool(name=None, description=C)])),
    _m("tool name is a number", lambda m: base(m, tools=[tool(name=5150)])),
    _m("tool input_schema is a string", lambda m: base(m, tools=[tool(input_schema=C)])),
    _m("tool description is a list", lambda m: base(m, tools=[tool(description=[C])])),
    _m("tool strict is a string", lambda m: base(m, tools=[tool(strict=C)])),
    _m("tool type is a number", lambda m: base(m, tools=[tool(type=5)])),
    _m("tool_choice is a string", lambda m: base(m, tools=[tool()], tool_choice=C)),
    _m("tool_choice type unknown", lambda m: base(m, tools=[tool()], tool_choice={"type": C})),
    _m(
        "tool_choice tool without name",
        lambda m: base(m, tools=[tool()], tool_choice={"type": "tool"}),
    ),
    _m("thinking is a string", lambda m: base(m, thinking=C)),
    _m("thinking without type", lambda m: base(m, thinking={"budget_tokens": 2048})),
    _m(
        "thinking budget below the minimum",
        lambda m: base(m, max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 100}),
    ),
    _m(
        "thinking budget is a string",
        lambda m: base(m, thinking={"type": "enabled", "budget_tokens": C}),
    ),
    _m("output_config is a string", lambda m: base(m, output_config=C)),
    _m("output_config effort unknown", lambda m: base(m, output_config={"effort": C})),
    _m("output_config format is bad", lambda m: base(m, output_config={"format": {"type": C}})),
    # nesting
    _m("metadata nested 300 deep", lambda m: base(m, metadata={"user_id": "u", "x": nested(300)})),
    _m("tool schema nested 100 deep", lambda m: base(m, tools=[tool(input_schema=deep_dict(100))])),
    _m("text block nested 300 deep", lambda m: turns(m, user({**HI, "x": nested(300)}))),
    _m("unknown field nested 100 deep", lambda m: base(m, **{C: nested(100)})),
    # not JSON, or not a JSON object the gateway will read
    Bad("not JSON", raw=b'{"model": "gpt-4o-mini", "messages": [{"content": "' + C.encode()),
    Bad("invalid UTF-8", raw=b'{"model": "gpt-4o-mini", "x": "\xff\xfe' + C.encode() + b'"}'),
    Bad("lone surrogate", raw=b'{"model": "gpt-4o-mini", "x": "\\ud800' + C.encode() + b'"}'),
    Bad("NaN", raw=b'{"model": "gpt-4o-mini", "max_tokens": NaN, "x": "' + C.encode() + b'"}'),
    Bad("empty body", raw=b""),
    Bad("text/plain body", raw=C.encode(), content_type="text/plain", status=415),
    Bad(
        "form body",
        raw=b"model=" + C.encode(),
        content_type="application/x-www-form-urlencoded",
        status=415,
    ),
    Bad(
        "10 MB body",
        raw=b'{"model": "gpt-4o-mini", "x": "' + C.encode() * (10 * MB // len(C)) + b'"}',
        status=413,
        kind="request_too_large",
    ),
    # Well-formed, against a rule only the provider checks: admitted, sent once, refused.
    _m(
        "tool_result with no tool_use before it",
        lambda m: turns(m, user({**RESULT, "content": C}, HI)),
        where=UPSTREAM,
        only="claude",
    ),
    _m(
        "tool_use with no tool_result after it",
        lambda m: turns(m, user(HI), assistant(CALL), user({"type": "text", "text": C})),
        where=UPSTREAM,
        only="claude",
    ),
]
