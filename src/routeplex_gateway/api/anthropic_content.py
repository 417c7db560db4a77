"""Anthropic Messages `messages` (and `system`) → canonical messages: the content blocks of
each turn, for the inbound Anthropic surface (`anthropic_decode` owns the rest).

Decisions, each a place where Anthropic's shape and the canonical one differ:

* a user turn's `tool_result` blocks become one `tool` message placed first (every provider
  wants the results right after the calls), its other blocks one user message after it. A
  result keeps its parts (text, images, documents) and `is_error`; a provider that cannot
  say either in its own format says it its own way.
* `system` (a string or text blocks) is a system message opening the conversation, one text
  part per block; a system turn later in `messages` stays where it stands.
* images: base64 sources inline, url sources by URL. Documents: a base64 or URL PDF is a
  `Document` (a URL one only an Anthropic model fetches: named in `untranslatable`), a
  plain-text or content source its text or parts. Base64 data is checked to be base64, and
  an image's media type to be one of the four Anthropic takes, as Anthropic checks them:
  nothing else looks into the data before the model does. A `search_result` becomes a text
  part (title, source, then its text).
* an assistant turn's blocks keep their order: text, `tool_use` (arguments: the input as
  JSON text), and `thinking` / `redacted_thinking` with their signatures (only Anthropic can
  verify those: other providers leave them out).
* `cache_control` → the part's `CacheMark` (a document given as parts marks its last one).
* Blocks only Anthropic can serve (server tools' calls and results, MCP, container uploads,
  files of Anthropic's Files API) are `Opaque` parts, named in `Notes.untranslatable` by their
  JSON path.

Errors name the field and the values it takes, never the caller's value.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..canonical import (
    CacheMark,
    Document,
    Image,
    Media,
    Message,
    Opaque,
    Part,
    ResultPart,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
)
from ..errors import ErrorCode, GatewayError, validation

WIRE = "anthropic"
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
_PDF = "application/pdf"
# The image types Anthropic takes in a base64 source (its API refuses any other).
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


@dataclass(slots=True)
class Notes:
    """What the translation could not carry: features only an Anthropic model serves
    (`untranslatable`: JSON paths with what is there), and what it left out because the
    canonical shape has no place for it (`dropped`: field names, once each)."""

    untranslatable: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def anthropic_only(self, where: str, what: str | None = None) -> None:
        entry = f"{where} ({what})" if what else where
        if entry not in self.untranslatable:
            self.untranslatable.append(entry)

    def drop(self, name: str) -> None:
        if name not in self.dropped:
            self.dropped.append(name)


def cache_mark(block: dict[str, Any]) -> CacheMark | None:
    """A block's (or tool's) `cache_control` as its cache mark."""
    mark = block.get("cache_control")
    if not isinstance(mark, dict):
        return None
    ttl = mark.get("ttl")
    return CacheMark(ttl if isinstance(ttl, str) else None)


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
        text = _text(block, where)
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
            parts.append(_text(block, block_where))
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


def _opaque(block: dict[str, Any], where: str, notes: Notes, what: str) -> Opaque:
    notes.anthropic_only(where, what)
    return Opaque(WIRE, block, where)


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
            parts.append(_opaque(block, block_where, notes, f"{kind} block"))
        elif kind in _USER_BLOCKS:
            parts.extend(_part(block, block_where, notes))
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
            parts.append(_text(block, block_where))
        elif kind == "tool_use":
            parts.append(_tool_call(block, block_where))
        elif kind == "thinking":
            signature = block.get("signature")
            if signature is not None and not isinstance(signature, str):
                raise validation(
                    f"'{block_where}.signature' must be a string.", f"{block_where}.signature"
                )
            parts.append(
                Thinking(text=_string(block, "thinking", block_where), signature=signature)
            )
        elif kind == "redacted_thinking":
            data = _string(block, "data", block_where)
            parts.append(Thinking(text="", signature=data, redacted=True))
        elif kind in ANTHROPIC_ONLY_BLOCKS:
            parts.append(_opaque(block, block_where, notes, f"{kind} block"))
        else:
            raise _block_type(block_where, _ASSISTANT_BLOCKS, "assistant messages")
    return Message("assistant", tuple(parts))


def _block_type(where: str, allowed: tuple[str, ...], place: str) -> GatewayError:
    return validation(
        f"'{where}.type' must be one of {', '.join(allowed)} (or an Anthropic server-tool "
        f"block) in {place}.",
        f"{where}.type",
    )


def _string(container: dict[str, Any], name: str, where: str) -> str:
    value = container.get(name)
    if not isinstance(value, str):
        raise validation(f"'{where}.{name}' must be a string.", f"{where}.{name}")
    return value


def _text(block: dict[str, Any], where: str) -> Text:
    return Text(_string(block, "text", where), cache_mark(block))


def _part(block: dict[str, Any], where: str, notes: Notes) -> list[ResultPart]:
    """A user (or tool result) block as canonical parts."""
    kind = block["type"]
    if kind == "text":
        return [_text(block, where)]
    if kind == "image":
        return [_image(block, where, notes)]
    if kind == "document":
        return _document(block, where, notes)
    return [Text(_search_result(block, where, notes), cache_mark(block))]


def _source(block: dict[str, Any], where: str, types: tuple[str, ...]) -> dict[str, Any]:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if not isinstance(source, dict) or not isinstance(kind, str) or kind not in types:
        raise validation(
            f"'{where}.source' must be an object whose 'type' is one of {', '.join(types)}.",
            f"{where}.source",
        )
    return source


def _base64(source: dict[str, Any], where: str) -> str:
    """A base64 source's `data`, checked: decodable (line breaks allowed) and not empty."""
    data = _string(source, "data", where)
    try:
        decoded = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):  # ValueError: a character outside ASCII
        decoded = b""
    if not decoded:
        raise validation(f"'{where}.data' must be base64-encoded data.", f"{where}.data")
    return data


