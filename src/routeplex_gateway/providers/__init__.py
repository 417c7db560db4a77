"""Providers: one module per wire format behind the `canonical.Provider` interface, the
descriptor of each built-in provider (`descriptor`), and the per-process instances.

Adding a provider touches its module, one descriptor in `descriptor.BUILTIN`, its models in
`routing/models.toml`, and its tests.
"""

from __future__ import annotations

from ..canonical import Provider
from .descriptor import Auth, Descriptor, builtin, by_family, by_kind, public_name

__all__ = [
    "Auth",
    "Descriptor",
    "ProviderRegistry",
    "builtin",
    "by_family",
    "by_kind",
    "public_name",
]


class ProviderRegistry:
    """One provider instance (and so one pooled session) per wire format, made on first use."""

    def __init__(self) -> None:
        self._instances: dict[str, Provider] = {}

    def get(self, kind: str) -> Provider:
        provider = self._instances.get(kind)
        if provider is None:
            descriptor = by_kind(kind)
            if descriptor is None:
                raise KeyError(kind)
            provider = self._instances[kind] = descriptor.make()
        return provider

    def supports(self, kind: str) -> bool:
        return by_kind(kind) is not None

    async def close(self) -> None:
        for provider in self._instances.values():
            await provider.close()
        self._instances.clear()
