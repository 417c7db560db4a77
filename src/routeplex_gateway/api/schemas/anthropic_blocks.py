"""The content blocks of an Anthropic Messages request, as `POST /v1/messages` takes them (the
turns that hold them are in `anthropic_turns`).

What the gateway reads is checked (texts, images, documents, search results, tool calls and
their results); what only Anthropic reads passes unchecked for Anthropic to judge: thinking
blocks (their signatures), `cache_control`, citations' settings, Files API ids. Blocks of
Anthropic's server tools, MCP connector and containers (`SERVER_BLOCKS`) are taken with any
fields: a conversation holding them can only continue on an Anthropic model. A block of a type
Anthropic does not define is refused, naming the types the turn may hold.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, Discriminator, Field, Tag
from pydantic_core import PydanticCustomError

from .fields import BY_KIND, Boolean, Object, Shape, String, Takes

ServerBlockType = Literal[
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
]
SERVER_BLOCKS: tuple[str, ...] = get_args(ServerBlockType)
# The image types Anthropic takes in a base64 source (its API refuses any other).
ImageType = Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
IMAGE_TYPES: tuple[str, ...] = get_args(ImageType)
PDF = "application/pdf"
_UNCHECKED = "Passed to Anthropic as sent; left out for other providers."


def _pass(what: str) -> Any:
    """A field the gateway does not read: any JSON, described by what Anthropic takes."""
    return Field(default=None, description=f"{what} {_UNCHECKED}")


def _decodes(data: str) -> str:
    try:
        decoded = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):  # ValueError: a character outside ASCII
        decoded = b""
    if not decoded:
        # Nothing else looks into a data URL before the model does: checked as Anthropic does.
        raise PydanticCustomError("base64", "not base64")
    return data


_B64 = "[A-Za-z0-9+/]"
Base64 = Annotated[
    str,
    AfterValidator(_decodes),
    # Described without the line breaks it may have (a pattern with them would be unreadable).
    Field(
        json_schema_extra={
            "contentEncoding": "base64",
            "pattern": rf"^(?:{_B64}{{4}})*(?:{_B64}{{2}}==|{_B64}{{3}}=|{_B64}{{4}})$",
        }
    ),
    Takes("base64-encoded data (line breaks allowed)"),
]
CacheControl = Annotated[Any, _pass('A prompt-cache breakpoint, `{"type": "ephemeral"}`.')]


def _tag(value: Any, tags: tuple[str, ...], other: str | None = None) -> str | None:
    """The union branch of a block: its `type` if one of `tags`, else `other` (for any other
    string), else None — refused at the block itself."""
    kind = value.get("type") if isinstance(value, dict) else None
    if not isinstance(kind, str):
        return None
    return kind if kind in tags else other


class TextBlock(Shape):
    type: Literal["text"]
    text: String
    cache_control: CacheControl
    citations: Any = _pass("The citations of a text Claude wrote.")


class Base64Image(Shape):
    type: Literal["base64"]
    media_type: Annotated[ImageType, Takes(f"one of {', '.join(IMAGE_TYPES)}")]
    data: Base64


class UrlSource(Shape):
    type: Literal["url"]
    url: String


class FileSource(Shape):
    """A file of Anthropic's Files API: only an Anthropic model can read it."""

    type: Literal["file"]
    file_id: Any = _pass("The file's id.")


def _source(*types: str) -> Takes:
    return Takes(f"an object whose 'type' is one of {', '.join(types)}")


ImageSource = Annotated[
    Annotated[Base64Image, Tag("base64")]
    | Annotated[UrlSource, Tag("url")]
    | Annotated[FileSource, Tag("file")],
    Discriminator(lambda v: _tag(v, ("base64", "url", "file"))),
    _source("base64", "url", "file"),
]


class ImageBlock(Shape):
    type: Literal["image"]
    source: ImageSource
    cache_control: CacheControl


class Base64Pdf(Shape):
    type: Literal["base64"]
    media_type: Annotated[Literal["application/pdf"], Takes(f"{PDF} for a base64 document")]
    data: Base64


class PlainTextSource(Shape):
    type: Literal["text"]
    data: String
    media_type: Any = _pass("`text/plain`.")


ContentItem = Annotated[
    Annotated[TextBlock, Tag("text")] | Annotated[ImageBlock, Tag("image")],
    Discriminator(lambda v: _tag(v, ("text", "image"))),
    Takes("a text or image block"),
]


class ContentSource(Shape):
    """A document given as its text and images."""

    type: Literal["content"]
    content: Annotated[
        Annotated[str, Tag("string")] | Annotated[list[ContentItem], Tag("array")],
        BY_KIND,
        Takes("a string or an array of blocks"),
    ]


