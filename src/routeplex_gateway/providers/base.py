"""What every provider shares: a pooled HTTP session and the mapping of upstream failures
to RoutePlex errors (code, status, retryable flag).

Upstream error texts are carried only in `GatewayError.provider_message`, which is relayed
to the caller and never logged or stored.
"""

from __future__ import annotations

import asyncio

import aiohttp

from ..errors import ErrorCode, GatewayError

# Retry-After values above this are not worth waiting for inside one request.
_MAX_RETRY_AFTER_S = 60.0


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(float(value), _MAX_RETRY_AFTER_S)
    except ValueError:
        return None


def upstream_error(
    provider: str, status: int, provider_message: str | None, retry_after: str | None = None
) -> GatewayError:
    """A provider's HTTP error status as a RoutePlex error."""
    if status in (401, 403):
        return GatewayError(
            ErrorCode.PROVIDER_ERROR,
            f"The provider '{provider}' rejected the gateway's credentials (HTTP {status}); "
            "the operator must fix the provider API key.",
            provider_message=provider_message,
            details={"provider": provider, "upstream_status": status},
        )
    if status in (429, 503, 529):
        return GatewayError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"The provider '{provider}' is rate limited or overloaded (HTTP {status}).",
            provider_message=provider_message,
            retryable=True,
            retry_after_s=_retry_after(retry_after),
            details={"provider": provider, "upstream_status": status},
        )
    if status == 408 or status == 504:
        return GatewayError(
            ErrorCode.PROVIDER_TIMEOUT,
            f"The provider '{provider}' timed out (HTTP {status}).",
            provider_message=provider_message,
            retryable=True,
            details={"provider": provider, "upstream_status": status},
        )
    retryable = status >= 500
    return GatewayError(
        ErrorCode.PROVIDER_ERROR,
        f"The provider '{provider}' returned an error (HTTP {status}).",
        provider_message=provider_message,
        retryable=retryable,
        details={"provider": provider, "upstream_status": status},
    )


def transport_error(provider: str, exc: BaseException) -> GatewayError:
    """A failure to talk to the provider at all (no HTTP status)."""
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return GatewayError(
            ErrorCode.PROVIDER_TIMEOUT,
            f"The provider '{provider}' did not answer in time.",
            retryable=True,
            details={"provider": provider},
        )
    return GatewayError(
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"Could not reach the provider '{provider}' ({type(exc).__name__}).",
        retryable=True,
        details={"provider": provider},
    )


def broken_stream(provider: str, reason: str) -> GatewayError:
    """The provider's stream ended badly after it had started."""
    return GatewayError(
        ErrorCode.PROVIDER_ERROR,
        f"The provider '{provider}' stream broke off: {reason}.",
        details={"provider": provider},
    )


def new_session() -> aiohttp.ClientSession:
    """One pooled session per provider: keep-alive connections are the point."""
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None),
        auto_decompress=True,
        raise_for_status=False,
        # The gateway never needs cookies from a provider.
        cookie_jar=aiohttp.DummyCookieJar(),
    )
