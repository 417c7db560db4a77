"""The OpenAI-shaped request as the translating providers (Anthropic, Gemini) read it.

The gateway validated only what it acts on (api/validation.py), so this module reads the rest
defensively and answers with a `validation` error naming the field — never quoting its value —
when a message or tool cannot be expressed in another provider's terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from ..errors import GatewayError, validation

_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[^,;]*)*?);base64,(.*)$", re.DOTALL)

ChoiceMode = Literal["auto", "none", "required"]


@dataclass(frozen=True, slots=True)
class FunctionTool:
    name: str
    description: str | None
    parameters: dict[str, Any] | None
    # Anthropic's prompt-caching breakpoint, on the tool or its function (as LiteLLM takes it).
    cache_control: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """`tool_choice` reduced to a mode and, for a named or allowed-tools choice, the names."""

    mode: ChoiceMode
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JsonFormat:
    """`response_format` asking for JSON: any object (`schema` None) or one schema."""

    schema: dict[str, Any] | None
    name: str | None = None


def max_output_tokens(body: dict[str, Any]) -> int | None:
    """`max_completion_tokens` (the current name) or `max_tokens` (the legacy one)."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def stop_sequences(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list):
        return [s for s in stop if isinstance(s, str) and s]
    return []


def data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 payload) of a `data:…;base64,…` URL, else None."""
    match = _DATA_URL.match(url)
    if match is None:
        return None
    return match.group(1) or "application/octet-stream", match.group(3)


def parts(content: Any, where: str) -> list[dict[str, Any]]:
    """Message content as a list of parts; a plain string is one text part."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [p for p in content if isinstance(p, dict)]
    raise validation(
        f"'{where}.content' must be a string or an array of parts.", f"{where}.content"
    )


def text_only(content: Any, where: str) -> str:
    """The text of a message that may hold only text (system, developer, tool results)."""
    texts: list[str] = []
    for index, part in enumerate(parts(content, where)):
        text = part.get("text", part.get("refusal"))
        if part.get("type") not in ("text", "refusal") or not isinstance(text, str):
            raise validation(
                f"'{where}.content[{index}]' must be a text part here.",
                f"{where}.content[{index}]",
            )
        texts.append(text)
    return "\n".join(texts)


def image_url(part: dict[str, Any], where: str) -> str:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise validation(f"'{where}.image_url.url' must be a URL.", f"{where}.image_url")
    return url


def unsupported_part(where: str, provider: str, allowed: tuple[str, ...]) -> GatewayError:
    """A content part of a type `provider` does not take: the field and the types it does
    (never the caller's type, which may be anything)."""
    return validation(
        f"'{where}.type' must be one of {', '.join(allowed)} for {provider} models.",
        f"{where}.type",
    )


def call_arguments(call: dict[str, Any], where: str) -> dict[str, Any]:
    """An assistant tool call's `arguments` JSON text as the object the other APIs take."""
    function = call.get("function")
    raw = function.get("arguments") if isinstance(function, dict) else None
    if raw is None or raw == "":
        return {}
    try:
        value = orjson.loads(raw) if isinstance(raw, str) else raw
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise validation(
            f"'{where}.function.arguments' must be a JSON object.", f"{where}.function.arguments"
        )
    return value


def call_name(call: Any, where: str) -> str:
    if not isinstance(call, dict):
        raise validation(f"'{where}' must be a tool call object.", where)
    function = call.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str) or not name:
        raise validation(f"'{where}.function.name' is required.", f"{where}.function.name")
    return name


def function_tools(body: dict[str, Any]) -> list[FunctionTool]:
    """The `tools` of type function (the only kind either translated API can call)."""
    tools = []
    for index, tool in enumerate(body.get("tools") or ()):
        where = f"tools[{index}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise validation(f"'{where}' must be a function tool for this model.", where)
        function = tool.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise validation(f"'{where}.function.name' is required.", f"{where}.function.name")
        description = function.get("description")
        parameters = function.get("parameters")
        cache_control = tool.get("cache_control", function.get("cache_control"))
        tools.append(
            FunctionTool(
                name=function["name"],
                description=description if isinstance(description, str) else None,
                parameters=parameters if isinstance(parameters, dict) else None,
                cache_control=cache_control if isinstance(cache_control, dict) else None,
            )
        )
    return tools


def tool_choice(body: dict[str, Any]) -> ToolChoice | None:
    """`tool_choice` normalised; None when absent (each API's default is `auto`)."""
    choice = body.get("tool_choice")
    if choice is None:
        return None
    if choice in ("auto", "none", "required"):
        return ToolChoice(choice)
    if isinstance(choice, dict):
        if choice.get("type") == "allowed_tools":
            allowed = choice.get("allowed_tools")
            allowed = allowed if isinstance(allowed, dict) else {}
            names = tuple(
                t["function"]["name"]
                for t in allowed.get("tools") or ()
                if isinstance(t, dict) and isinstance(t.get("function"), dict)
            )
            mode: ChoiceMode = "required" if allowed.get("mode") == "required" else "auto"
            return ToolChoice(mode, names)
        function = choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return ToolChoice("required", (function["name"],))
    raise validation(
        "'tool_choice' must be 'auto', 'none', 'required' or a named function.", "tool_choice"
    )


def json_format(body: dict[str, Any]) -> JsonFormat | None:
    """The JSON output the caller asked for, if any."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return JsonFormat(None)
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise validation(
                "'response_format.json_schema.schema' must be a JSON schema object.",
                "response_format.json_schema.schema",
            )
        name = spec.get("name") if isinstance(spec, dict) else None
        return JsonFormat(schema, name if isinstance(name, str) else None)
    return None


def json_instruction(fmt: JsonFormat) -> str:
    """A system instruction asking for JSON, for when the API has no switch for it."""
    if fmt.schema is None:
        return "Respond with a single valid JSON object and nothing else."
    schema = orjson.dumps(fmt.schema).decode()
    return (
        "Respond with a single valid JSON value and nothing else. It must conform to this "
        f"JSON schema: {schema}"
    )


def no_content(provider: str) -> GatewayError:
    """Every message was empty: nothing a provider would accept is left to send."""
    return validation(
        f"The messages hold no content to send to {provider} models (every text is empty).",
        "messages",
    )


def later_system_text(text: str) -> str:
    """A system message from the middle of a conversation, as the user-turn text that stands
    in for it where it stood: hoisting it into the system prompt would change what it
    applies to, and break the provider's prompt cache on every new reminder."""
    return f"<system_instruction>\n{text}\n</system_instruction>"
