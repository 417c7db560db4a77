"""Anthropic Messages `messages` (and `system`) → OpenAI Chat Completions messages: the content
blocks of each turn, for the inbound Anthropic surface (`anthropic_decode` owns the rest).

Decisions, each a place where the two APIs differ:

* a user turn's `tool_result` blocks become `tool` messages placed first (both APIs want the
  results right after the calls), its other blocks one user message after them. A result's
  text becomes the tool message's text (blocks joined by newlines; `is_error` says so in a
  first line); its images and PDFs, which OpenAI tool messages cannot hold, go to that user
  message, after a line naming the call they came from.
* images: base64 sources become `data:` URLs, url sources stay URLs. Documents: a base64 PDF
  becomes a `file` part (`file_data` as a data URL), a plain-text or content source its text
  or parts. Base64 data is checked to be base64, and an image's media type to be one of the
  four Anthropic takes, as Anthropic checks them: nothing else looks into a data URL before
  the model does. A `search_result` becomes a text part (title, source, then its text).
* an assistant turn's text blocks are joined into its content, `tool_use` blocks become
  `tool_calls` (arguments: the input as JSON). Thinking blocks are left out: no other model
  can read their signatures.
* `cache_control` is left out everywhere (not every OpenAI-shaped upstream accepts it).
* Blocks only Anthropic can serve (server tools' calls and results, MCP, container uploads,
  files of Anthropic's Files API, documents fetched by URL, citations) are left out of the
  canonical body and named in `Notes.untranslatable` by their JSON path.

Errors name the field and the values it takes, never the caller's value.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import ErrorCode, GatewayError, validation

# What each role's content may hold here, named in errors (besides the Anthropic-only blocks).
_USER_BLOCKS = ("text", "image", "document", "search_result", "tool_result")
_ASSISTANT_BLOCKS = ("text", "tool_use", "thinking", "redacted_thinking")
_RESULT_BLOCKS = ("text", "image", "document", "search_result")
_THINKING = frozenset({"thinking", "redacted_thinking"})
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
TOOL_ERROR_LINE = "[The tool reported an error.]"
_PDF = "application/pdf"
# The image types Anthropic takes in a base64 source (its API refuses any other).
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


@dataclass(slots=True)
class Notes:
    """What the translation could not carry: features only an Anthropic model serves
    (`untranslatable`: JSON paths with what is there), and what it left out because the
    canonical body has no place for it (`dropped`: field names, once each)."""

    untranslatable: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def anthropic_only(self, where: str, what: str | None = None) -> None:
        entry = f"{where} ({what})" if what else where
        if entry not in self.untranslatable:
            self.untranslatable.append(entry)

    def drop(self, name: str) -> None:
        if name not in self.dropped:
            self.dropped.append(name)


def system_text(system: Any, notes: Notes) -> str | None:
    """The `system` prompt as one string (text blocks joined by blank lines), None if empty."""
    if system is None:
        return None
    if isinstance(system, str):
        return system or None
    if not isinstance(system, list):
        raise validation("'system' must be a string or an array of text blocks.", "system")
    texts = []
    for index, block in enumerate(system):
        where = f"system[{index}]"
        if not isinstance(block, dict) or block.get("type") != "text":
            raise validation(f"'{where}' must be a text block.", where)
        texts.append(_text(block, where, notes))
    return "\n\n".join(text for text in texts if text) or None


def _system_turn(content: Any, where: str, notes: Notes) -> str:
    if isinstance(content, str) and content:
        return content
    if isinstance(content, list) and content:
        texts = []
        for index, block in enumerate(content):
            block_where = f"{where}.content[{index}]"
            if not isinstance(block, dict) or block.get("type") != "text":
                raise validation(f"'{block_where}' must be a text block.", block_where)
            texts.append(_text(block, block_where, notes))
        return "\n\n".join(texts)
    raise validation(
        f"'{where}.content' must be a non-empty string or array of text blocks.",
        f"{where}.content",
    )


def openai_messages(messages: Any, notes: Notes) -> list[dict[str, Any]]:
    """The `messages` array → OpenAI messages (one Anthropic turn may become several)."""
    if messages is None:
        raise validation("'messages' is required.", "messages")
    if not isinstance(messages, list):
        raise validation("'messages' must be an array of message objects.", "messages")
    if not messages:
        raise GatewayError(
            ErrorCode.EMPTY_MESSAGES, "'messages' must not be empty.", param="messages"
        )
    out: list[dict[str, Any]] = []
    last = len(messages) - 1
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise validation(f"'{where}' must be an object with 'role' and 'content'.", where)
        role = message.get("role")
        # A system turn between the others gives instructions from that point on (Claude
        # Code sends its environment so); opening the conversation is top-level `system`'s.
        if role == "system" and index > 0:
            out.append(
                {"role": "system", "content": _system_turn(message.get("content"), where, notes)}
            )
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
            out.extend(_assistant(content, where, notes))
    return out


def _user(content: str | list[Any], where: str, notes: Notes) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    results: list[dict[str, Any]] = []
    attachments: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        block_where = f"{where}.content[{index}]"
        kind = block["type"]
        if kind == "tool_result":
            results.append(_tool_result(block, block_where, attachments, notes))
        elif kind in ANTHROPIC_ONLY_BLOCKS:
            notes.anthropic_only(block_where, f"{kind} block")
        elif kind in _USER_BLOCKS:
            parts.extend(_part(block, block_where, notes))
        else:
            raise _block_type(block_where, _USER_BLOCKS, "user messages")
    out = results
    if attachments or parts:
        out.append({"role": "user", "content": attachments + parts})
    return out


def _assistant(content: str | list[Any], where: str, notes: Notes) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "assistant", "content": content}]
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        block_where = f"{where}.content[{index}]"
        kind = block["type"]
        if kind == "text":
            texts.append(_text(block, block_where, notes))
        elif kind == "tool_use":
            calls.append(_tool_call(block, block_where, notes))
        elif kind in _THINKING:
            notes.drop("thinking blocks")
        elif kind in ANTHROPIC_ONLY_BLOCKS:
            notes.anthropic_only(block_where, f"{kind} block")
        else:
            raise _block_type(block_where, _ASSISTANT_BLOCKS, "assistant messages")
    if not texts and not calls:
        return []  # only thinking (or Anthropic-only) blocks: nothing another model can read
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return [message]


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


def _text(block: dict[str, Any], where: str, notes: Notes) -> str:
    if block.get("cache_control") is not None:
        notes.drop("cache_control")
    return _string(block, "text", where)


def _part(block: dict[str, Any], where: str, notes: Notes) -> list[dict[str, Any]]:
    """A user (or tool result) block as OpenAI content parts: none when Anthropic-only."""
    if block.get("cache_control") is not None:
        notes.drop("cache_control")
    kind = block["type"]
    if kind == "text":
        return [{"type": "text", "text": _string(block, "text", where)}]
    if kind == "image":
        url = _image_url(block, where, notes)
        return [{"type": "image_url", "image_url": {"url": url}}] if url else []
    if kind == "document":
        return _document(block, where, notes)
    return [{"type": "text", "text": _search_result(block, where, notes)}]


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


def _image_url(block: dict[str, Any], where: str, notes: Notes) -> str | None:
    source = _source(block, where, ("base64", "url", "file"))
    source_where = f"{where}.source"
    if source["type"] == "base64":
        media_type = source.get("media_type")
        if media_type not in _IMAGE_TYPES:
            raise validation(
                f"'{source_where}.media_type' must be one of {', '.join(_IMAGE_TYPES)}.",
                f"{source_where}.media_type",
            )
        return f"data:{media_type};base64,{_base64(source, source_where)}"
    if source["type"] == "url":
        return _string(source, "url", source_where)
    notes.anthropic_only(where, "image from Anthropic's Files API")
    return None


def _document(block: dict[str, Any], where: str, notes: Notes) -> list[dict[str, Any]]:
    source = _source(block, where, ("base64", "text", "content", "url", "file"))
    source_where = f"{where}.source"
    citations = block.get("citations")
    if citations is not None and not isinstance(citations, dict):
        raise validation(f"'{where}.citations' must be an object.", f"{where}.citations")
    if isinstance(citations, dict) and citations.get("enabled") is True:
        notes.anthropic_only(f"{where}.citations", "citations")
    if block.get("title") is not None or block.get("context") is not None:
        notes.drop("document title and context")
    kind = source["type"]
    if kind == "base64":
        if source.get("media_type") != _PDF:
            raise validation(
                f"'{source_where}.media_type' must be {_PDF} for a base64 document.",
                f"{source_where}.media_type",
            )
        data = _base64(source, source_where)
        file = {"filename": "document.pdf", "file_data": f"data:{_PDF};base64,{data}"}
        return [{"type": "file", "file": file}]
    if kind == "text":
        return [{"type": "text", "text": _string(source, "data", source_where)}]
    if kind == "content":
        return _content_source(source.get("content"), f"{source_where}.content", notes)
    notes.anthropic_only(where, "document by URL" if kind == "url" else "Files API document")
    return []


def _content_source(content: Any, where: str, notes: Notes) -> list[dict[str, Any]]:
    """A document's `content` source: a string, or text and image blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise validation(f"'{where}' must be a string or an array of blocks.", where)
    parts: list[dict[str, Any]] = []
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
        texts.append(_text(item, item_where, notes))
    citations = block.get("citations")
    if isinstance(citations, dict) and citations.get("enabled") is True:
        notes.anthropic_only(f"{where}.citations", "citations")
    return "\n\n".join([f"Search result: {title}\nSource: {source}", *texts])


