"""Providers: one module per wire format behind the `canonical.Provider` interface, and the
descriptor of each built-in provider.

Adding a provider touches its module, one descriptor in `BUILTIN`, and its tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..canonical import Provider
from ..config import ProviderKind
from .anthropic import AnthropicProvider
from .gemini import GeminiProvider
from .openai import OpenAIProvider


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A built-in provider.

    `kind` is its wire format and its name in configuration (`kind = "gemini"`, the
    `GEMINI_*` variables, `provider = "gemini"` in models.toml); `name` is what the public API
    calls it — in responses, the model list and the metadata — which is the name RoutePlex's
    official SDKs use (`openai`, `anthropic`, `google`).
    """

    kind: ProviderKind
    name: str
    default_base_url: str
    make: Callable[[], Provider]


BUILTIN: tuple[Descriptor, ...] = (
    Descriptor("openai", "openai", "https://api.openai.com/v1", OpenAIProvider),
    Descriptor("anthropic", "anthropic", "https://api.anthropic.com", AnthropicProvider),
    Descriptor("gemini", "google", "https://generativelanguage.googleapis.com", GeminiProvider),
)
DESCRIPTORS: dict[str, Descriptor] = {d.kind: d for d in BUILTIN}


def public_name(kind: str) -> str:
    """The public name of a provider family, from its wire format."""
    descriptor = DESCRIPTORS.get(kind)
    return descriptor.name if descriptor is not None else kind


class ProviderRegistry:
    """One provider instance (and so one pooled session) per wire format, made on first use."""

    def __init__(self) -> None:
        self._instances: dict[str, Provider] = {}

    def get(self, kind: str) -> Provider:
        provider = self._instances.get(kind)
        if provider is None:
            provider = self._instances[kind] = DESCRIPTORS[kind].make()
        return provider

    def supports(self, kind: str) -> bool:
        return kind in DESCRIPTORS

    async def close(self) -> None:
        for provider in self._instances.values():
            await provider.close()
        self._instances.clear()
