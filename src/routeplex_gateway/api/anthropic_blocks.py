"""Anthropic Messages content blocks that show the model something — text, images,
documents, search results — as canonical parts (`anthropic_content` owns the turns they
stand in), and what the decoding notes on the way (`Notes`).

Decisions, each a place where Anthropic's shape and the canonical one differ:

* images: base64 sources inline, url sources by URL. Documents: a base64 or URL PDF is a
  `Document` (a URL one only an Anthropic model fetches: named in `untranslatable`), a
  plain-text or content source its text or parts. (Base64 data and an image's media type
  are checked by the schema, `schemas/anthropic_blocks.py`, as Anthropic checks them.) A
  `search_result` becomes a text part (title, source, then its text).
* `cache_control` → the part's `CacheMark` (a document given as parts marks its last one).
* Files API sources are `Opaque` parts, named in `Notes.untranslatable` by their JSON path.

The blocks have passed their schema by then: this only maps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..canonical import CacheMark, Document, Image, Media, Opaque, ResultPart, Text
from .schemas.anthropic_blocks import PDF

WIRE = "anthropic"


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


def text_part(block: dict[str, Any]) -> Text:
    return Text(block["text"], cache_mark(block))


def part(block: dict[str, Any], where: str, notes: Notes) -> list[ResultPart]:
    """A user (or tool result) block as canonical parts."""
    kind = block["type"]
    if kind == "text":
        return [text_part(block)]
    if kind == "image":
        return [_image(block, where, notes)]
    if kind == "document":
        return _document(block, where, notes)
    return [Text(_search_result(block, where, notes), cache_mark(block))]


def _image(block: dict[str, Any], where: str, notes: Notes) -> Image | Opaque:
    source = block["source"]
    if source["type"] == "base64":
        media = Media(media_type=source["media_type"], data=source["data"])
    elif source["type"] == "url":
        media = Media(media_type=None, url=source["url"])
    else:
        return opaque(block, where, notes, "image from Anthropic's Files API")
    return Image(media=media, cache=cache_mark(block))


def _document(block: dict[str, Any], where: str, notes: Notes) -> list[ResultPart]:
    source = block["source"]
    citations = block.get("citations")
    if isinstance(citations, dict) and citations.get("enabled") is True:
        notes.anthropic_only(f"{where}.citations", "citations")
    kind = source["type"]
    title = block.get("title")
    title = title if isinstance(title, str) else None
    if block.get("context") is not None or (title is not None and kind in ("text", "content")):
        notes.drop("document title and context")
    cache = cache_mark(block)
    if kind == "base64":
        media = Media(media_type=PDF, data=source["data"])
        return [Document(media=media, title=title, cache=cache)]
    if kind == "url":
        notes.anthropic_only(where, "document by URL")
        media = Media(media_type=PDF, url=source["url"])
        return [Document(media=media, title=title, cache=cache)]
    if kind == "text":
        return [Text(source["data"], cache)]
    if kind == "content":
        parts = _content_source(source["content"], f"{where}.source.content", notes)
        if cache is not None and parts and isinstance(parts[-1], Text | Image):
            last = parts[-1]
            parts[-1] = (
                Text(last.text, cache)
                if isinstance(last, Text)
                else Image(media=last.media, detail=last.detail, cache=cache)
            )
        return parts
    return [opaque(block, where, notes, "Files API document")]


def _content_source(content: str | list[Any], where: str, notes: Notes) -> list[ResultPart]:
    """A document's `content` source: a string, or text and image blocks."""
    if isinstance(content, str):
        return [Text(content)]
    parts: list[ResultPart] = []
    for index, block in enumerate(content):
        parts.extend(part(block, f"{where}[{index}]", notes))
    return parts


def _search_result(block: dict[str, Any], where: str, notes: Notes) -> str:
    texts = [item["text"] for item in block["content"]]
    citations = block.get("citations")
    if isinstance(citations, dict) and citations.get("enabled") is True:
        notes.anthropic_only(f"{where}.citations", "citations")
    heading = f"Search result: {block['title']}\nSource: {block['source']}"
    return "\n\n".join([heading, *texts])
