"""What Anthropic's surface answers: a `message`, its stream's events, the count of a prompt's
tokens, the model list and a model, and Anthropic's error envelope.

An answer from an Anthropic model is relayed as Anthropic sent it (its blocks may be of
Anthropic's server tools), so a message's blocks are described open, by their `type`.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import ConfigDict
from typing_extensions import TypedDict

from .openai_chat import RoutePlexInfo


class AnthropicUsage(TypedDict):
    """Input without the cache reads and writes, as Anthropic counts it."""

    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: NotRequired[int | None]
    cache_read_input_tokens: NotRequired[int | None]


class AnswerBlock(TypedDict):
    """A block of the answer: `text`, `tool_use` (`id`, `name`, `input`), `thinking`…"""

    type: str


class AnthropicMessage(TypedDict):
    """Anthropic's `message`, plus `x_routeplex`."""

    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[AnswerBlock]
    stop_reason: str | None
    stop_sequence: NotRequired[str | None]
    usage: AnthropicUsage
    x_routeplex: RoutePlexInfo


class TokenCount(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    input_tokens: int


class AnthropicModel(TypedDict):
    type: Literal["model"]
    id: str
    display_name: str
    created_at: str
    max_input_tokens: NotRequired[int | None]
    max_tokens: NotRequired[int | None]


class AnthropicModelList(TypedDict):
    """A page of the models, newest first (`after_id` / `before_id`, `limit`)."""

    data: list[AnthropicModel]
    has_more: bool
    first_id: str | None
    last_id: str | None


class AnthropicErrorBody(TypedDict):
    type: str  # invalid_request_error, authentication_error, rate_limit_error, …
    message: str


class AnthropicError(TypedDict):
    """Anthropic's error envelope; `request_id` is the gateway's id of the request."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    type: Literal["error"]
    error: AnthropicErrorBody
    request_id: NotRequired[str]


STREAM_EVENTS = (
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
)
STREAM_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "One server-sent event, framed as Anthropic frames them: `event:` names it "
    "and `data:` is its JSON object (whose `type` is the same name). A failed stream ends with "
    "an `error` event holding Anthropic's error envelope, and no `message_stop`.",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": list(STREAM_EVENTS)},
        "data": {"type": "string"},
    },
}