def _image(block: dict[str, Any], where: str, notes: Notes) -> Image | Opaque:
    source = _source(block, where, ("base64", "url", "file"))
    source_where = f"{where}.source"
    cache = cache_mark(block)
    if source["type"] == "base64":
        media_type = source.get("media_type")
        if not isinstance(media_type, str) or media_type not in _IMAGE_TYPES:
            raise validation(
                f"'{source_where}.media_type' must be one of {', '.join(_IMAGE_TYPES)}.",
                f"{source_where}.media_type",
            )
        media = Media(media_type=media_type, data=_base64(source, source_where))
        return Image(media=media, cache=cache)
    if source["type"] == "url":
        media = Media(media_type=None, url=_string(source, "url", source_where))
        return Image(media=media, cache=cache)
    return _opaque(block, where, notes, "image from Anthropic's Files API")


def _document(block: dict[str, Any], where: str, notes: Notes) -> list[ResultPart]:
    source = _source(block, where, ("base64", "text", "content", "url", "file"))
    source_where = f"{where}.source"
    citations = block.get("citations")
    if citations is not None and not isinstance(citations, dict):
        raise validation(f"'{where}.citations' must be an object.", f"{where}.citations")
    if isinstance(citations, dict) and citations.get("enabled") is True:
        notes.anthropic_only(f"{where}.citations", "citations")
    kind = source["type"]
    title = block.get("title")
    title = title if isinstance(title, str) else None
    if block.get("context") is not None or (title is not None and kind in ("text", "content")):
        notes.drop("document title and context")
    cache = cache_mark(block)
    if kind == "base64":
        if source.get("media_type") != _PDF:
            raise validation(
                f"'{source_where}.media_type' must be {_PDF} for a base64 document.",
                f"{source_where}.media_type",
            )
        media = Media(media_type=_PDF, data=_base64(source, source_where))
        return [Document(media=media, title=title, cache=cache)]
    if kind == "url":
        notes.anthropic_only(where, "document by URL")
        media = Media(media_type=_PDF, url=_string(source, "url", source_where))
        return [Document(media=media, title=title, cache=cache)]
    if kind == "text":
        return [Text(_string(source, "data", source_where), cache)]
    if kind == "content":
        parts = _content_source(source.get("content"), f"{source_where}.content", notes)
        if cache is not None and parts and isinstance(parts[-1], Text | Image):
            last = parts[-1]
            parts[-1] = (
                Text(last.text, cache)
                if isinstance(last, Text)
                else Image(media=last.media, detail=last.detail, cache=cache)
            )
        return parts
    return [_opaque(block, where, notes, "Files API document")]


def _content_source(content: Any, where: str, notes: Notes) -> list[ResultPart]:
    """A document's `content` source: a string, or text and image blocks."""
    if isinstance(content, str):
        return [Text(content)]
    if not isinstance(content, list):
        raise validation(f"'{where}' must be a string or an array of blocks.", where)
    parts: list[ResultPart] = []
    for index, block in enumerate(content):
        block_where = f"{where}[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if not isinstance(block, dict) or kind not in ("text", "image"):
            raise validation(f"'{block_where}.type' must be one of text, image.", block_where)
        parts.extend(_part(block, block_where, notes))
    return parts


def _search_result(block: dict[str, Any], where: str, notes: Notes) -> str:
    title = _string(block, "title", where)
    source = _string(block, "source", where)
    content = block.get("content")
    if not isinstance(content, list):
        raise validation(f"'{where}.content' must be an array of text blocks.", f"{where}.content")
    texts = []
    for index, item in enumerate(content):
        item_where = f"{where}.content[{index}]"
        if not isinstance(item, dict) or item.get("type") != "text":
            raise validation(f"'{item_where}' must be a text block.", item_where)
        texts.append(_string(item, "text", item_where))
    citations = block.get("citations")
    if isinstance(citations, dict) and citations.get("enabled") is True:
        notes.anthropic_only(f"{where}.citations", "citations")
    return "\n\n".join([f"Search result: {title}\nSource: {source}", *texts])


def _tool_result(block: dict[str, Any], where: str, notes: Notes) -> ToolResult:
    call_id = _string(block, "tool_use_id", where)
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
                parts.append(_opaque(item, item_where, notes, f"{kind} block"))
            elif kind not in _RESULT_BLOCKS:
                raise validation(
                    f"'{item_where}.type' must be one of {', '.join(_RESULT_BLOCKS)}.",
                    f"{item_where}.type",
                )
            else:
                parts.extend(_part(item, item_where, notes))
    elif content is not None:
        raise validation(
            f"'{where}.content' must be a string or an array of content blocks.",
            f"{where}.content",
        )
    return ToolResult(
        call_id=call_id, parts=tuple(parts), is_error=bool(is_error), cache=cache_mark(block)
    )


def _tool_call(block: dict[str, Any], where: str) -> ToolCall:
    call_id = _string(block, "id", where)
    name = _string(block, "name", where)
    arguments = block.get("input")
    if not isinstance(arguments, dict):
        raise validation(f"'{where}.input' must be an object.", f"{where}.input")
    try:
        encoded = orjson.dumps(arguments).decode()
    except orjson.JSONEncodeError:
        raise validation(f"'{where}.input' cannot be encoded as JSON.", f"{where}.input") from None
    return ToolCall(id=call_id, name=name, arguments=encoded, cache=cache_mark(block))
