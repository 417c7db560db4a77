"""Reading a Gemini `generateContent` request: validation like Gemini's, then an answer spec.

Field names are accepted in both spellings the API takes (`functionCall` / `function_call`).
Validation covers what a translating gateway is most likely to get wrong, with Gemini's own
messages: empty or missing `contents`, roles other than `user` / `model`, empty parts, a
function-response turn that does not follow a function-call turn (or answers a different
number of calls), `temperature` outside 0–2, function calling with a JSON response type
before Gemini 3, and — on Gemini 3 models — function calls of the current turn sent back
without their `thoughtSignature`.

Thinking: models named `gemini-2.5*` or `gemini-3*` think by default; on the flash models
thinking is optional and `thinkingConfig.thinkingBudget: 0` turns it off, while pro models
refuse a zero budget. `includeThoughts` adds a thought-summary part to the answer.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
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
    image_tokens,
)

THINKING_MODELS = re.compile(r"gemini-(2\.5|[3-9])")
SIGNATURE_MODELS = re.compile(r"gemini-[3-9]")
SKIP_SIGNATURE = "skip_thought_signature_validator"
PARALLEL_WORD = re.compile(r"\bparallel\b", re.IGNORECASE)
_SNAKE = re.compile(r"_([a-z])")


class RequestError(Exception):
    """A request Gemini would reject with 400 `INVALID_ARGUMENT`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class GenerateRequest:
    """A validated request: what to answer, and whether to show a thought summary."""

    spec: AnswerSpec
    prompt_tokens: int
    include_thoughts: bool
    # Tokens of media parts by modality (IMAGE, AUDIO, VIDEO); the rest of the prompt is TEXT.
    media_tokens: tuple[tuple[str, int], ...] = ()


