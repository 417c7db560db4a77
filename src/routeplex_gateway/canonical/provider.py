"""Where a model is served (`Deployment`) and what serves it (`Provider`): the contract every
provider module implements, translating the canonical request and answer both ways."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..data_policy import UNKNOWN, DataPolicy
from .embedding import EmbeddingRequest, EmbeddingResponse
from .request import ChatRequest
from .response import ChatResponse, ChatStream


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
    # What its provider does with the traffic (retention, training, regions): routing sends a
    # request only where this meets the caller's requirement.
    data_policy: DataPolicy = UNKNOWN
    # The policy's label, made once: every answer it serves carries it in a header.
    data_policy_label: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.data_policy_label = self.data_policy.label()

    @property
    def id(self) -> str:
        return f"{self.provider}:{self.upstream_model}"


class Provider(Protocol):
    """One wire format. Translation to and from it happens only inside its module."""

    kind: str

    async def complete(self, request: ChatRequest, deployment: Deployment) -> ChatResponse: ...

    async def stream(self, request: ChatRequest, deployment: Deployment) -> ChatStream: ...

    async def close(self) -> None: ...


@runtime_checkable
class Embedder(Protocol):
    """A provider whose wire format has an embeddings endpoint (OpenAI's, Gemini's);
    `embeds_token_ids` when it also takes inputs as token ids (OpenAI's tokenizer's)."""

    embeds_token_ids: bool

    async def embed(
        self, request: EmbeddingRequest, deployment: Deployment
    ) -> EmbeddingResponse: ...
