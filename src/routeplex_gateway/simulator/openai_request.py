"""Reading an OpenAI Chat Completions request: validation like OpenAI's, then answer specs.

Validation covers what clients and gateways commonly get wrong, with OpenAI's own messages,
`param` and `code` (missing or empty `messages`, missing `model`, wrong types, bad roles, tool
and response-format shape, `stream_options` without `stream`). It is deliberately not a full
schema check: OpenAI-compatible servers accept more than OpenAI does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import orjson

from routeplex_gateway.simulator.answer import (
    AnswerSpec,
    JsonObjectOutput,
    JsonSchemaOutput,
    LastTurn,
    OutputMode,
    PromptMessage,
    TextOutput,
    ToolSpec,
    conversation_seed,
    count_prompt_tokens,
    digest,
    image_tokens,
)

ROLES = ("system", "assistant", "user", "function", "tool", "developer")
ROLES_NEEDING_CONTENT = ("system", "developer", "user", "tool")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
PARALLEL_WORD = re.compile(r"\bparallel\b", re.IGNORECASE)
NOT_JSON_MESSAGE = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using"
    " your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was"
    " not valid JSON. If you have trouble figuring out how to fix this, please visit"
    " https://platform.openai.com/docs/guides/error-codes/api-errors.)"
)


class RequestError(Exception):
    """A request OpenAI would reject: the pieces of its error envelope."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat request: what to answer and how to send it."""

    model: str
    stream: bool
    include_usage: bool
    include_obfuscation: bool
    seed: bytes
    specs: tuple[AnswerSpec, ...]
    prompt_tokens: int


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Validate a request body; raise RequestError as OpenAI would."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestError(NOT_JSON_MESSAGE) from None
    if not isinstance(body, dict):
        raise RequestError(NOT_JSON_MESSAGE)
    model = body.get("model")
    if model is None or model == "":
        raise RequestError("you must provide a model parameter")
    expect(body, "model", str, "a string")
    messages = _messages(body)
    tools = _tools(body)
    forced, use_tools, required = _tool_choice(body, tools)
    parallel_allowed = expect(body, "parallel_tool_calls", bool, "a boolean") is not False
    stream = expect(body, "stream", bool, "a boolean") is True
    options = expect(body, "stream_options", dict, "an object")
    if options is not None and not stream:
        raise RequestError(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    options = options or {}
    max_tokens = _positive(body, "max_completion_tokens")
    if max_tokens is None:
        max_tokens = _positive(body, "max_tokens")
    count = _positive(body, "n") or 1
    if count > 128:
        raise _out_of_range("n", count, below=False, limit=128)
    seed = conversation_seed(messages)
    # A system message after the user's (an agent's reminder: Claude Code sends one with every
    # turn) does not end the user's turn: the model still answers the user.
    last = next(
        (m for m in reversed(messages) if m["role"] not in ("system", "developer")), messages[-1]
    )
    last_turn = _last_turn(last["role"])
    wants_parallel = last_turn == "user" and bool(PARALLEL_WORD.search(_text_of(last)))
    base = AnswerSpec(
        seed=seed,
        model=model,
        last_turn=last_turn,
        tools=tools,
        use_tools=use_tools,
        tool_required=required,
        forced_tool=forced,
        tools_used=any(m.get("role") in ("tool", "function") for m in messages),
        parallel=parallel_allowed and wants_parallel,
        output=_output(body),
        max_tokens=max_tokens,
        stop=_stop(body),
    )
    specs = tuple(
        base if index == 0 else replace(base, seed=digest(seed, str(index).encode()))
        for index in range(count)
    )
    prompt = [_prompt_message(message) for message in messages]
    tool_texts = [orjson.dumps(tool).decode() for tool in body.get("tools") or []]
    return ChatRequest(
        model=model,
        stream=stream,
        include_usage=options.get("include_usage") is True,
        include_obfuscation=options.get("include_obfuscation") is not False,
        seed=seed,
        specs=specs,
        prompt_tokens=count_prompt_tokens(prompt, tool_texts),
    )


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "messages" not in body or body["messages"] is None:
        raise RequestError(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    messages: list[dict[str, Any]] = expect(body, "messages", list, "an array of objects")
    if not messages:
        raise _empty_array("messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise invalid_type(where, "an object", message)
        role = message.get("role")
        if role is None:
            raise missing(f"{where}.role")
        if role not in ROLES:
            supported = ", ".join(f"'{r}'" for r in ROLES[:-1]) + f", and '{ROLES[-1]}'"
            raise RequestError(
                f"Invalid value: '{role}'. Supported values are: {supported}.",
                f"{where}.role",
                "invalid_value",
            )
        if role in ROLES_NEEDING_CONTENT and message.get("content") is None:
            raise missing(f"{where}.content")
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise invalid_type(f"{where}.content", "a string or an array", content)
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise missing(f"{where}.tool_call_id")
    return messages


def _tools(body: dict[str, Any]) -> tuple[ToolSpec, ...]:
    tools = expect(body, "tools", list, "an array of objects")
    if tools == []:
        raise _empty_array("tools")
    specs = []
    for index, tool in enumerate(tools or []):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise invalid_type(where, "an object", tool)
        if tool.get("type") is None:
            raise missing(f"{where}.type")
        if tool["type"] != "function":
            continue  # custom tools exist, but the simulator only calls functions
        function = tool.get("function")
        if not isinstance(function, dict):
            raise missing(f"{where}.function")
        name = function.get("name")
        if not isinstance(name, str):
            raise missing(f"{where}.function.name")
        if not TOOL_NAME.match(name):
            raise RequestError(
                f"Invalid '{where}.function.name': string does not match pattern. Expected a"
                " string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                f"{where}.function.name",
                "invalid_value",
            )
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise invalid_type(f"{where}.function.parameters", "an object", parameters)
        specs.append(ToolSpec(name, parameters or {"type": "object", "properties": {}}))
    return tuple(specs)


def _tool_choice(
    body: dict[str, Any], tools: tuple[ToolSpec, ...]
) -> tuple[str | None, bool, bool]:
    """(forced tool name, whether tools may be used, whether some call is required)."""
    choice = body.get("tool_choice")
    if choice is None:
        return None, True, False
    if not body.get("tools"):
        raise RequestError(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are"
            " specified.",
            "tool_choice",
        )
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise RequestError(
                f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.",
                "tool_choice",
                "invalid_value",
            )
        return None, choice != "none", choice == "required"
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        allowed = choice.get("allowed_tools")
        mode = allowed.get("mode") if isinstance(allowed, dict) else None
        return None, True, mode == "required"
    function = choice.get("function") if isinstance(choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise missing("tool_choice.function.name")
    if name not in {tool.name for tool in tools}:
        raise RequestError(
            f"Invalid value for 'tool_choice': no function named '{name}' in 'tools'.",
            "tool_choice",
            "invalid_value",
        )
    return name, True, True


def _output(body: dict[str, Any]) -> OutputMode:
    response_format = expect(body, "response_format", dict, "an object")
    if response_format is None:
        return TextOutput()
    kind = response_format.get("type")
    if kind == "json_object":
        return JsonObjectOutput()
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict):
            raise missing("response_format.json_schema")
        if not isinstance(spec.get("name"), str):
            raise missing("response_format.json_schema.name")
        schema = spec.get("schema")
        return JsonSchemaOutput(schema if isinstance(schema, dict) else {})
    if kind == "text":
        return TextOutput()
    raise RequestError(
        f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object', and 'json_schema'.",
        "response_format.type",
        "invalid_value",
    )


def _stop(body: dict[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, list) and all(isinstance(item, str) for item in stop):
        return tuple(stop)
    raise invalid_type("stop", "a string or an array of strings", stop)


def _prompt_message(message: dict[str, Any]) -> PromptMessage:
    texts: list[str] = []
    images = 0
    content = message.get("content")
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            image = part.get("image_url")
            if isinstance(image, dict):
                images += image_tokens(image.get("detail"))
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            texts += [str(function.get("name", "")), str(function.get("arguments", ""))]
    name = message.get("name")
    return PromptMessage(
        message["role"], tuple(texts), images, name if isinstance(name, str) else None
    )


def _last_turn(role: str) -> LastTurn:
    if role == "user":
        return "user"
    return "tool" if role in ("tool", "function") else "other"


def _text_of(message: dict[str, Any]) -> str:
    return " ".join(_prompt_message(message).texts)


def expect(body: dict[str, Any], name: str, kind: type, wanted: str) -> Any:
    """`body[name]` if absent, null or of `kind`; otherwise OpenAI's invalid-type error
    (`wanted`: the type in its words, "an object")."""
    value = body.get(name)
    if value is None or isinstance(value, kind):
        return value
    raise invalid_type(name, wanted, value)


def _positive(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(name, "an integer", value)
    if value < 1:
        raise _out_of_range(name, value, below=True, limit=1)
    return value


def _out_of_range(name: str, value: int, *, below: bool, limit: int) -> RequestError:
    # Wording and code as in OpenAI's recorded range errors (`decimal_below_min_value`).
    side, word, relation = ("below", "min", ">=") if below else ("above", "max", "<=")
    return RequestError(
        f"Invalid '{name}': integer {side} {word}imum value. Expected a value {relation} {limit},"
        f" but got {value} instead.",
        name,
        f"integer_{side}_{word}_value",
    )


def _empty_array(param: str) -> RequestError:
    return RequestError(
        f"Invalid '{param}': empty array. Expected an array with minimum length 1,"
        " but got an empty array instead.",
        param,
        "empty_array",
    )


def missing(param: str) -> RequestError:
    """OpenAI's error for a required field that is absent."""
    return RequestError(
        f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    )


def invalid_type(param: str, expected: str, value: Any) -> RequestError:
    """OpenAI's error for a field of the wrong JSON type (its value is not quoted)."""
    return RequestError(
        f"Invalid type for '{param}': expected {expected}, but got {described(value)} instead.",
        param,
        "invalid_type",
    )


def described(value: Any) -> str:
    """A JSON value's type as OpenAI's errors name it ("an integer")."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"
