"""The request every surface decodes into and every provider encodes from.

`ChatRequest` is typed all the way down (messages of `content` parts, tools, tool choice,
response format, sampling, reasoning); the gateway's own steps (routing, admission, the
estimate) read only these fields.

What one wire format can say and the others cannot travels in two tagged forms, read only
by the provider of that wire format:

* `Opaque`: a content part the gateway does not model (Anthropic's server-tool blocks, an
  OpenAI part type newer than this code), kept as the caller sent it. Other providers refuse
  it, and the routing is narrowed to the models that can read it.
* `NativeRequest`: the whole body as the caller sent it, when it came in a provider's wire
  format (OpenAI's Chat Completions or Responses, Anthropic's Messages). That provider
  forwards it as it is — no lossy round trip through the canonical shape — with only the
  model, `stream` and an output cap the gateway lowered changed (and, for the Responses
  API, `store` forced off).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .content import CacheMark, Message, Opaque

ChoiceMode = Literal["auto", "none", "required"]
Effort = Literal["none", "minimal", "low", "medium", "high"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Tool:
    """A function the model may call. `parameters` is the JSON schema of its arguments."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    cache: CacheMark | None = None


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """`mode` with, for a forced or allowed-tools choice, the names; `parallel` False when
    the caller asked for at most one call per turn (None: the provider's default)."""

    mode: ChoiceMode
    names: tuple[str, ...] = ()
    parallel: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseFormat:
    """JSON output: any object (`schema` None) or one JSON schema."""

    schema: dict[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reasoning:
    """How much the model should think: an `effort`, or an explicit token `budget`
    (Anthropic's `budget_tokens`); `effort` "none" turns thinking off."""

    effort: Effort | None = None
    budget: int | None = None


@dataclass(slots=True, kw_only=True)
class Sampling:
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    n: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = None


@dataclass(slots=True)
class NativeRequest:
    """A request as the caller sent it in a provider's own wire format.

    `body` is the caller's validated body, forwarded untouched but for the model, `stream`
    and an output cap lowered by the gateway; `headers` the caller's headers that go with it
    (`anthropic-beta`), never its credentials. Read-only by convention (one per request:
    a frozen dataclass's __init__ costs about 2.5x).
    """

    wire: str  # "openai", "openai-responses", "anthropic"
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class ChatRequest:
    """A chat request in the gateway's own terms."""

    messages: list[Message]
    stream: bool = False
    max_output_tokens: int | None = None
    # Function tools; a tool of a kind only one wire format has (a server tool) is `Opaque`.
    tools: tuple[Tool | Opaque, ...] = ()
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    reasoning: Reasoning | None = None
    sampling: Sampling = field(default_factory=Sampling)
    user: str | None = None  # the caller's end-user id (OpenAI `user`, Anthropic metadata)
    # OpenAI's Predicted Output: text the answer is expected to repeat (billed as output
    # when rejected); other providers ignore it.
    prediction: str | None = None
    # True when the gateway, not the caller, set `max_output_tokens` (to bound the request
    # by what its budget reserved); OpenAI itself then gets `max_completion_tokens`.
    output_cap_added: bool = False
    # True when the surface's clients send one fixed cap whatever the model (Claude Code asks
    # 32,000 of every model): a cap above the chosen model's maximum is lowered to it rather
    # than refused.
    cap_to_model: bool = False
    native: NativeRequest | None = None

    def native_for(self, wire: str) -> dict[str, Any] | None:
        """The caller's own body when it came in `wire`'s format, else None."""
        native = self.native
        return native.body if native is not None and native.wire == wire else None
