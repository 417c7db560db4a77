"""Anthropic Messages `messages` (and `system`) → canonical messages: the content blocks of
each turn, for the inbound Anthropic surface (`anthropic_decode` owns the rest). The body has
passed its schema (`schemas/anthropic_turns.py`, `schemas/anthropic_blocks.py`) by then, so
this only maps it.

Decisions, each a place where Anthropic's shape and the canonical one differ:

* a user turn's `tool_result` blocks become one `tool` message placed first (every provider
  wants the results right after the calls), its other blocks one user message after it. A
  result keeps its parts (text, images, documents) and `is_error`; a provider that cannot
  say either in its own format says it its own way.
* `system` (a string or text blocks) is a system message opening the conversation, one text
  part per block; a system turn later in `messages` stays where it stands.
* text, images, documents and search results: see `anthropic_blocks`.
* an assistant turn's blocks keep their order: text, `tool_use` (arguments: the input as
  JSON text), and `thinking` / `redacted_thinking` with their signatures (only Anthropic can
  verify those: other providers leave them out).
* `cache_control` → the part's `CacheMark`.
* Blocks only Anthropic can serve (server tools' calls and results, MCP, container uploads:
  the schema's `SERVER_BLOCKS`) are `Opaque` parts, named in `Notes.untranslatable` by their
  JSON path.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..canonical import Message, Part, ResultPart, Text, Thinking, ToolCall, ToolResult
from ..errors import validation
from .anthropic_blocks import Notes, cache_mark, opaque, part, text_part
from .schemas.anthropic_blocks import SERVER_BLOCKS


def system_messages(system: str | list[Any] | None) -> list[Message]:
    """The `system` prompt as a system message (one text part per non-empty block)."""
    if isinstance(system, str):
        return [Message("system", (Text(system),))] if system else []
    parts = [text_part(block) for block in system or () if block["text"]]
    return [Message("system", tuple(parts))] if parts else []


def canonical_messages(messages: list[Any], notes: Notes) -> list[Message]:
    """The `messages` array → canonical messages (a user turn with tool results becomes two)."""
    out: list[Message] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role, content = message["role"], message["content"]
        if role == "system":
            # A system turn between the others gives instructions from that point on (Claude
            # Code sends its environment so); opening the conversation is top-level `system`'s.
            out.append(_system_turn(content))
        elif role == "user":
            out.extend(_user(content, where, notes))
        else:
            out.append(_assistant(content, where, notes))
    return out


def _system_turn(content: str | list[Any]) -> Message:
    if isinstance(content, str):
        return Message("system", (Text(content),))
    return Message("system", tuple(text_part(block) for block in content))


def _user(content: str | list[Any], where: str, notes: Notes) -> list[Message]:
    if isinstance(content, str):
        return [Message("user", (Text(content),))]
    results: list[ToolResult] = []
    parts: list[Part] = []
    for index, block in enumerate(content):
        block_where = f"{where}.content[{index}]"
        kind = block["type"]
        if kind == "tool_result":
            results.append(_tool_result(block, block_where, notes))
        elif kind in SERVER_BLOCKS:
            parts.append(opaque(block, block_where, notes, f"{kind} block"))
        else:
            parts.extend(part(block, block_where, notes))
    out = [Message("tool", tuple(results))] if results else []
    if parts:
        out.append(Message("user", tuple(parts)))
    return out


def _assistant(content: str | list[Any], where: str, notes: Notes) -> Message:
    if isinstance(content, str):
        return Message("assistant", (Text(content),) if content else ())
    parts: list[Part] = []
    for index, block in enumerate(content):
        block_where = f"{where}.content[{index}]"
        kind = block["type"]
        if kind == "text":
            parts.append(text_part(block))
        elif kind == "tool_use":
            parts.append(_tool_call(block, block_where))
        elif kind == "thinking":
            parts.append(Thinking(text=block["thinking"], signature=block.get("signature")))
        elif kind == "redacted_thinking":
            parts.append(Thinking(text="", signature=block["data"], redacted=True))
        else:
            parts.append(opaque(block, block_where, notes, f"{kind} block"))
    return Message("assistant", tuple(parts))


def _tool_result(block: dict[str, Any], where: str, notes: Notes) -> ToolResult:
    content = block.get("content")
    parts: list[ResultPart] = []
    if isinstance(content, str):
        if content:
            parts.append(Text(content))
    else:
        for index, item in enumerate(content or ()):
            item_where = f"{where}.content[{index}]"
            if item["type"] in SERVER_BLOCKS:
                parts.append(opaque(item, item_where, notes, f"{item['type']} block"))
            else:
                parts.extend(part(item, item_where, notes))
    return ToolResult(
        call_id=block["tool_use_id"],
        parts=tuple(parts),
        is_error=bool(block.get("is_error")),
        cache=cache_mark(block),
    )


def _tool_call(block: dict[str, Any], where: str) -> ToolCall:
    try:
        encoded = orjson.dumps(block["input"]).decode()
    except orjson.JSONEncodeError:
        # Beside the schema: what JSON parsing gives always encodes, but a body built in
        # Python (an integer past 64 bits) may not.
        raise validation(f"'{where}.input' cannot be encoded as JSON.", f"{where}.input") from None
    return ToolCall(id=block["id"], name=block["name"], arguments=encoded, cache=cache_mark(block))
