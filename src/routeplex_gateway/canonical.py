"""The one internal request / response / stream / usage shape every provider speaks.

OpenAI Chat Completions is the lingua franca: a `ChatRequest` carries an OpenAI-shaped body,
a `ChatResponse` an OpenAI `chat.completion`, and a `ChatStream` yields encoded
`chat.completion.chunk` payloads. Providers translate to and from their wire format at the
edge; everything else in the gateway sees only these types. Keeping the body as a dict (not a
validated model) is deliberate: OpenAI-shaped providers get every field passed through
untouched, and the hot path parses only what it needs.

One exception to the lingua franca: a request that arrived in a provider's own wire format
(Anthropic's Messages API) carries that body as well (`NativeRequest`); when it is served by
that provider it is forwarded as it is, and the answer comes back in that format too
(`ChatResponse.native`, `Chunk.native`) beside its OpenAI translation, which metering and
the other surfaces keep reading.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson


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


@dataclass(slots=True, kw_only=True)
class Deployment:
    """Where one model is served: a provider endpoint, its key and its name for the model."""

    provider: str  # endpoint name: a built-in's public name ("openai", "google"), or "groq"
    kind: str  # wire format: "openai", "anthropic", "gemini"
    base_url: str
    api_key: str = field(repr=False)
    upstream_model: str
    weight: int = 1
    timeout_s: float = 120.0
    # The model's own output cap (catalog `max_output_tokens`): providers whose API requires
    # a `max_tokens` (Anthropic) send it when the caller gave none.
    max_output_tokens: int | None = None
    # The catalog's `temperature_with_top_p` capability: False when the model refuses both.
    temperature_with_top_p: bool = True
    # Whether a non-streamed call that timed out after it was sent may be retried elsewhere.
    retry_started_timeouts: bool = False

    @property
    def id(self) -> str:
        return f"{self.provider}:{self.upstream_model}"


@dataclass(slots=True, frozen=True)
class NativeRequest:
    """A request as the caller sent it in a provider's own wire format.

    `body` is the caller's validated body, forwarded untouched but for the model, `stream`
    and an output cap lowered by the gateway; `headers` the caller's headers that go with it
    (`anthropic-beta`), never its credentials.
    """

    wire: str  # "anthropic"
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass(slots=True, kw_only=True)
class ChatRequest:
    """A chat request in OpenAI shape, with the few fields the gateway itself acts on.

    `native`: the same request in a provider's wire format, when the caller sent it so; the
    provider of that format forwards it instead of translating `body` (which is still the
    request's OpenAI translation, for every other provider, admission and routing).
    """

    body: dict[str, Any]
    stream: bool
    max_output_tokens: int | None
    # True when the gateway, not the caller, put `max_tokens` in the body (to bound the
    # request by what its budget reserved); OpenAI itself then gets `max_completion_tokens`.
    output_cap_added: bool = False
    # True when the surface's clients send one fixed cap whatever the model (Claude Code asks
    # 32,000 of every model): a cap above the chosen model's maximum is lowered to it rather
    # than refused.
    cap_to_model: bool = False
    native: NativeRequest | None = None


@dataclass(slots=True, kw_only=True)
class ChatResponse:
    """A finished `chat.completion` body and the usage read from it.

    `native`: for a request forwarded in its own wire format, the provider's answer exactly
    as received (parsed JSON); `body` and `usage` are its translation all the same.
    """

    body: dict[str, Any]
    usage: Usage
    native: dict[str, Any] | None = None


@dataclass(slots=True)
class Chunk:
    """One `chat.completion.chunk`: its parsed form, and its encoding when it has one.

    OpenAI-shaped upstreams hand over the bytes they sent, which are relayed as they are
    (no re-encoding); translated providers build `data` and leave `raw` empty.

    `native` is set only on the stream of a request forwarded in its own wire format: the
    upstream's SSE events this chunk stands for, byte for byte (line endings as LF), which
    that format's relay writes instead of `data`. `b""` means nothing of its own (one event
    can translate to several chunks; its bytes ride on the first of them).
    """

    data: dict[str, Any]
    raw: bytes | None = None
    # More chunks already arrived with this one: a relay may hold it and send them together
    # (one write instead of many, and no later than it would have been sent anyway).
    more: bool = False
    native: bytes | None = None

    def generated(self) -> str:
        """The text the model generated in this chunk: content, and tool-call arguments."""
        pieces = []
        for choice in self.data.get("choices") or ():
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if isinstance(content, str):
                pieces.append(content)
            for call in delta.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, dict) else None
                arguments = function.get("arguments") if isinstance(function, dict) else None
                if isinstance(arguments, str):
                    pieces.append(arguments)
        return "".join(pieces)

    def encoded(self) -> bytes:
        if self.raw is None:
            self.raw = orjson.dumps(self.data)
        return self.raw


class ChatStream(Protocol):
    """A started stream: iterate for `Chunk`s of `chat.completion.chunk`.

    The provider has already received the response headers when a stream is returned, so a
    failure before the first byte raises from `Provider.stream`, not from iteration. After
    iteration ends, `usage` and `finish_reason` hold what the provider reported (usage `None`
    members when it reported nothing). The provider's own final usage chunk is consumed here,
    not yielded: the gateway writes the final chunk itself.
    """

    usage: Usage
    finish_reason: str | None

    def __aiter__(self) -> AsyncIterator[Chunk]: ...

    async def aclose(self) -> None: ...


class Provider(Protocol):
    """One wire format. Translation to and from it happens only inside its module."""

    kind: str

    async def complete(self, request: ChatRequest, deployment: Deployment) -> ChatResponse: ...

    async def stream(self, request: ChatRequest, deployment: Deployment) -> ChatStream: ...

    async def close(self) -> None: ...
