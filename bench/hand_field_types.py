"""The baseline of `bench.validation`: `api/field_types.py` as it was before the request
schemas became typed models (commit 1306225), frozen here to be measured against them.

The types OpenAI's schema gives the chat request's fields that the gateway passes through
without reading them: checked before admission, because a field of the wrong type would
otherwise be forwarded and refused by the provider after the gateway had reserved for it —
or, by a lenient provider, quietly ignored.

Covered: every top-level field of `CreateChatCompletionRequest` not checked in
`validation.py`, and the fields of a message, of its tool calls and of its content parts.
Only types and the bounds OpenAI documents: enums that grow with new models
(`reasoning_effort`, `service_tier`, a content part's `type`, …) are left to the provider, and
a field that is null counts as absent, as everywhere in validation. A message names the field
and what it takes — never its value, nor a key of the caller's (a `logit_bias` token id, a
`metadata` key).
"""

from __future__ import annotations

from typing import Any

from routeplex_gateway.errors import GatewayError, validation

_STRINGS = (
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "reasoning_effort",
    "service_tier",
    "verbosity",
)
_BOOLEANS = ("logprobs", "store", "parallel_tool_calls")
_OBJECTS = ("web_search_options", "moderation", "prompt_cache_options")
_STRINGS_OR_OBJECTS = ("tool_choice", "function_call")
_INT64 = 2**63
_LOGIT_BIAS = 100
_TOP_LOGPROBS = 20
# OpenAI's bounds on `metadata`: 16 pairs, keys of 64 characters, values of 512.
_METADATA_PAIRS, _METADATA_KEY, _METADATA_VALUE = 16, 64, 512


def wrong(param: str, takes: str) -> GatewayError:
    return validation(f"'{param}' must be {takes}.", param)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string_if_set(container: dict[str, Any], name: str, where: str) -> None:
    value = container.get(name)
    if value is not None and not isinstance(value, str):
        raise wrong(f"{where}.{name}" if where else name, "a string")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def check_request_fields(body: dict[str, Any]) -> None:
    """The pass-through top-level fields of an OpenAI chat request, by OpenAI's schema."""
    for name in _STRINGS:
        _string_if_set(body, name, "")
    for name, allowed, takes in (
        *((n, bool, "a boolean") for n in _BOOLEANS),
        *((n, dict, "an object") for n in _OBJECTS),
        *((n, str | dict, "a string or an object") for n in _STRINGS_OR_OBJECTS),
    ):
        value = body.get(name)
        if value is not None and not isinstance(value, allowed):
            raise wrong(name, takes)
    _ranged(body, "top_logprobs", 0, _TOP_LOGPROBS)
    _ranged(body, "seed", -_INT64, _INT64 - 1)
    _logit_bias(body.get("logit_bias"))
    _metadata(body.get("metadata"))
    modalities = body.get("modalities")
    if modalities is not None and not _strings(modalities):
        raise wrong("modalities", "an array of strings")
    stop = body.get("stop")
    if stop is not None and not (isinstance(stop, str) or _strings(stop)):
        raise wrong("stop", "a string or an array of strings")
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise wrong("stream_options", "an object")
        for name in ("include_usage", "include_obfuscation"):
            if options.get(name) is not None and not isinstance(options[name], bool):
                raise wrong(f"stream_options.{name}", "a boolean")
    _tools(body.get("tools"))
    _functions(body.get("functions"))
    _prediction(body.get("prediction"))
    _named_choice(body.get("tool_choice"), "tool_choice")
    _named_choice(body.get("function_call"), "function_call")
    _json_schema(body.get("response_format"))
    audio = body.get("audio")
    if audio is not None and not (
        isinstance(audio, dict)
        and isinstance(audio.get("voice"), str | dict)
        and isinstance(audio.get("format"), str)
    ):
        raise wrong("audio", "an object with a 'voice' and a 'format' string")


def _named_choice(choice: Any, name: str) -> None:
    """A choice naming a function: `{"type": "function", "function": {"name": …}}` (or the
    legacy `function_call`'s `{"name": …}`)."""
    if not isinstance(choice, dict):
        return
    _string_if_set(choice, "type", name)
    if name == "function_call":
        if not isinstance(choice.get("name"), str):
            raise wrong(f"{name}.name", "a string")
    elif "function" in choice or choice.get("type") == "function":
        function = choice.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise wrong(f"{name}.function", "an object with a 'name' string")


def _json_schema(response_format: Any) -> None:
    """`response_format`: an object with a `type`, and what a `json_schema` one needs."""
    if response_format is None:
        return
    if not isinstance(response_format, dict) or not isinstance(response_format.get("type"), str):
        raise wrong("response_format", "an object with a 'type' string")
    if response_format.get("type") != "json_schema":
        return
    spec = response_format.get("json_schema")
    where = "response_format.json_schema"
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise wrong(where, "an object with a 'name' string")
    schema = spec.get("schema")
    if schema is not None and not isinstance(schema, dict):
        raise wrong(f"{where}.schema", "an object (a JSON schema)")
    strict = spec.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise wrong(f"{where}.strict", "a boolean")


def _ranged(body: dict[str, Any], name: str, low: int, high: int) -> None:
    value = body.get(name)
    if value is not None and not (_integer(value) and low <= value <= high):
        raise wrong(name, f"an integer from {low} to {high}")


def _logit_bias(bias: Any) -> None:
    if bias is None:
        return
    if not isinstance(bias, dict) or not all(
        key.isascii()
        and key.isdecimal()
        and _integer(value)
        and -_LOGIT_BIAS <= value <= _LOGIT_BIAS
        for key, value in bias.items()
    ):
        raise wrong(
            "logit_bias",
            f"an object mapping token ids (strings of digits) to integers from -{_LOGIT_BIAS} "
            f"to {_LOGIT_BIAS}",
        )


