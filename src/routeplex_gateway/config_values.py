"""The kinds of value settings are made of: URLs of the right scheme, IP networks, durations,
counts, ports and provider kinds. Each check's message names what is expected, never the
value (a URL may hold a password).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from .providers.descriptor import builtin, by_kind
from .storage.connection import async_url


def _schemes(*schemes: str) -> Callable[[str], str]:
    """A check that a URL has one of `schemes`; its message names them, never the URL (which
    may hold a password)."""
    *others, last = [f"{scheme}://" for scheme in schemes]
    accepted = f"{', '.join(others)} or {last}"

    def check(url: str) -> str:
        if urlsplit(url).scheme.lower() not in schemes:
            raise ValueError(f"expected a URL starting {accepted}")
        return url

    return check


def _database(url: str) -> str:
    async_url(url)  # the store's own rule, so the two cannot disagree
    return url


def _networks(value: str) -> str:
    """Comma-separated IP addresses and CIDR networks, normalised (`10.0.0.1/8` is
    `10.0.0.0/8`); anything else is refused rather than silently never matching."""
    networks = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
    return ",".join(networks)


def _builtin_kind(kind: str) -> str:
    """A wire format the gateway has a provider for (its message is a literal's)."""
    kinds = [repr(d.kind) for d in builtin()]
    if by_kind(kind) is None:
        raise ValueError(f"expected one of {', '.join(kinds[:-1])} or {kinds[-1]}")
    return kind


HttpUrl = Annotated[str, AfterValidator(_schemes("http", "https"))]
Networks = Annotated[str, AfterValidator(_networks)]
ProviderKind = Annotated[str, AfterValidator(_builtin_kind)]
RedisUrl = Annotated[str, AfterValidator(_schemes("redis", "rediss", "unix"))]
DatabaseUrl = Annotated[str, AfterValidator(_database)]
# Durations and sizes: a zero, negative, infinite or NaN one has no sensible meaning.
Seconds = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=1)]
Port = Annotated[int, Field(ge=0, le=65535)]
