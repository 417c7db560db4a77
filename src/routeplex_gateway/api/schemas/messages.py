"""The conversation: OpenAI's chat message, its content parts and tool calls, as every chat
surface built on OpenAI's messages takes them (`POST /v1/chat/completions`, `POST /api/v1/chat`
and its estimate).

Only types and the bounds OpenAI documents: a content part of a type OpenAI does not define
(or may define later) is the provider's to judge, and so are a message's fields not named here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, WithJsonSchema

from ...errors import ErrorCode
from .fields import BY_KIND, Shape, String, Takes

ROLES = ("assistant", "developer", "function", "system", "tool", "user")


def other_than(*values: str) -> Any:
    """A string that is none of `values`: the catch-all branch of a union chosen by a `type`
    (validated as any string; described as excluding the branches named beside it)."""
    return WithJsonSchema({"type": "string", "not": {"enum": list(values)}})


Role = Takes(f"one of {', '.join(ROLES)}")


class ImageUrl(Shape):
    """An image by URL (or data URL), with the detail it should be seen at."""

    url: str
    detail: String | None = None


class TextPart(Shape):
    type: Literal["text"]
    text: String


class RefusalPart(Shape):
    type: Literal["refusal"]
    refusal: String


class ImagePart(Shape):
    type: Literal["image_url"]
    image_url: Annotated[
        Annotated[str, Tag("string")] | Annotated[ImageUrl, Tag("object")],
        BY_KIND,
        Takes("a URL string or an object with a 'url' string"),
    ]


class InputAudio(Shape):
    data: str
    format: str


class AudioPart(Shape):
    type: Literal["input_audio"]
    input_audio: Annotated[InputAudio, Takes("an object with 'data' and 'format' strings")]


class FileRef(Shape):
    filename: String | None = None
    file_data: String | None = None
    file_id: String | None = None


class FilePart(Shape):
    type: Literal["file"]
    file: Annotated[FileRef, Takes("an object")]


_PARTS = ("text", "refusal", "image_url", "input_audio", "file")


class OtherPart(Shape):
    """A content part of another type, passed to the provider as it is."""

    type: Annotated[str, other_than(*_PARTS)]


def _part_type(part: Any) -> str | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if not isinstance(kind, str):
        return None
    return kind if kind in _PARTS else "other"


Part = Annotated[
    Annotated[TextPart, Tag("text")]
    | Annotated[RefusalPart, Tag("refusal")]
    | Annotated[ImagePart, Tag("image_url")]
    | Annotated[AudioPart, Tag("input_audio")]
    | Annotated[FilePart, Tag("file")]
    | Annotated[OtherPart, Tag("other")],
    Discriminator(_part_type),
    Takes("an object with a 'type'"),
]
Content = Annotated[
    Annotated[str, Tag("string")] | Annotated[list[Part], Tag("array")],
    BY_KIND,
    Takes("a string or an array of parts", required_for="user messages"),
]


class CallFunction(Shape):
    """A call's function: its `name`, and its `arguments` — JSON text, as OpenAI takes them
    (the translating providers also take the object itself)."""

    name: String
    arguments: Annotated[str | dict[str, Any], Takes("a string of JSON")] | None = None


Called = Annotated[CallFunction, Takes("an object with 'name' and 'arguments'")]


class CustomCall(Shape):
    name: str
    input: str


class FunctionToolCall(Shape):
    id: String | None = None
    type: Literal["function"] | None = None
    function: Called


class CustomToolCall(Shape):
    id: String | None = None
    type: Literal["custom"]
    custom: Annotated[CustomCall, Takes("an object with 'name' and 'input' strings")]


class OtherToolCall(Shape):
    """A tool call of another type, passed to the provider as it is."""

    id: String | None = None
    type: Annotated[String, other_than("function", "custom")]


def _call_type(call: Any) -> str | None:
    if not isinstance(call, dict):
        return None
    kind = call.get("type")
    return "function" if kind is None else kind if kind in ("function", "custom") else "other"


ToolCall = Annotated[
    Annotated[FunctionToolCall, Tag("function")]
    | Annotated[CustomToolCall, Tag("custom")]
    | Annotated[OtherToolCall, Tag("other")],
    Discriminator(_call_type),
]


class AudioRef(Shape):
    id: str


class _MessageFields(Shape):
    name: String | None = None
    tool_call_id: String | None = None
    refusal: String | None = None
    tool_calls: Annotated[list[ToolCall], Takes("an array of tool call objects")] | None = None
    function_call: Called | None = None
    audio: Annotated[AudioRef, Takes("an object with an 'id' string")] | None = None


class UserMessage(_MessageFields):
    """A message from the user: its content is required."""

    role: Annotated[Literal["user"], Role]
    content: Content


class Message(_MessageFields):
    """A message of any other role."""

    role: Annotated[Literal["assistant", "developer", "function", "system", "tool"], Role]
    content: Content | None = None


def _message_role(message: Any) -> str | None:
    if not isinstance(message, dict):
        return None
    return "user" if message.get("role") == "user" else "other"


Messages = Annotated[
    list[
        Annotated[
            Annotated[UserMessage, Tag("user")] | Annotated[Message, Tag("other")],
            Discriminator(_message_role),
            Takes("an object"),
        ]
    ],
    Field(min_length=1),
    Takes("an array of message objects", empty=ErrorCode.EMPTY_MESSAGES),
]