def camel(value: Any) -> Any:
    """Keys in camelCase, recursively, except inside free-form values (args, schemas)."""
    if isinstance(value, list):
        return [camel(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        name = _SNAKE.sub(lambda m: m.group(1).upper(), key)
        free_form = name in (
            "args",
            "response",
            "parameters",
            "parametersJsonSchema",
            "responseSchema",
            "responseJsonSchema",
        )
        out[name] = item if free_form else camel(item)
    return out


def parse_generate_request(raw: bytes, model: str) -> GenerateRequest:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestError("Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(body, dict):
        raise RequestError("Invalid JSON payload received. Expected an object.")
    body = camel(body)
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise RequestError("* GenerateContentRequest.contents: contents is not specified\n")
    for index, content in enumerate(contents):
        _check_content(contents, index, content)
    if SIGNATURE_MODELS.search(model):
        _check_signatures(contents)
    config = body.get("generationConfig") or {}
    temperature = config.get("temperature")
    if isinstance(temperature, int | float) and not 0 <= temperature <= 2:
        raise RequestError(
            "* GenerateContentRequest.generation_config.temperature: temperature must be in the"
            " range [0.0, 2.0]\n"
        )
    tools = _tools(body.get("tools"))
    if tools and config.get("responseMimeType") and not SIGNATURE_MODELS.search(model):
        # Gemini 2.x cannot combine function calling with a JSON response type.
        raise RequestError(
            "Function calling with a response mime type: 'application/json' is unsupported"
        )
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    allowed = calling.get("allowedFunctionNames") or []
    forced = allowed[0] if calling.get("mode") == "ANY" and len(allowed) == 1 else None
    thinking, include_thoughts = _thinking(config.get("thinkingConfig"), model)
    system = " ".join(
        str(p.get("text", "")) for p in (body.get("systemInstruction") or {}).get("parts") or []
    )
    last = contents[-1]
    last_turn = _last_turn(last)
    spec = AnswerSpec(
        seed=conversation_seed({"system": system, "contents": contents}),
        model=model,
        last_turn=last_turn,
        tools=tools,
        use_tools=calling.get("mode") != "NONE",
        tool_required=calling.get("mode") == "ANY",
        forced_tool=forced,
        tools_used=any(_kinds(c, "functionResponse") for c in contents),
        parallel=last_turn == "user" and bool(PARALLEL_WORD.search(" ".join(_texts(last)))),
        output=_output(config),
        max_tokens=config.get("maxOutputTokens"),
        stop=tuple(config.get("stopSequences") or ()),
        reasoning=thinking,
    )
    prompt = [PromptMessage("system", (system,))] if system else []
    prompt += [_prompt_message(content) for content in contents]
    tool_texts = [orjson.dumps(tool).decode() for tool in body.get("tools") or []]
    return GenerateRequest(
        spec, count_prompt_tokens(prompt, tool_texts), include_thoughts, _media_tokens(contents)
    )


def _media_tokens(contents: list[Any]) -> tuple[tuple[str, int], ...]:
    """Media tokens by modality, from each media part's MIME type (each part costs as one
    image does in the prompt count)."""
    by_modality: dict[str, int] = {}
    for content in contents:
        for part in _parts(content):
            media = part.get("inlineData") or part.get("fileData")
            if not isinstance(media, dict):
                continue
            kind = str(media.get("mimeType", "")).split("/")[0].upper()
            modality = kind if kind in ("AUDIO", "VIDEO", "IMAGE") else "DOCUMENT"
            by_modality[modality] = by_modality.get(modality, 0) + image_tokens(None)
    return tuple(sorted(by_modality.items()))


def _parts(content: Any) -> list[dict[str, Any]]:
    parts = content.get("parts") if isinstance(content, dict) else None
    return [p for p in parts or [] if isinstance(p, dict)]


def _kinds(content: Any, kind: str) -> list[dict[str, Any]]:
    return [p[kind] for p in _parts(content) if isinstance(p.get(kind), dict)]


def _check_content(contents: list[Any], index: int, content: Any) -> None:
    if not isinstance(content, dict):
        raise RequestError(f"* GenerateContentRequest.contents[{index}]: must be an object\n")
    if content.get("role", "user") not in ("user", "model"):
        raise RequestError("Please use a valid role: user, model.")
    if not _parts(content):
        raise RequestError(
            f"* GenerateContentRequest.contents[{index}].parts: contents.parts must not be empty.\n"
        )
    responses = _kinds(content, "functionResponse")
    if responses:
        calls = _kinds(contents[index - 1], "functionCall") if index > 0 else []
        if not calls or contents[index - 1].get("role") != "model":
            raise RequestError(
                "Please ensure that function response turn comes immediately after a function"
                " call turn."
            )
        if len(responses) != len(calls):
            raise RequestError(
                "Please ensure that the number of function response parts is equal to the number"
                " of function call parts of the function call turn."
            )


def _check_signatures(contents: list[Any]) -> None:
    """Gemini 3: each step of the current turn must carry its first call's signature."""
    start = 0
    for index, content in enumerate(contents):
        if content.get("role", "user") == "user" and any("text" in p for p in _parts(content)):
            start = index + 1
    for content in contents[start:]:
        calls = [p for p in _parts(content) if isinstance(p.get("functionCall"), dict)]
        if content.get("role") != "model" or not calls:
            continue
        signature = calls[0].get("thoughtSignature")
        if not (signature == SKIP_SIGNATURE or _is_base64(signature)):
            name = calls[0]["functionCall"].get("name")
            raise RequestError(
                "Function call is missing a thought_signature in functionCall parts. This is"
                " required for tools to work correctly, and missing thought_signature may lead to"
                f" degraded model performance. Additional data, function call `default_api:{name}`"
                " , position 1. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures"
                " for more details."
            )


def _is_base64(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _tools(tools: Any) -> tuple[ToolSpec, ...]:
    specs = []
    for tool in tools or []:
        for declaration in (tool or {}).get("functionDeclarations") or []:
            schema = declaration.get("parametersJsonSchema") or _lower_types(
                declaration.get("parameters") or {"type": "object"}
            )
            specs.append(ToolSpec(str(declaration.get("name")), schema))
    return tuple(specs)


def _lower_types(schema: Any) -> Any:
    """Gemini's OpenAPI subset (`type: OBJECT`) as JSON Schema (`type: object`)."""
    if isinstance(schema, list):
        return [_lower_types(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: value.lower() if key == "type" and isinstance(value, str) else _lower_types(value)
        for key, value in schema.items()
    }


def _output(config: dict[str, Any]) -> OutputMode:
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    if isinstance(schema, dict):
        return JsonSchemaOutput(_lower_types(schema))
    if config.get("responseMimeType") == "application/json":
        return JsonObjectOutput()
    return TextOutput()


def _thinking(config: Any, model: str) -> tuple[bool, bool]:
    config = config if isinstance(config, dict) else {}
    if not THINKING_MODELS.search(model):
        return False, False
    budget = config.get("thinkingBudget")
    if budget == 0 and "-pro" in model:
        raise RequestError("Budget 0 is invalid. This model only works in thinking mode.")
    thinks = budget != 0
    return thinks, thinks and config.get("includeThoughts") is True


def _last_turn(content: dict[str, Any]) -> LastTurn:
    if content.get("role", "user") != "user":
        return "other"
    return "tool" if _kinds(content, "functionResponse") else "user"


def _texts(content: dict[str, Any]) -> list[str]:
    texts: list[str] = []
    for part in _parts(content):
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        for kind, field in (("functionCall", "args"), ("functionResponse", "response")):
            if isinstance(part.get(kind), dict):
                value = part[kind]
                texts += [str(value.get("name", "")), orjson.dumps(value.get(field)).decode()]
    return texts


def _prompt_message(content: dict[str, Any]) -> PromptMessage:
    media = sum(1 for p in _parts(content) if "inlineData" in p or "fileData" in p)
    role = str(content.get("role", "user"))
    return PromptMessage(role, tuple(_texts(content)), media * image_tokens(None))
