"""An OpenAI Chat Completions body → the canonical `ChatRequest` (the OpenAI surface's decode,
and the native API's, whose messages are OpenAI's).

The body has passed its schema (`schemas/openai_chat.py`) by then, so this only maps it; the
structure stays one to one, so a provider's error about the canonical `messages[i]…` names
the caller's own field:

* each message is one canonical message (`developer` → system; `tool` and the legacy
  `function` → a tool message of one result), each content part one part, and an
  assistant's `tool_calls` its `ToolCall` parts after its content (arguments kept as text);
* `image_url` → `Image`, `input_audio` → `Audio`, `file` with `file_data` → `Document`; a
  part of another type (a Files API `file_id`, a type newer than this code) → `Opaque` for
  OpenAI-shaped upstreams only;
* a part's or tool's `cache_control` (as LiteLLM takes it) → its `CacheMark`;
* function tools → `Tool`; other tool types → `Opaque`;
* `max_completion_tokens` (else the legacy `max_tokens`) is the output cap;
  `parallel_tool_calls` rides on the tool choice, `reasoning_effort` on `Reasoning`,
  `user` (else `safety_identifier`) is the end user, `prediction` the predicted output.

The body itself rides along as the `NativeRequest` an OpenAI-shaped upstream forwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

import orjson

from ..canonical import (
    Audio,
    CacheMark,
    ChatRequest,
    Document,
    Effort,
    Image,
    Media,
    Message,
    NativeRequest,
    Opaque,
    Part,
    Reasoning,
    Refusal,
    ResponseFormat,
    ResultPart,
    Role,
    Sampling,
    Text,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)

WIRE = "openai"
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[^,;]*)*?);base64,(.*)$", re.DOTALL)
_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}
_EFFORTS = ("none", "minimal", "low", "medium", "high")


def media_of_url(url: str) -> Media:
    """A URL as canonical media: a `data:…;base64,…` URL inline, any other by reference."""
    match = _DATA_URL.match(url)
    if match is None:
        return Media(media_type=None, url=url)
    return Media(media_type=match.group(1) or "application/octet-stream", data=match.group(3))


# The fields that turn on more than a conversation. Most requests carry none of them, and
# then their readers (each of which would return its "absent" value) are not called.
_FEATURES = frozenset(
    ("tools", "functions", "tool_choice", "parallel_tool_calls", "response_format",
     "reasoning_effort", "user", "safety_identifier", "prediction")
)  # fmt: skip


def decode(body: dict[str, Any], *, stream: bool, max_output_tokens: int | None) -> ChatRequest:
    """The validated OpenAI body as the canonical request (with the body as its native form)."""
    request = ChatRequest(
        messages=decode_messages(body.get("messages") or []),
        stream=stream,
        max_output_tokens=max_output_tokens,
        sampling=_sampling(body),
        native=NativeRequest(WIRE, body),
    )
    if not _FEATURES.isdisjoint(body):
        request.tools = _tools(body)
        request.tool_choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        request.response_format = _response_format(body.get("response_format"))
        request.reasoning = _reasoning(body.get("reasoning_effort"))
        request.user = _first_str(body, "user", "safety_identifier")
        request.prediction = _prediction(body.get("prediction"))
    return request


def decode_messages(messages: list[Any]) -> list[Message]:
    return [_message(message, i) for i, message in enumerate(messages) if isinstance(message, dict)]


def _message(message: dict[str, Any], index: int) -> Message:
    role = _ROLES.get(str(message.get("role")), "user")
    name = message.get("name") if isinstance(message.get("name"), str) else None
    content = message.get("content")
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str):
            call_id = name or ""  # the legacy `function` role names the function instead
        result = ToolResult(call_id=call_id, parts=tuple(_result_part(p) for p in _parts(content)))
        return Message("tool", (result,), name)
    if isinstance(content, str) and role != "assistant":  # most turns: one text
        return Message(role, (Text(content),) if content else (), name)
    parts: list[Part] = [_part(part, index, i) for i, part in enumerate(_parts(content))]
    if role == "assistant":
        refusal = message.get("refusal")
        if isinstance(refusal, str) and refusal:
            parts.append(Refusal(refusal))
        parts += [_call(call) for call in message.get("tool_calls") or () if isinstance(call, dict)]
        legacy = message.get("function_call")
        if isinstance(legacy, dict) and isinstance(legacy.get("name"), str):
            parts.append(
                ToolCall(id="", name=legacy["name"], arguments=_text(legacy.get("arguments")))
            )
    return Message(role, tuple(parts), name)


def _parts(content: Any) -> list[Any]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content) if isinstance(content, list) else []


def _cache(part: Any) -> CacheMark | None:
    mark = part.get("cache_control") if isinstance(part, dict) else None
    if not isinstance(mark, dict):
        return None
    ttl = mark.get("ttl")
    return CacheMark(ttl if isinstance(ttl, str) else None)


def _part(part: Any, message: int | None, index: int) -> Part:
    """`message` None: a part of a tool result (the path of an opaque one is not kept)."""
    if not isinstance(part, dict):
        return Opaque(WIRE, part, _where(message, index))
    kind = part.get("type")
    cache = _cache(part)
    if kind == "text" and isinstance(part.get("text"), str):
        return Text(part["text"], cache)
    if kind == "refusal" and isinstance(part.get("refusal"), str):
        return Refusal(part["refusal"])
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        detail = image.get("detail") if isinstance(image, dict) else None
        if isinstance(url, str) and url:
            return Image(
                media=media_of_url(url), detail=detail if isinstance(detail, str) else None,
                cache=cache,
            )  # fmt: skip
    if kind == "input_audio":
        audio = part.get("input_audio")
        if isinstance(audio, dict) and isinstance(audio.get("data"), str):
            media = Media(media_type=f"audio/{audio.get('format') or 'wav'}", data=audio["data"])
            return Audio(media=media, cache=cache)
    if kind == "file":
        file = part.get("file")
        data = file.get("file_data") if isinstance(file, dict) else None
        if isinstance(data, str) and data:
            filename = file.get("filename") if isinstance(file, dict) else None
            return Document(
                media=media_of_url(data),
                filename=filename if isinstance(filename, str) else None,
                cache=cache,
            )
    return Opaque(WIRE, part, _where(message, index))


def _where(message: int | None, index: int) -> str:
    return "" if message is None else f"messages[{message}].content[{index}]"


def _result_part(part: Any) -> ResultPart:
    decoded = _part(part, None, 0)
    if isinstance(decoded, Text | Image | Document | Opaque):
        return decoded
    return Opaque(WIRE, part)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else orjson.dumps(value).decode()


def _call(call: dict[str, Any]) -> ToolCall:
    function = call.get("function")
    function = function if isinstance(function, dict) else {}
    call_id, name = call.get("id"), function.get("name")
    return ToolCall(
        id=call_id if isinstance(call_id, str) else "",
        name=name if isinstance(name, str) else "",
        arguments=_text(function.get("arguments")),
        cache=_cache(call),
    )


def _tool(tool: Any, index: int) -> Tool | Opaque:
    function = tool.get("function") if isinstance(tool, dict) else None
    if (
        not isinstance(tool, dict)
        or tool.get("type") != "function"
        or not isinstance(function, dict)
        or not isinstance(function.get("name"), str)
    ):
        return Opaque(WIRE, tool, f"tools[{index}]")
    description = function.get("description")
    parameters = function.get("parameters")
    strict = function.get("strict")
    return Tool(
        name=function["name"],
        description=description if isinstance(description, str) else None,
        parameters=parameters if isinstance(parameters, dict) else None,
        strict=strict if isinstance(strict, bool) else None,
        cache=_cache(tool) or _cache(function),
    )


def _tools(body: dict[str, Any]) -> tuple[Tool | Opaque, ...]:
    tools = [_tool(tool, i) for i, tool in enumerate(body.get("tools") or ())]
    # The legacy `functions` are function tools by another name.
    legacy = body.get("functions") or ()
    tools += [_tool({"type": "function", "function": f}, i) for i, f in enumerate(legacy)]
    return tuple(tools)


def _tool_choice(choice: Any, parallel: Any) -> ToolChoice | None:
    flag = parallel if isinstance(parallel, bool) else None
    if choice in ("auto", "none", "required"):
        return ToolChoice(choice, (), flag)
    if isinstance(choice, dict):
        if choice.get("type") == "allowed_tools":
            allowed = choice.get("allowed_tools")
            allowed = allowed if isinstance(allowed, dict) else {}
            names = tuple(
                t["function"]["name"]
                for t in allowed.get("tools") or ()
                if isinstance(t, dict) and isinstance(t.get("function"), dict)
            )
            return ToolChoice(
                "required" if allowed.get("mode") == "required" else "auto", names, flag
            )
        function = choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return ToolChoice("required", (function["name"],), flag)
    return ToolChoice("auto", (), flag) if flag is not None else None


def _response_format(value: Any) -> ResponseFormat | None:
    if not isinstance(value, dict):
        return None
    if value.get("type") == "json_object":
        return ResponseFormat()
    spec = value.get("json_schema")
    if value.get("type") == "json_schema" and isinstance(spec, dict):
        schema, name, strict = spec.get("schema"), spec.get("name"), spec.get("strict")
        return ResponseFormat(
            schema=schema if isinstance(schema, dict) else {},
            name=name if isinstance(name, str) else None,
            strict=strict if isinstance(strict, bool) else None,
        )
    return None


def _reasoning(effort: Any) -> Reasoning | None:
    if effort in _EFFORTS:
        return Reasoning(effort=cast(Effort, effort))
    return None


def _stop(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(s for s in value if isinstance(s, str) and s)
    return ()


def _number(value: Any) -> float | None:
    # By exact type: a JSON number is an int or a float, and a bool is neither here.
    return value if type(value) is float or type(value) is int else None


def _integer(value: Any) -> int | None:
    return value if type(value) is int else None


# How each sampling field is read (the schema has checked its type already).
_SAMPLING_FIELDS: dict[str, Callable[[Any], Any]] = {
    "temperature": _number,
    "top_p": _number,
    "top_k": _integer,
    "stop": _stop,
    "seed": _integer,
    "frequency_penalty": _number,
    "presence_penalty": _number,
    "n": _integer,
    "logprobs": lambda value: value is True,
    "top_logprobs": _integer,
}


def _sampling(body: dict[str, Any]) -> Sampling:
    # Only the fields present are read: most requests carry one or two of the ten.
    present = _SAMPLING_FIELDS.keys() & body.keys()
    if not present:
        return Sampling()
    return Sampling(**{name: _SAMPLING_FIELDS[name](body[name]) for name in present})


def _first_str(body: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = body.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _prediction(value: Any) -> str | None:
    content = value.get("content") if isinstance(value, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return None