class DocumentUrl(Shape):
    """A PDF Anthropic fetches: only an Anthropic model can read it."""

    type: Literal["url"]
    url: String


_DOCUMENT_SOURCES = ("base64", "text", "content", "url", "file")
DocumentSource = Annotated[
    Annotated[Base64Pdf, Tag("base64")]
    | Annotated[PlainTextSource, Tag("text")]
    | Annotated[ContentSource, Tag("content")]
    | Annotated[DocumentUrl, Tag("url")]
    | Annotated[FileSource, Tag("file")],
    Discriminator(lambda v: _tag(v, _DOCUMENT_SOURCES)),
    _source(*_DOCUMENT_SOURCES),
]


class DocumentBlock(Shape):
    type: Literal["document"]
    source: DocumentSource
    citations: Annotated[Object | None, Field(description='`{"enabled": true}`: cited.')] = None
    title: Any = _pass("The document's title.")
    context: Any = _pass("Context about the document.")
    cache_control: CacheControl


TextItem = Annotated[
    Annotated[TextBlock, Tag("text")],
    Discriminator(lambda v: _tag(v, ("text",))),
    Takes("a text block"),
]
TextBlocks = list[TextItem]


class SearchResultBlock(Shape):
    type: Literal["search_result"]
    title: String
    source: String
    content: Annotated[TextBlocks, Takes("an array of text blocks")]
    citations: Any = _pass('`{"enabled": true}`: cited.')
    cache_control: CacheControl


def _server_block(place: str, *types: str) -> Any:
    """The `type` of a server-tool block, in a turn that may also hold `types`."""
    return Takes(
        f"one of {', '.join(types)} (or an Anthropic server-tool block){place}", bounded=False
    )


class ServerBlockInResult(Shape):
    """A block of Anthropic's own tools: taken as it is, for an Anthropic model only."""

    type: Annotated[
        ServerBlockType, _server_block("", "text", "image", "document", "search_result")
    ]


_RESULT_BLOCKS = ("text", "image", "document", "search_result")
ResultItem = Annotated[
    Annotated[TextBlock, Tag("text")]
    | Annotated[ImageBlock, Tag("image")]
    | Annotated[DocumentBlock, Tag("document")]
    | Annotated[SearchResultBlock, Tag("search_result")]
    | Annotated[ServerBlockInResult, Tag("server")],
    Discriminator(lambda v: _tag(v, _RESULT_BLOCKS, "server")),
    Takes("an object with a 'type'"),
]


class ToolResultBlock(Shape):
    type: Literal["tool_result"]
    tool_use_id: String
    cache_control: CacheControl
    is_error: Boolean | None = None
    content: (
        Annotated[
            Annotated[str, Tag("string")] | Annotated[list[ResultItem], Tag("array")],
            BY_KIND,
            Takes("a string or an array of content blocks"),
        ]
        | None
    ) = None


class ToolUseBlock(Shape):
    type: Literal["tool_use"]
    id: String
    name: String
    cache_control: CacheControl
    input: Object


class ThinkingBlock(Shape):
    """Claude's reasoning, signed: only an Anthropic model reads it back."""

    type: Literal["thinking"]
    thinking: String
    signature: String | None = None


class RedactedThinkingBlock(Shape):
    type: Literal["redacted_thinking"]
    data: String


USER_BLOCKS = ("text", "image", "document", "search_result", "tool_result")
ASSISTANT_BLOCKS = ("text", "tool_use", "thinking", "redacted_thinking")


class ServerBlockInUser(Shape):
    type: Annotated[ServerBlockType, _server_block(" in user messages", *USER_BLOCKS)]


class ServerBlockInAssistant(Shape):
    type: Annotated[ServerBlockType, _server_block(" in assistant messages", *ASSISTANT_BLOCKS)]


UserBlock = Annotated[
    Annotated[TextBlock, Tag("text")]
    | Annotated[ImageBlock, Tag("image")]
    | Annotated[DocumentBlock, Tag("document")]
    | Annotated[SearchResultBlock, Tag("search_result")]
    | Annotated[ToolResultBlock, Tag("tool_result")]
    | Annotated[ServerBlockInUser, Tag("server")],
    Discriminator(lambda v: _tag(v, USER_BLOCKS, "server")),
    Takes("an object with a 'type'"),
]
AssistantBlock = Annotated[
    Annotated[TextBlock, Tag("text")]
    | Annotated[ToolUseBlock, Tag("tool_use")]
    | Annotated[ThinkingBlock, Tag("thinking")]
    | Annotated[RedactedThinkingBlock, Tag("redacted_thinking")]
    | Annotated[ServerBlockInAssistant, Tag("server")],
    Discriminator(lambda v: _tag(v, ASSISTANT_BLOCKS, "server")),
    Takes("an object with a 'type'"),
]
