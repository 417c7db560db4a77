"""Providers: one module per wire format behind the `canonical.Provider` interface.

Adding a provider touches its module, one line in `PROVIDERS`, and its tests.
"""

from __future__ import annotations

from collections.abc import Callable

from ..canonical import Provider
from .anthropic import AnthropicProvider
from .gemini import GeminiProvider
from .openai import OpenAIProvider

PROVIDERS: dict[str, Callable[[], Provider]] = {
    "openai": OpenAIProvider,
    "anthropic": AnthropicProvider,
    "gemini": GeminiProvider,
}


class ProviderRegistry:
    """One provider instance (and so one pooled session) per wire format, made on first use."""

    def __init__(self) -> None:
        self._instances: dict[str, Provider] = {}

    def get(self, kind: str) -> Provider:
        provider = self._instances.get(kind)
        if provider is None:
            provider = self._instances[kind] = PROVIDERS[kind]()
        return provider

    def supports(self, kind: str) -> bool:
        return kind in PROVIDERS

    async def close(self) -> None:
        for provider in self._instances.values():
            await provider.close()
        self._instances.clear()
