"""Canonical messages → Anthropic's `system` and `messages`: the conversation half of
`anthropic_translate` (whose docstring lists the decisions).

Errors name the canonical `messages[i].content[j]` — the caller's own field for an OpenAI
body, whose parts are one to one — and an assistant's `messages[i].tool_calls[k]`, counting
its tool-call parts; never the caller's value.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..canonical import (
    CacheMark,
    Document,
    Image,
    Media,
    Message,
    Opaque,
    Refusal,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
)
from ..errors import GatewayError, validation

WIRE = "anthropic"
_PROVIDER = "Anthropic"
# What a message may be made of here, named in errors (which never quote the caller's value).
_PART_TYPES = ("text", "image_url", "file")

Block = dict[str, Any]


def later_system_text(text: str) -> str:
    """A system message from the middle of a conversation, as the user-turn text that stands
    in for it where it stood: hoisting it into the system prompt would change what it
    applies to, and break the provider's prompt cache on every new reminder."""
    return f"<system_instruction>\n{text}\n</system_instruction>"


def unsupported_part(where: str) -> GatewayError:
    """A content part of a type Anthropic does not take: the field and the types it does
    (never the caller's type, which may be anything)."""
    return validation(
        f"'{where}.type' must be one of {', '.join(_PART_TYPES)} for {_PROVIDER} models.",
        f"{where}.type",
    )


def _not_text(where: str) -> GatewayError:
    return validation(f"'{where}' must be a text part here.", where)


def _no_content() -> GatewayError:
    """Every message was empty: nothing Anthropic would accept is left to send."""
    return validation(
        f"The messages hold no content to send to {_PROVIDER} models (every text is empty).",
        "messages",
    )


def cache_control(mark: CacheMark | None) -> dict[str, Any] | None:
    if mark is None:
        return None
    control: dict[str, Any] = {"type": "ephemeral"}
    if mark.ttl is not None:
        control["ttl"] = mark.ttl
    return control


def marked(block: Block, mark: CacheMark | None) -> Block:
    control = cache_control(mark)
    if control is not None:
        block["cache_control"] = control
    return block


def conversation(messages: list[Message]) -> tuple[list[Block], list[dict[str, Any]]]:
    """(system blocks, Anthropic messages) from canonical messages."""
    system: list[Block] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[Block]) -> None:
        if not blocks:
            return  # an empty turn (`content: []`) is refused by Anthropic
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if message.role == "system":
            blocks = _text_blocks(message, where)
            if not turns:
                system.extend(blocks)
                continue
            # A new block, never the caller's own (an `Opaque` text block is sent as it is).
            add("user", [_later(block) for block in blocks])
        elif message.role == "assistant":
            add("assistant", _assistant_blocks(message, where, index))
        else:  # user, and tool (its results), both a user turn for Anthropic
            add("user", _user_blocks(message, where))
    if not turns:
        raise _no_content()
    return system, turns


def _later(block: Block) -> Block:
    if block.get("type") != "text" or not isinstance(block.get("text"), str):
        return block
    return {**block, "text": later_system_text(block["text"])}


def _text_blocks(message: Message, where: str) -> list[Block]:
    """Text-only content as text blocks, the empty ones left out (Anthropic rejects them)."""
    blocks: list[Block] = []
    for index, part in enumerate(message.parts):
        path = f"{where}.content[{index}]"
        if isinstance(part, Text | Refusal):
            if part.text:
                cache = part.cache if isinstance(part, Text) else None
                blocks.append(marked({"type": "text", "text": part.text}, cache))
        elif isinstance(part, Opaque) and part.wire == WIRE:
            blocks.append(part.value)
        else:
            raise _not_text(part.where or path if isinstance(part, Opaque) else path)
    return blocks


