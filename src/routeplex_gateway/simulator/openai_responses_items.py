"""The input items of an OpenAI Responses request: their validation, as OpenAI's, and what
they mean for the answer (the prompt to count, whose turn ended the conversation).

An item is a message (`role` with string or part-list content), a `function_call` the model
made, its `function_call_output`, or a `reasoning` item sent back. Items in Chat Completions'
shapes — `role: tool`, an assistant's `tool_calls` — are refused as OpenAI refuses them, and
so is a function call's output whose call is not in the input (a stateless client must send
the call along with its output; OpenAI has nothing stored to find it in).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from routeplex_gateway.simulator.answer import LastTurn, PromptMessage, image_tokens
from routeplex_gateway.simulator.openai_request import (
    RequestError,
    described,
    invalid_type,
    missing,
)

MESSAGE_ROLES = ("user", "assistant", "system", "developer")
ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning", "item_reference")
PART_TYPES = ("input_text", "input_image", "input_file", "output_text", "refusal")


def input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's `input` as a list of items (a string is one user message), validated."""
    value = body.get("input")
    if value is None:
        raise missing("input")
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        raise invalid_type("input", "a string or an array of input items", value)
    for index, item in enumerate(value):
        _item(item, f"input[{index}]")
    calls = {item.get("call_id") for item in value if item.get("type") == "function_call"}
    for item in value:
        if item.get("type") == "function_call_output" and item["call_id"] not in calls:
            raise RequestError(
                f"No tool call found for function call output with call_id {item['call_id']}.",
                "input",
            )
    return value


def _item(item: Any, where: str) -> None:
    if not isinstance(item, dict):
        raise invalid_type(where, "an object", item)
    kind = item.get("type", "message" if "role" in item else None)
    if kind is None:
        raise missing(f"{where}.type")
    if kind not in ITEM_TYPES:
        raise invalid_value(f"{where}.type", kind, ITEM_TYPES)
    if kind == "message":
        role = item.get("role")
        if role is None:
            raise missing(f"{where}.role")
        if role not in MESSAGE_ROLES:
            raise invalid_value(f"{where}.role", role, MESSAGE_ROLES)
        if "tool_calls" in item:
            raise RequestError(
                f"Unknown parameter: '{where}.tool_calls'.", f"{where}.tool_calls",
                "unknown_parameter",
            )  # fmt: skip
        content = item.get("content")
        if content is None:
            raise missing(f"{where}.content")
        if isinstance(content, list):
            for index, part in enumerate(content):
                _part(part, f"{where}.content[{index}]")
        elif not isinstance(content, str):
            raise invalid_type(f"{where}.content", "a string or an array", content)
    elif kind == "function_call":
        for name in ("call_id", "name", "arguments"):
            if not isinstance(item.get(name), str):
                raise missing(f"{where}.{name}")
    elif kind == "function_call_output":
        if not isinstance(item.get("call_id"), str):
            raise missing(f"{where}.call_id")
        if not isinstance(item.get("output"), str | list):
            raise missing(f"{where}.output")
    elif kind == "reasoning" and not isinstance(item.get("summary"), list):
        raise missing(f"{where}.summary")


def _part(part: Any, where: str) -> None:
    if not isinstance(part, dict):
        raise invalid_type(where, "an object", part)
    kind = part.get("type")
    if kind is None:
        raise missing(f"{where}.type")
    if kind not in PART_TYPES:
        raise invalid_value(f"{where}.type", kind, PART_TYPES)
    if kind in ("input_text", "output_text") and not isinstance(part.get("text"), str):
        raise missing(f"{where}.text")


def last_item(items: list[dict[str, Any]]) -> Mapping[str, Any]:
    """The item whose turn ended the conversation."""
    # A system or developer message after the user's does not end the user's turn.
    found: Mapping[str, Any] = items[-1] if items else {"role": "user", "content": ""}
    for item in reversed(items):
        if item.get("role") not in ("system", "developer"):
            found = item
            break
    return found


def last_turn(item: Mapping[str, Any]) -> LastTurn:
    """Whose turn `item` is: the user's, tool results, or another."""
    if item.get("type") == "function_call_output":
        return "tool"
    return "user" if item.get("role") == "user" else "other"


def prompt_message(item: Mapping[str, Any]) -> PromptMessage:
    """An item reduced to what token counting needs."""
    kind = item.get("type", "message")
    if kind == "function_call":
        return PromptMessage("assistant", (str(item["name"]), str(item["arguments"])))
    if kind == "function_call_output":
        output = item.get("output")
        texts = (output,) if isinstance(output, str) else tuple(_part_texts(output))
        return PromptMessage("tool", texts)
    if kind != "message":
        return PromptMessage("other")
    content = item.get("content")
    if isinstance(content, str):
        return PromptMessage(str(item.get("role")), (content,))
    images = sum(
        image_tokens(part.get("detail"))
        for part in content or ()
        if isinstance(part, dict) and part.get("type") == "input_image"
    )
    return PromptMessage(str(item.get("role")), tuple(_part_texts(content)), images)


def _part_texts(parts: Any) -> list[str]:
    texts = []
    for part in parts or ():
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
    return texts


def text_of(item: Mapping[str, Any]) -> str:
    """An item's texts joined."""
    return " ".join(prompt_message(item).texts)


def invalid_value(param: str, value: Any, supported: tuple[str, ...]) -> RequestError:
    """OpenAI's error for a value outside the `supported` ones."""
    listed = ", ".join(f"'{s}'" for s in supported[:-1]) + f", and '{supported[-1]}'"
    shown = value if isinstance(value, str) else described(value)
    return RequestError(
        f"Invalid value: '{shown}'. Supported values are: {listed}.", param, "invalid_value"
    )
