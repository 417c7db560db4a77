"""What a provider answers, in the gateway's own terms: a whole answer, or a stream of deltas.

`ChatResponse` is the assistant's turn as typed parts (text, thinking, tool calls, refusal)
with its finish reason, usage and log probabilities; a stream is `Chunk`s of typed `Delta`s.
Every surface encodes these into its own wire shape.

A provider also hands over what it received (`ChatResponse.native`, `Chunk.native`), tagged
with its wire format: a surface of that same format relays it as it came (every field the
provider sent, no re-encoding on the hot path); any other surface reads the typed form.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .content import Refusal, Text, Thinking, ToolCall

# Why the model stopped: its own end (or a stop sequence), the output cap, to call tools,
# or the provider's content filter (Anthropic's `refusal` stop included).
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(slots=True)
class Usage:
    """Token counts as the provider reported them. `None` is unknown, never zero.

    Conventions (those of genai-prices): `input_tokens` counts every prompt token, cache reads
    and writes included; `output_tokens` counts every generated token, reasoning included.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    # Finer splits that price differently (genai-prices' units), each a part of the count
    # above it: 1-hour cache writes of `cache_write_tokens` (Anthropic bills them at 2x the
    # input rate, 5-minute writes at 1.25x); audio tokens of `input_tokens` (cache reads
    # included) and of `cache_read_tokens` (Gemini bills audio above text).
    cache_write_1h_tokens: int | None = None
    input_audio_tokens: int | None = None
    cache_audio_read_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None or self.output_tokens is None:
            return None
        return self.input_tokens + self.output_tokens

    @property
    def known(self) -> bool:
        return self.input_tokens is not None and self.output_tokens is not None

    def details(self) -> dict[str, int | None]:
        """The counts OpenAI's usage object has no place for, and the ones it would show as
        0 when unknown: `x_routeplex.usage_details` (None is unknown)."""
        return {
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_write_1h_tokens": self.cache_write_1h_tokens,
            "input_audio_tokens": self.input_audio_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }

    def openai(self) -> dict[str, Any]:
        """The usage object of an OpenAI chat completion (call only when `known`). A detail
        the provider did not report is left out rather than shown as 0 (OpenAI's schema has
        no null for it); `x_routeplex.usage_details` shows it as null."""
        prompt_details: dict[str, int] = {}
        if self.cache_read_tokens is not None:
            prompt_details["cached_tokens"] = self.cache_read_tokens
        if self.input_audio_tokens is not None:
            prompt_details["audio_tokens"] = self.input_audio_tokens
        completion_details: dict[str, int] = {}
        if self.reasoning_tokens is not None:
            completion_details["reasoning_tokens"] = self.reasoning_tokens
        return {
            "prompt_tokens": self.input_tokens or 0,
            "completion_tokens": self.output_tokens or 0,
            "total_tokens": self.total_tokens or 0,
            "prompt_tokens_details": prompt_details,
            "completion_tokens_details": completion_details,
        }


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One generated token's log probability, with the likeliest alternatives (`top`)."""

    token: str
    logprob: float
    top: tuple[TokenLogprob, ...] | None = None


AnswerPart = Text | Thinking | ToolCall | Refusal


@dataclass(slots=True, kw_only=True)
class ChatResponse:
    """A finished answer: the assistant's turn and what it cost.

    `native`: the provider's body as received (parsed JSON), in `wire`'s format.
    """

    id: str
    model: str
    parts: list[AnswerPart]
    finish_reason: FinishReason | None
    usage: Usage
    created: int = 0  # Unix seconds; 0 when the provider did not say
    stop_sequence: str | None = None  # the caller's stop sequence that ended it, when known
    logprobs: list[TokenLogprob] | None = None
    wire: str = ""
    native: dict[str, Any] | None = None

    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, Text))

    def native_for(self, wire: str) -> dict[str, Any] | None:
        """The provider's own body when it is in `wire`'s format, else None."""
        return self.native if self.wire == wire else None


# A stream's typed events. Tool calls are numbered by `index` in the order they start.
# Made per chunk, so not `frozen` (read-only by convention): a frozen dataclass's __init__
# sets each field through object.__setattr__, measured at 330 ns a TextDelta against 130 ns.


@dataclass(slots=True)
class TextDelta:
    text: str
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass(slots=True)
class ThinkingDelta:
    """Reasoning text, or (at a thinking block's end) its `signature`; `redacted` for a
    redacted block, its opaque data in `signature`."""

    text: str = ""
    signature: str | None = None
    redacted: bool = False


@dataclass(slots=True)
class ToolCallStart:
    index: int
    id: str
    name: str


@dataclass(slots=True)
class ToolArgumentsDelta:
    index: int
    fragment: str


@dataclass(slots=True)
class RefusalDelta:
    text: str


@dataclass(slots=True)
class Finish:
    reason: FinishReason
    stop_sequence: str | None = None


Delta = TextDelta | ThinkingDelta | ToolCallStart | ToolArgumentsDelta | RefusalDelta | Finish


@dataclass(slots=True)
class Chunk:
    """What arrived from the provider at once: its typed deltas, and its own encoding.

    `native` is the provider's bytes for this chunk in its stream's wire format (an OpenAI
    chunk's JSON; Anthropic's SSE events with LF line endings), relayed as they are by a
    surface of that format; `b""` means nothing of its own (one upstream event can become
    several chunks; its bytes ride on the first), None that there are none (a chunk the
    provider's module made up, such as an opening).
    """

    deltas: tuple[Delta, ...] = ()
    native: bytes | None = None
    # More chunks already arrived with this one: a relay may hold it and send them together
    # (one write instead of many, and no later than it would have been sent anyway).
    more: bool = False

    def generated(self) -> str:
        """The text the model generated in this chunk: content, reasoning, refusal, and
        tool-call arguments (what a stream cut short is charged for)."""
        deltas = self.deltas
        if len(deltas) == 1 and type(deltas[0]) is TextDelta:
            return deltas[0].text  # the usual chunk, asked of every one
        pieces = []
        for delta in self.deltas:
            if isinstance(delta, TextDelta | ThinkingDelta | RefusalDelta):
                pieces.append(delta.text)
            elif isinstance(delta, ToolArgumentsDelta):
                pieces.append(delta.fragment)
        return "".join(pieces)


class ChatStream(Protocol):
    """A started stream: iterate for `Chunk`s.

    The provider has already received the response headers when a stream is returned, so a
    failure before the first byte raises from `Provider.stream`, not from iteration. `wire`,
    `id`, `model` and `created` describe the answer (its first chunk may not have come yet).
    After iteration ends, `usage` and `finish_reason` hold what the provider reported (usage
    `None` members when it reported nothing). The provider's own final usage chunk is
    consumed here, not yielded: each surface writes its own ending.
    """

    wire: str
    id: str
    model: str
    created: int
    usage: Usage
    finish_reason: FinishReason | None

    def __aiter__(self) -> AsyncIterator[Chunk]: ...

    async def aclose(self) -> None: ...
