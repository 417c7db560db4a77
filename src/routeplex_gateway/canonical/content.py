"""A conversation in the gateway's own terms: messages made of typed parts.

Every surface decodes its wire messages into these, and every provider encodes these into its
own; nothing past a codec sees a wire format's message dicts. The parts are the union of what
the three wire formats (OpenAI, Anthropic, Gemini) can say:

* `Text`, `Image`, `Audio`, `Document`: what the user (or a tool result) shows the model.
* `ToolCall` and `ToolResult`: one round of the agent loop. A call's `arguments` are the JSON
  text the model produced (OpenAI keeps text, Anthropic and Gemini objects: text is the one
  that round-trips exactly, even when the model's JSON is not an object).
* `Thinking`: the model's reasoning with the provider's `signature`, which only that provider
  can verify (a redacted block is `redacted`, its opaque data in `signature`).
* `Refusal`: an assistant turn's refusal (OpenAI's `refusal`).
* `CacheMark`: a prompt-caching breakpoint after the part (Anthropic's `cache_control`).
* `Opaque`: a part only one wire format's provider can read (see `request`).

Tool results are the parts of a `tool` message (OpenAI's shape: Anthropic's user turn holding
`tool_result` blocks decodes into a tool message and, for its other blocks, a user message).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class CacheMark:
    """Cache the prompt up to and including this part (`ttl` "5m" or "1h"; None: default)."""

    ttl: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Media:
    """Bytes of an image, audio clip or document: inline as base64 `data`, or at a `url`.

    `media_type` is None only for a URL whose type the caller did not say.
    """

    media_type: str | None
    data: str | None = None
    url: str | None = None

    @property
    def data_url(self) -> str:
        """The media as OpenAI carries it: its URL, or a `data:` URL of the bytes."""
        if self.url is not None:
            return self.url
        return f"data:{self.media_type or 'application/octet-stream'};base64,{self.data or ''}"


# Text and Message are made for every turn of every request, so they are not `frozen`
# (read-only by convention): a frozen dataclass's __init__ sets each field through
# object.__setattr__, about 2.5x the cost.
@dataclass(slots=True)
class Text:
    text: str
    cache: CacheMark | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    media: Media
    detail: str | None = None  # OpenAI's "low" / "high" / "auto"
    cache: CacheMark | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Audio:
    media: Media  # inline; media_type "audio/wav", "audio/mp3"…
    cache: CacheMark | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A file the model reads (a PDF): inline, or by URL where the provider fetches it."""

    media: Media
    filename: str | None = None
    title: str | None = None
    cache: CacheMark | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model produced it ("" when it gave none)
    cache: CacheMark | None = None


@dataclass(frozen=True, slots=True)
class Opaque:
    """A content part only `wire`'s provider can read, as the caller sent it (`value`)."""

    wire: str
    value: Any
    # What the part is, for errors and for the routing's narrowing: a JSON path and a name
    # the caller's API documents ("messages[2].content[0]", "a web_search_tool_result").
    where: str = ""


ResultPart = Text | Image | Document | Opaque


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult:
    call_id: str
    parts: tuple[ResultPart, ...]
    is_error: bool = False
    cache: CacheMark | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Thinking:
    text: str
    signature: str | None = None
    redacted: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    text: str


Part = Text | Image | Audio | Document | ToolCall | ToolResult | Thinking | Refusal | Opaque


@dataclass(slots=True)
class Message:
    """One turn. A `system` message may stand anywhere (OpenAI allows it; other providers get
    a later one where it stood, see each provider); a `tool` message holds only `ToolResult`s."""

    role: Role
    parts: tuple[Part, ...]
    name: str | None = None  # OpenAI's participant name

    def text(self) -> str:
        """The message's text parts joined (a system prompt, a plain user turn)."""
        return "\n".join(p.text for p in self.parts if isinstance(p, Text))