def _tool_result(
    block: dict[str, Any], where: str, attachments: list[dict[str, Any]], notes: Notes
) -> dict[str, Any]:
    """A `tool_result` as a `tool` message; its images and PDFs join `attachments`."""
    call_id = _string(block, "tool_use_id", where)
    if block.get("cache_control") is not None:
        notes.drop("cache_control")
    is_error = block.get("is_error")
    if is_error is not None and not isinstance(is_error, bool):
        raise validation(f"'{where}.is_error' must be a boolean.", f"{where}.is_error")
    content = block.get("content")
    texts: list[str] = []
    media: list[dict[str, Any]] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for index, item in enumerate(content):
            item_where = f"{where}.content[{index}]"
            kind = item.get("type") if isinstance(item, dict) else None
            if not isinstance(item, dict) or not isinstance(kind, str):
                raise validation(f"'{item_where}' must be an object with a 'type'.", item_where)
            if kind in ANTHROPIC_ONLY_BLOCKS:
                notes.anthropic_only(item_where, f"{kind} block")
            elif kind not in _RESULT_BLOCKS:
                raise validation(
                    f"'{item_where}.type' must be one of {', '.join(_RESULT_BLOCKS)}.",
                    f"{item_where}.type",
                )
            else:
                for part in _part(item, item_where, notes):
                    if part["type"] == "text":
                        texts.append(part["text"])
                    else:
                        media.append(part)
    elif content is not None:
        raise validation(
            f"'{where}.content' must be a string or an array of content blocks.",
            f"{where}.content",
        )
    if media:
        # Only the text fits in a tool message: the rest follows, saying whose it is.
        line = f"Attachments of the result of tool call {call_id}:"
        attachments.extend([{"type": "text", "text": line}, *media])
    text = "\n".join(texts)
    if is_error:
        text = f"{TOOL_ERROR_LINE}\n{text}" if text else TOOL_ERROR_LINE
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def _tool_call(block: dict[str, Any], where: str, notes: Notes) -> dict[str, Any]:
    call_id = _string(block, "id", where)
    name = _string(block, "name", where)
    if block.get("cache_control") is not None:
        notes.drop("cache_control")
    arguments = block.get("input")
    if not isinstance(arguments, dict):
        raise validation(f"'{where}.input' must be an object.", f"{where}.input")
    try:
        encoded = orjson.dumps(arguments).decode()
    except orjson.JSONEncodeError:
        raise validation(f"'{where}.input' cannot be encoded as JSON.", f"{where}.input") from None
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": encoded}}