def _metadata(metadata: Any) -> None:
    if metadata is None:
        return
    if not (
        isinstance(metadata, dict)
        and len(metadata) <= _METADATA_PAIRS
        and all(
            len(key) <= _METADATA_KEY and isinstance(value, str) and len(value) <= _METADATA_VALUE
            for key, value in metadata.items()
        )
    ):
        raise wrong(
            "metadata",
            f"an object of at most {_METADATA_PAIRS} string values (keys of at most "
            f"{_METADATA_KEY} characters, values of at most {_METADATA_VALUE})",
        )


def _function(function: Any, where: str) -> None:
    """A function definition: `name`, and `description`, `parameters`, `strict` if set."""
    if not isinstance(function, dict):
        raise wrong(where, "an object with a 'name' string")
    if not isinstance(function.get("name"), str):
        raise wrong(f"{where}.name", "a string")
    _string_if_set(function, "description", where)
    parameters = function.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise wrong(f"{where}.parameters", "an object (a JSON schema)")
    strict = function.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise wrong(f"{where}.strict", "a boolean")


def _tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise wrong("tools", "an array of tool objects")
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise wrong(where, "a tool object")
        kind = tool.get("type")
        if not isinstance(kind, str):
            raise wrong(f"{where}.type", "a string ('function' or 'custom')")
        if kind == "function":
            _function(tool.get("function"), f"{where}.function")
        elif kind == "custom":
            custom = tool.get("custom")
            if not isinstance(custom, dict) or not isinstance(custom.get("name"), str):
                raise wrong(f"{where}.custom", "an object with a 'name' string")


def _functions(functions: Any) -> None:
    if functions is None:
        return
    if not isinstance(functions, list):
        raise wrong("functions", "an array of function objects")
    for index, function in enumerate(functions):
        _function(function, f"functions[{index}]")


def _prediction(prediction: Any) -> None:
    if prediction is None:
        return
    content = prediction.get("content") if isinstance(prediction, dict) else None
    if not (
        isinstance(prediction, dict)
        and prediction.get("type") == "content"
        and (
            isinstance(content, str)
            or (
                isinstance(content, list)
                and content
                and all(
                    isinstance(part, dict)
                    and part.get("type") == "text"
                    and isinstance(part.get("text"), str)
                    for part in content
                )
            )
        )
    ):
        raise wrong(
            "prediction",
            "an object with 'type': 'content' and a 'content' that is a string or an array "
            "of text parts",
        )


def check_message_fields(message: dict[str, Any], where: str) -> None:
    """A message's fields besides `role` and `content`'s shape (checked in validation)."""
    for name in ("name", "tool_call_id", "refusal"):
        _string_if_set(message, name, where)
    content = message.get("content")
    if isinstance(content, list):
        for index, part in enumerate(content):
            _part(part, f"{where}.content[{index}]")
    for index, call in enumerate(message.get("tool_calls") or ()):
        _tool_call(call, f"{where}.tool_calls[{index}]")
    function_call = message.get("function_call")
    if function_call is not None:
        _call_function(function_call, f"{where}.function_call")
    audio = message.get("audio")
    if audio is not None and not (isinstance(audio, dict) and isinstance(audio.get("id"), str)):
        raise wrong(f"{where}.audio", "an object with an 'id' string")


def _part(part: dict[str, Any], where: str) -> None:
    """A content part of a type OpenAI defines (other types are the provider's to judge)."""
    kind = part["type"]
    if kind in ("text", "refusal"):
        if not isinstance(part.get(kind), str):
            raise wrong(f"{where}.{kind}", "a string")
    elif kind == "image_url":
        image = part.get("image_url")
        if isinstance(image, dict):
            if not isinstance(image.get("url"), str):
                raise wrong(f"{where}.image_url", "a URL string or an object with a 'url' string")
            _string_if_set(image, "detail", f"{where}.image_url")
        elif not isinstance(image, str):
            raise wrong(f"{where}.image_url", "a URL string or an object with a 'url' string")
    elif kind == "input_audio":
        audio = part.get("input_audio")
        if not (
            isinstance(audio, dict)
            and isinstance(audio.get("data"), str)
            and isinstance(audio.get("format"), str)
        ):
            raise wrong(f"{where}.input_audio", "an object with 'data' and 'format' strings")
    elif kind == "file":
        file = part.get("file")
        if not isinstance(file, dict):
            raise wrong(f"{where}.file", "an object")
        for name in ("filename", "file_data", "file_id"):
            _string_if_set(file, name, f"{where}.file")


def _tool_call(call: dict[str, Any], where: str) -> None:
    _string_if_set(call, "id", where)
    _string_if_set(call, "type", where)
    if call.get("type", "function") == "function":
        _call_function(call.get("function"), f"{where}.function")
    elif call.get("type") == "custom":
        custom = call.get("custom")
        if not (
            isinstance(custom, dict)
            and isinstance(custom.get("name"), str)
            and isinstance(custom.get("input"), str)
        ):
            raise wrong(f"{where}.custom", "an object with 'name' and 'input' strings")


def _call_function(function: Any, where: str) -> None:
    """A call's function: its `name`, and its `arguments` — JSON text, as OpenAI takes them
    (the translating providers also take the object itself)."""
    if not isinstance(function, dict):
        raise wrong(where, "an object with 'name' and 'arguments'")
    if not isinstance(function.get("name"), str):
        raise wrong(f"{where}.name", "a string")
    arguments = function.get("arguments")
    if arguments is not None and not isinstance(arguments, str | dict):
        raise wrong(f"{where}.arguments", "a string of JSON")
