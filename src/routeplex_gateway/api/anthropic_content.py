"""Anthropic Messages `messages` (and `system`) → canonical messages: the content blocks of
each turn, for the inbound Anthropic surface (`anthropic_decode` owns the rest).

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
* Blocks only Anthropic can serve (server tools' calls and results, MCP, container uploads)
  are `Opaque` parts, named in `Notes.untranslatable` by their
  JSON path.

Errors name the field and the values it takes, never the caller's value.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..canonical import Message, Part, ResultPart, Text, Thinking, ToolCall, ToolResult
from ..errors import ErrorCode, GatewayError, validation
from .anthropic_blocks import Notes, cache_mark, opaque, part, string, text_part

# What each role's content may hold here, named in errors (besides the Anthropic-only blocks).
_USER_BLOCKS = ("text", "image", "document", "search_result", "tool_result")
_ASSISTANT_BLOCKS = ("text", "tool_use", "thinking", "redacted_thinking")
_RESULT_BLOCKS = ("text", "image", "document", "search_result")
# Blocks of Anthropic's own tools (run on its servers, or its MCP connector and containers):
# a conversation holding them can only continue on an Anthropic model.
ANTHROPIC_ONLY_BLOCKS = frozenset(
    {
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "tool_reference",
        "mcp_tool_use",
        "mcp_tool_result",
        "container_upload",
        "compaction",
    }
)


def system_messages(system: Any) -> list[Message]:
    """The `system` prompt as a system message (one text part per non-empty block)."""
    if system is None:
        return []
    if isinstance(system, str):
        return [Message("system", (Text(system),))] if system else []
    if not isinstance(system, list):
        raise validation("'system' must be a string or an array of text blocks.", "system")
    parts = []
    for index, block in enumerate(system):
        where = f"system[{index}]"
        if not isinstance(block, dict) or block.get("type") != "text":
            raise validation(f"'{where}' must be a text block.", where)
        text = text_part(block, where)
        if text.text:
            parts.append(text)
    return [Message("system", tuple(parts))] if parts else []


def _system_turn(content: Any, where: str) -> Message:
    if isinstance(content, str) and content:
        return Message("system", (Text(content),))
    if isinstance(content, list) and content:
        parts = []
        for index, block in enumerate(content):
            block_where = f"{where}.content[{index}]"
            if not isinstance(block, dict) or block.get("type") != "text":
                raise validation(f"'{block_where}' must be a text block.", block_where)
            parts.append(text_part(block, block_where))
        return Message("system", tuple(parts))
    raise validation(
        f"'{where}.content' must be a non-empty string or array of text blocks.",
        f"{where}.content",
    )


def canonical_messages(messages: Any, notes: Notes) -> list[Message]:
    """The `messages` array → canonical messages (a user turn with tool results becomes two)."""
    if messages is None:
        raise validation("'messages' is required.", "messages")
    if not isinstance(messages, list):
        raise validation("'messages' must be an array of message objects.", "messages")
    if not messages:
        raise GatewayError(
            ErrorCode.EMPTY_MESSAGES, "'messages' must not be empty.", param="messages"
        )
    out: list[Message] = []
    last = len(messages) - 1
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise validation(f"'{where}' must be an object with 'role' and 'content'.", where)
        role = message.get("role")
        # A system turn between the others gives instructions from that point on (Claude
        # Code sends its environment so); opening the conversation is top-level `system`'s.
        if role == "system" and index > 0:
            out.append(_system_turn(message.get("content"), where))
            continue
        if not isinstance(role, str) or role not in ("user", "assistant"):
            raise validation(
                f"'{where}.role' must be one of user, assistant (or system after the first "
                "message; the opening instructions go in top-level 'system').",
                f"{where}.role",
            )
        content = message.get("content")
        if not isinstance(content, str | list):
            raise validation(
                f"'{where}.content' must be a string or an array of content blocks.",
                f"{where}.content",
            )
        if not content and not (role == "assistant" and index == last):
            # Anthropic's rule: only a final assistant turn (a prefill) may be empty.
            raise validation(f"'{where}.content' must not be empty.", f"{where}.content")
        if isinstance(content, list):
            for block_index, block in enumerate(content):
                if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                    block_where = f"{where}.content[{block_index}]"
                    raise validation(
                        f"'{block_where}' must be an object with a 'type'.", block_where
                    )
        if role == "user":
            out.extend(_user(content, where, notes))
        else:
            out.append(_assistant(content, where, notes))
    return out


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
        elif kind in ANTHROPIC_ONLY_BLOCKS:
            parts.append(opaque(block, block_where, notes, f"{kind} block"))
        elif kind in _USER_BLOCKS:
            parts.extend(part(block, block_where, notes))
        else:
            raise _block_type(block_where, _USER_BLOCKS, "user messages")
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
            parts.append(text_part(block, block_where))
        elif kind == "tool_use":
            parts.append(_tool_call(block, block_where))
        elif kind == "thinking":
            signature = block.get("signature")
            if signature is not None and not isinstance(signature, str):
                raise validation(
                    f"'{block_where}.signature' must be a string.", f"{block_where}.signature"
                )
            parts.append(Thinking(text=string(block, "thinking", block_where), signature=signature))
        elif kind == "redacted_thinking":
            data = string(block, "data", block_where)
            parts.append(Thinking(text="", signature=data, redacted=True))
        elif kind in ANTHROPIC_ONLY_BLOCKS:
            parts.append(opaque(block, block_where, notes, f"{kind} block"))
        else:
            raise _block_type(block_where, _ASSISTANT_BLOCKS, "assistant messages")
    return Message("assistant", tuple(parts))


def _block_type(where: str, allowed: tuple[str, ...], place: str) -> GatewayError:
    return validation(
        f"'{where}.type' must be one of {', '.join(allowed)} (or an Anthropic server-tool "
        f"block) in {place}.",
        f"{where}.type",
    )


def _tool_result(block: dict[str, Any], where: str, notes: Notes) -> ToolResult:
    call_id = string(block, "tool_use_id", where)
    is_error = block.get("is_error")
    if is_error is not None and not isinstance(is_error, bool):
        raise validation(f"'{where}.is_error' must be a boolean.", f"{where}.is_error")
    content = block.get("content")
    parts: list[ResultPart] = []
    if isinstance(content, str):
        if content:
            parts.append(Text(content))
    elif isinstance(content, list):
        for index, item in enumerate(content):
            item_where = f"{where}.content[{index}]"
            kind = item.get("type") if isinstance(item, dict) else None
            if not isinstance(item, dict) or not isinstance(kind, str):
                raise validation(f"'{item_where}' must be an object with a 'type'.", item_where)
            if kind in ANTHROPIC_ONLY_BLOCKS:
                parts.append(opaque(item, item_where, notes, f"{kind} block"))
            elif kind not in _RESULT_BLOCKS:
                raise validation(
                    f"'{item_where}.type' must be one of {', '.join(_RESULT_BLOCKS)}.",
                    f"{item_where}.type",
                )
            else:
                parts.extend(part(item, item_where, notes))
    elif content is not None:
        raise validation(
            f"'{where}.content' must be a string or an array of content blocks.",
            f"{where}.content",
        )
    return ToolResult(
        call_id=call_id, parts=tuple(parts), is_error=bool(is_error), cache=cache_mark(block)
    )


def _tool_call(block: dict[str, Any], where: str) -> ToolCall:
    call_id = string(block, "id", where)
    name = string(block, "name", where)
    arguments = block.get("input")
    if not isinstance(arguments, dict):
        raise validation(f"'{where}.input' must be an object.", f"{where}.input")
    try:
        encoded = orjson.dumps(arguments).decode()
    except orjson.JSONEncodeError:
        raise validation(f"'{where}.input' cannot be encoded as JSON.", f"{where}.input") from None
    return ToolCall(id=call_id, name=name, arguments=encoded, cache=cache_mark(block))