def _user_blocks(message: Message, where: str) -> list[Block]:
    """User content (or a tool message's results) as Anthropic blocks; empty text skipped."""
    blocks: list[Block] = []
    for index, part in enumerate(message.parts):
        path = f"{where}.content[{index}]"
        if isinstance(part, ToolResult):
            blocks.append(_tool_result(part, where))
        elif isinstance(part, Text | Image | Document | Opaque):
            block = _content_block(part, path)
            if block is not None:
                blocks.append(block)
        else:
            raise unsupported_part(path)  # audio, and what only an assistant says
    return blocks


def _content_block(part: Text | Image | Document | Opaque, path: str) -> Block | None:
    """A part a user turn or a tool result may hold; None for empty text."""
    if isinstance(part, Text):
        return marked({"type": "text", "text": part.text}, part.cache) if part.text else None
    if isinstance(part, Image):
        return marked({"type": "image", "source": _source(part.media)}, part.cache)
    if isinstance(part, Document):
        return marked(_document(part, path), part.cache)
    if part.wire == WIRE:
        value: Block = part.value
        return value
    raise unsupported_part(part.where or path)


def _source(media: Media) -> dict[str, Any]:
    if media.url is not None:
        return {"type": "url", "url": media.url}
    return {
        "type": "base64",
        "media_type": media.media_type or "application/octet-stream",
        "data": media.data or "",
    }


def _document(part: Document, path: str) -> Block:
    media = part.media
    if media.url is None and media.media_type != "application/pdf":
        raise validation(f"'{path}.file' must hold a base64 PDF for Anthropic models.", path)
    block: Block = {"type": "document", "source": _source(media)}
    if part.title is not None:
        block["title"] = part.title
    return block


def _tool_result(result: ToolResult, where: str) -> Block:
    parts = result.parts
    content: str | list[Block]
    if not parts:
        content = ""
    elif len(parts) == 1 and isinstance(parts[0], Text) and parts[0].cache is None:
        content = parts[0].text  # a plain result is a string, as callers send it
    else:
        content = []
        for index, part in enumerate(parts):
            inner = _content_block(part, f"{where}.content[{index}]")
            if inner is not None:
                content.append(inner)
    block: Block = {"type": "tool_result", "tool_use_id": result.call_id, "content": content}
    if result.is_error:
        block["is_error"] = True
    return marked(block, result.cache)


def _assistant_blocks(message: Message, where: str, index: int) -> list[Block]:
    blocks: list[Block] = []
    calls = 0  # an OpenAI assistant's tool calls follow its content parts
    for position, part in enumerate(message.parts):
        path = f"{where}.content[{position}]"
        if isinstance(part, Text | Refusal):
            if part.text:
                cache = part.cache if isinstance(part, Text) else None
                blocks.append(marked({"type": "text", "text": part.text}, cache))
        elif isinstance(part, Thinking):
            block = _thinking_block(part)
            if block is not None:
                blocks.append(block)
        elif isinstance(part, ToolCall):
            blocks.append(_tool_use(part, f"{where}.tool_calls[{calls}]", f"toolu_{index}_{calls}"))
            calls += 1
        elif isinstance(part, Opaque) and part.wire == WIRE:
            blocks.append(part.value)
        else:
            raise _not_text(part.where or path if isinstance(part, Opaque) else path)
    return blocks


def _thinking_block(part: Thinking) -> Block | None:
    """A signed thinking part as Anthropic's block; None for one Anthropic cannot verify."""
    if not part.signature:
        return None
    if part.redacted:
        return {"type": "redacted_thinking", "data": part.signature}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature}


def _tool_use(call: ToolCall, where: str, fallback_id: str) -> Block:
    if not call.name:
        raise validation(f"'{where}.function.name' is required.", f"{where}.function.name")
    block: Block = {
        "type": "tool_use",
        "id": call.id or fallback_id,
        "name": call.name,
        "input": _arguments(call.arguments, where),
    }
    return marked(block, call.cache)


def _arguments(raw: str, where: str) -> dict[str, Any]:
    """A tool call's arguments JSON text as the object Anthropic takes."""
    if raw == "":
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise validation(
            f"'{where}.function.arguments' must be a JSON object.", f"{where}.function.arguments"
        )
    return value
