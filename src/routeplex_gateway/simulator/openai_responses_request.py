"""Reading an OpenAI Responses request (`POST /v1/responses`): validation like OpenAI's, then
the answer spec and what the response object echoes back.

Validation covers what a gateway translating into this format gets wrong, with OpenAI's own
messages, `param` and `code`: a field the API does not have (`messages`, `max_tokens`,
`stream_options` without `stream` — OpenAI answers `unknown_parameter`), a missing `model` or
`input`, input items of the wrong shape (`openai_responses_items`), function tools in Chat
Completions' nested shape (`tools[0].name` is missing), `tool_choice`, `text.format`, ranges
of `temperature` / `top_p` / `max_output_tokens`, `reasoning` on a model that does not
reason, and `previous_response_id` (this simulator, like a gateway that promises to store
nothing, keeps no responses: every id is unknown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from routeplex_gateway.simulator.answer import (
    AnswerSpec,
    JsonObjectOutput,
    JsonSchemaOutput,
    OutputMode,
    PromptMessage,
    TextOutput,
    ToolSpec,
    conversation_seed,
    count_prompt_tokens,
    is_reasoning_model,
)
from routeplex_gateway.simulator.openai_request import (
    NOT_JSON_MESSAGE,
    PARALLEL_WORD,
    RequestError,
    expect,
    invalid_type,
    missing,
)
from routeplex_gateway.simulator.openai_responses_format import echo_settings
from routeplex_gateway.simulator.openai_responses_items import (
    input_items,
    invalid_value,
    last_item,
    last_turn,
    prompt_message,
    text_of,
)

# `CreateResponse`'s fields in OpenAI's schema, and the two sampling penalties its answers
# echo; anything else is refused as OpenAI refuses it.
# fmt: off
KNOWN_FIELDS = frozenset((
    "background", "context_management", "conversation", "frequency_penalty", "include", "input",
    "instructions", "max_output_tokens", "max_tool_calls", "metadata", "model", "moderation",
    "parallel_tool_calls", "presence_penalty", "previous_response_id", "prompt",
    "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention", "reasoning",
    "safety_identifier", "service_tier", "store", "stream", "stream_options", "temperature",
    "text", "tool_choice", "tools", "top_logprobs", "top_p", "truncation", "user",
))
# fmt: on
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
MIN_OUTPUT_TOKENS = 16
ENCRYPTED_REASONING = "reasoning.encrypted_content"


@dataclass(frozen=True)
class ResponsesRequest:
    """A validated Responses request: what to answer, how to send it, what to echo."""

    model: str
    stream: bool
    include_obfuscation: bool
    spec: AnswerSpec
    prompt_tokens: int
    encrypted_reasoning: bool
    echo: dict[str, Any]  # the request's settings as the response object repeats them


def parse_responses_request(raw: bytes) -> ResponsesRequest:
    """Validate a request body; raise RequestError as OpenAI would."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestError(NOT_JSON_MESSAGE) from None
    if not isinstance(body, dict):
        raise RequestError(NOT_JSON_MESSAGE)
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise RequestError(f"Unknown parameter: '{unknown[0]}'.", unknown[0], "unknown_parameter")
    model = body.get("model")
    if model is None or model == "":
        raise missing("model")
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    if body.get("previous_response_id") is not None:
        raise RequestError(
            f"Previous response with id '{body['previous_response_id']}' not found.",
            "previous_response_id",
            "previous_response_not_found",
        )
    stream = expect(body, "stream", bool, "a boolean") is True
    options = expect(body, "stream_options", dict, "an object")
    if options is not None and not stream:
        raise RequestError(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    instructions = expect(body, "instructions", str, "a string")
    items = input_items(body)
    tools = _tools(body)
    forced, use_tools, required = _tool_choice(body, tools)
    parallel_allowed = expect(body, "parallel_tool_calls", bool, "a boolean") is not False
    _range(body, "temperature", 0, 2)
    _range(body, "top_p", 0, 1)
    max_tokens = _max_output_tokens(body)
    reasoning = _reasoning(body, model)
    include = expect(body, "include", list, "an array of strings") or []
    expect(body, "metadata", dict, "an object")
    expect(body, "user", str, "a string")
    expect(body, "store", bool, "a boolean")

    conversation = [item for item in items if item.get("type", "message") != "reasoning"]
    last = last_item(conversation)
    turn = last_turn(last)
    wants_parallel = turn == "user" and bool(PARALLEL_WORD.search(text_of(last)))
    spec = AnswerSpec(
        seed=conversation_seed([instructions, items]),
        model=model,
        last_turn=turn,
        tools=tools,
        use_tools=use_tools,
        tool_required=required,
        forced_tool=forced,
        tools_used=any(i.get("type") == "function_call_output" for i in conversation),
        parallel=parallel_allowed and wants_parallel,
        output=_output(body),
        max_tokens=max_tokens,
        reasoning=reasoning,
    )
    prompt = [prompt_message(item) for item in conversation]
    if instructions:
        prompt.insert(0, PromptMessage("developer", (instructions,)))
    tool_texts = [orjson.dumps(tool).decode() for tool in body.get("tools") or []]
    return ResponsesRequest(
        model=model,
        stream=stream,
        include_obfuscation=(options or {}).get("include_obfuscation") is not False,
        spec=spec,
        prompt_tokens=count_prompt_tokens(prompt, tool_texts),
        encrypted_reasoning=ENCRYPTED_REASONING in include,
        echo=echo_settings(body, reasoning=spec.reasoning or is_reasoning_model(model)),
    )


def _tools(body: dict[str, Any]) -> tuple[ToolSpec, ...]:
    tools = expect(body, "tools", list, "an array of objects") or []
    specs = []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise invalid_type(where, "an object", tool)
        if tool.get("type") is None:
            raise missing(f"{where}.type")
        if tool["type"] != "function":
            continue  # built-in tools exist, but the simulator only calls functions
        name = tool.get("name")
        if not isinstance(name, str):
            raise missing(f"{where}.name")  # Chat Completions' nested `function` shape
        if not TOOL_NAME.match(name):
            raise RequestError(
                f"Invalid '{where}.name': string does not match pattern. Expected a string that"
                " matches the pattern '^[a-zA-Z0-9_-]+$'.",
                f"{where}.name",
                "invalid_value",
            )
        parameters = tool.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise invalid_type(f"{where}.parameters", "an object", parameters)
        specs.append(ToolSpec(name, parameters or {"type": "object", "properties": {}}))
    return tuple(specs)


def _tool_choice(
    body: dict[str, Any], tools: tuple[ToolSpec, ...]
) -> tuple[str | None, bool, bool]:
    """(forced tool name, whether tools may be used, whether some call is required)."""
    choice = body.get("tool_choice")
    if choice is None:
        return None, True, False
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise invalid_value("tool_choice", choice, ("none", "auto", "required"))
        return None, choice != "none", choice == "required"
    if not isinstance(choice, dict):
        raise invalid_type("tool_choice", "a string or an object", choice)
    if choice.get("type") == "allowed_tools":
        return None, True, choice.get("mode") == "required"
    if choice.get("type") != "function":
        return None, True, True  # a built-in tool: the simulator calls none of those
    name = choice.get("name")
    if not isinstance(name, str):
        raise missing("tool_choice.name")
    if name not in {tool.name for tool in tools}:
        raise RequestError(
            f"Tool choice '{name}' not found in 'tools' parameter.", "tool_choice", None
        )
    return name, True, True


def _output(body: dict[str, Any]) -> OutputMode:
    text = expect(body, "text", dict, "an object")
    response_format = (text or {}).get("format")
    if response_format is None:
        return TextOutput()
    if not isinstance(response_format, dict):
        raise invalid_type("text.format", "an object", response_format)
    kind = response_format.get("type")
    if kind == "json_object":
        return JsonObjectOutput()
    if kind == "json_schema":
        # The Responses shape: name and schema beside the type, not under `json_schema`.
        if not isinstance(response_format.get("name"), str):
            raise missing("text.format.name")
        schema = response_format.get("schema")
        if not isinstance(schema, dict):
            raise missing("text.format.schema")
        return JsonSchemaOutput(schema)
    if kind == "text":
        return TextOutput()
    raise invalid_value("text.format.type", kind, ("text", "json_schema", "json_object"))


def _reasoning(body: dict[str, Any], model: str) -> bool | None:
    reasoning = expect(body, "reasoning", dict, "an object")
    if not reasoning or reasoning.get("effort") is None:
        return None
    if not is_reasoning_model(model):
        raise RequestError(
            "Unsupported parameter: 'reasoning.effort' is not supported with this model.",
            "reasoning.effort",
            "unsupported_parameter",
        )
    efforts = ("none", "minimal", "low", "medium", "high", "xhigh")
    if reasoning["effort"] not in efforts:
        raise invalid_value("reasoning.effort", reasoning["effort"], efforts)
    return bool(reasoning["effort"] != "none")


def _max_output_tokens(body: dict[str, Any]) -> int | None:
    value = body.get("max_output_tokens")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type("max_output_tokens", "an integer", value)
    if value < MIN_OUTPUT_TOKENS:
        raise RequestError(
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >="
            f" {MIN_OUTPUT_TOKENS}, but got {value} instead.",
            "max_output_tokens",
            "integer_below_min_value",
        )
    return value


def _range(body: dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_type(name, "a number", value)
    # Wording and code as in the recorded 400 (responses_error_400_invalid_param.yaml).
    if value < low:
        side, word, relation, limit = "below", "min", ">=", low
    elif value > high:
        side, word, relation, limit = "above", "max", "<=", high
    else:
        return
    raise RequestError(
        f"Invalid '{name}': decimal {side} {word}imum value. Expected a value {relation}"
        f" {limit:g}, but got {value:g} instead.",
        name,
        f"decimal_{side}_{word}_value",
    )
