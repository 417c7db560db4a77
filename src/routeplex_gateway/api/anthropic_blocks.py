"""Anthropic Messages content blocks that show the model something — text, images,
documents, search results — as canonical parts (`anthropic_content` owns the turns they
stand in), and what the decoding notes on the way (`Notes`).

Decisions, each a place where Anthropic's shape and the canonical one differ:

* images: base64 sources inline, url sources by URL. Documents: a base64 or URL PDF is a
  `Document` (a URL one only an Anthropic model fetches: named in `untranslatable`), a
  plain-text or content source its text or parts. Base64 data is checked to be base64, and
  an image's media type to be one of the four Anthropic takes, as Anthropic checks them:
  nothing else looks into the data before the model does. A `search_result` becomes a text
  part (title, source, then its text).
* `cache_control` → the part's `CacheMark` (a document given as parts marks its last one).
* Files API sources are `Opaque` parts, named in `Notes.untranslatable` by their JSON path.

Errors name the field and the values it takes, never the caller's value.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from ..canonical import CacheMark, Document, Image, Media, Opaque, ResultPart, Text
from ..errors import validation

WIRE = "anthropic"
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


def opaque(block: dict[str, Any], where: str, notes: Notes, what: str) -> Opaque:
    notes.anthropic_only(where, what)
    return Opaque(WIRE, block, where)


def string(container: dict[str, Any], name: str, where: str) -> str:
    value = container.get(name)
    if not isinstance(value, str):
        raise validation(f"'{where}.{name}' must be a string.", f"{where}.{name}")
    return value


def text_part(block: dict[str, Any], where: str) -> Text:
    return Text(string(block, "text", where), cache_mark(block))


def part(block: dict[str, Any], where: str, notes: Notes) -> list[ResultPart]:
    """A user (or tool result) block as canonical parts."""
    kind = block["type"]
    if kind == "text":
        return [text_part(block, where)]
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
    data = string(source, "data", where)
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
        media = Media(media_type=None, url=string(source, "url", source_where))
        return Image(media=media, cache=cache)
    return opaque(block, where, notes, "image from Anthropic's Files API")


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
        media = Media(media_type=_PDF, url=string(source, "url", source_where))
        return [Document(media=media, title=title, cache=cache)]
    if kind == "text":
        return [Text(string(source, "data", source_where), cache)]
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
    return [opaque(block, where, notes, "Files API document")]


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
        parts.extend(part(block, block_where, notes))
    return parts


def _search_result(block: dict[str, Any], where: str, notes: Notes) -> str:
    title = string(block, "title", where)
    source = string(block, "source", where)
    content = block.get("content")
    if not isinstance(content, list):
        raise validation(f"'{where}.content' must be an array of text blocks.", f"{where}.content")
    texts = []
    for index, item in enumerate(content):
        item_where = f"{where}.content[{index}]"
        if not isinstance(item, dict) or item.get("type") != "text":
            raise validation(f"'{item_where}' must be a text block.", item_where)
        texts.append(string(item, "text", item_where))
    citations = block.get("citations")
    if isinstance(citations, dict) and citations.get("enabled") is True:
        notes.anthropic_only(f"{where}.citations", "citations")
    return "\n\n".join([f"Search result: {title}\nSource: {source}", *texts])
