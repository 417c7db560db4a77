"""The `input` of `POST /v1/responses`: a string, or OpenAI's input items as the gateway checks
them — messages (with input_text / input_image / input_file parts, or an assistant's
output_text / refusal parts), function_call and function_call_output items, reasoning items.

Items of another type (a built-in tool's call or output, an `item_reference` to stored state)
pass the schema as "other": the decoder refuses them with a message naming what they are,
which a schema error could not say without quoting the caller's value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from .fields import BY_KIND, Shape, String, Takes
from .messages import other_than

ROLES = ("user", "assistant", "system", "developer")
PART_TYPES = ("input_text", "input_image", "input_file", "input_audio", "output_text", "refusal")
ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning")


class ResponsesInputText(Shape):
    type: Literal["input_text"]
    text: String


class ResponsesOutputText(Shape):
    """An assistant's earlier text, as the Responses API returned it (annotations ignored)."""

    type: Literal["output_text"]
    text: String


class ResponsesRefusal(Shape):
    type: Literal["refusal"]
    refusal: String


class ResponsesInputImage(Shape):
    """An image by URL or data URL (`image_url`), or a Files API `file_id` (OpenAI only)."""

    type: Literal["input_image"]
    image_url: String | None = None
    file_id: String | None = None
    detail: String | None = None


class ResponsesInputFile(Shape):
    """A file inline (`file_data`, a data URL or base64), by URL, or by Files API id."""

    type: Literal["input_file"]
    file_data: String | None = None
    file_url: String | None = None
    file_id: String | None = None
    filename: String | None = None


class ResponsesAudioData(Shape):
    data: str
    format: str


class ResponsesInputAudio(Shape):
    type: Literal["input_audio"]
    input_audio: Annotated[ResponsesAudioData, Takes("an object with 'data' and 'format' strings")]


class ResponsesOtherPart(Shape):
    type: Annotated[str, other_than(*PART_TYPES), Takes("a string")]


def _part_type(part: Any) -> str | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if not isinstance(kind, str):
        return None
    return kind if kind in PART_TYPES else "other"


ResponsesPart = Annotated[
    Annotated[ResponsesInputText, Tag("input_text")]
    | Annotated[ResponsesOutputText, Tag("output_text")]
    | Annotated[ResponsesRefusal, Tag("refusal")]
    | Annotated[ResponsesInputImage, Tag("input_image")]
    | Annotated[ResponsesInputFile, Tag("input_file")]
    | Annotated[ResponsesInputAudio, Tag("input_audio")]
    | Annotated[ResponsesOtherPart, Tag("other")],
    Discriminator(_part_type),
    Takes("an object with a 'type' (input_text, input_image, input_file, output_text…)"),
]
ResponsesContent = Annotated[
    Annotated[str, Tag("string")] | Annotated[list[ResponsesPart], Tag("array")],
    BY_KIND,
    Takes("a string or an array of content parts"),
]


class ResponsesMessage(Shape):
    """A message item: `role` and `content` (`type: "message"` may be left out)."""

    type: Literal["message"] | None = None
    role: Annotated[
        Literal["user", "assistant", "system", "developer"], Takes(f"one of {', '.join(ROLES)}")
    ]
    content: ResponsesContent
    id: String | None = None
    status: String | None = None


class ResponsesFunctionCall(Shape):
    """A function call the model made in an earlier turn."""

    type: Literal["function_call"]
    call_id: Annotated[str, Field(min_length=1), Takes("a non-empty string")]
    name: Annotated[str, Field(min_length=1), Takes("a non-empty string")]
    arguments: String
    id: String | None = None
    status: String | None = None


ResponsesOutputContent = Annotated[
    Annotated[str, Tag("string")] | Annotated[list[ResponsesPart], Tag("array")],
    BY_KIND,
    Takes("a string or an array of content parts"),
]


class ResponsesFunctionCallOutput(Shape):
    """A function's result, answering the call of the same `call_id`."""

    type: Literal["function_call_output"]
    call_id: Annotated[str, Field(min_length=1), Takes("a non-empty string")]
    output: ResponsesOutputContent
    id: String | None = None
    status: String | None = None


class ResponsesSummaryText(Shape):
    type: String | None = None
    text: String


class ResponsesReasoning(Shape):
    """A reasoning model's earlier reasoning: its summary and/or text, and the provider's
    `encrypted_content` (what lets a stateless caller keep a reasoning model's thread)."""

    type: Literal["reasoning"]
    id: String | None = None
    summary: (
        Annotated[list[ResponsesSummaryText], Takes("an array of summary_text parts")] | None
    ) = None
    content: (
        Annotated[list[ResponsesSummaryText], Takes("an array of reasoning_text parts")] | None
    ) = None
    encrypted_content: String | None = None
    status: String | None = None


class ResponsesOtherItem(Shape):
    """An item of another type: refused by the decoder, which names what it is."""

    type: Annotated[str, other_than(*ITEM_TYPES), Takes("a string")]


def _item_type(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    kind = item.get("type")
    if kind is None and "role" in item:
        return "message"
    if not isinstance(kind, str):
        return None
    return kind if kind in ITEM_TYPES else "other"


ResponsesItem = Annotated[
    Annotated[ResponsesMessage, Tag("message")]
    | Annotated[ResponsesFunctionCall, Tag("function_call")]
    | Annotated[ResponsesFunctionCallOutput, Tag("function_call_output")]
    | Annotated[ResponsesReasoning, Tag("reasoning")]
    | Annotated[ResponsesOtherItem, Tag("other")],
    Discriminator(_item_type),
    Takes("an input item: a message (with 'role' and 'content') or an object with a 'type'"),
]
ResponsesInput = Annotated[
    Annotated[str, Field(min_length=1), Tag("string")]
    | Annotated[list[ResponsesItem], Field(min_length=1), Tag("array")],
    BY_KIND,
    Takes("a non-empty string or a non-empty array of input items"),
]
