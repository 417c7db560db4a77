"""What every provider shares: a pooled HTTP session and the mapping of upstream failures
to RoutePlex errors (code, status, retryable flag).

Upstream error texts are carried only in `GatewayError.provider_message`, which is relayed
to the caller and never logged or stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson

from ..errors import ErrorCode, GatewayError, validation

# Reads an upstream error response (status, body, headers) into the RoutePlex error.
ErrorReader = Callable[[int, bytes, Mapping[str, str]], GatewayError]

# Retry-After values above this are not worth waiting for inside one request.
_MAX_RETRY_AFTER_S = 60.0


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(float(value), _MAX_RETRY_AFTER_S)
    except ValueError:
        return None


def credentials_error(provider: str, status: int, provider_message: str | None) -> GatewayError:
    """The provider refused the gateway's own key. Never the caller's auth failure: the caller
    authenticated fine, the operator has to fix the provider key."""
    return GatewayError(
        ErrorCode.PROVIDER_ERROR,
        f"The provider '{provider}' rejected the gateway's credentials (HTTP {status}); "
        "the operator must fix the provider API key.",
        provider_message=provider_message,
        details={"provider": provider, "upstream_status": status},
    )


def upstream_error(
    provider: str, status: int, provider_message: str | None, retry_after: str | None = None
) -> GatewayError:
    """A provider's HTTP error status as a RoutePlex error."""
    if status in (401, 403):
        return credentials_error(provider, status, provider_message)
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


class PooledSession:
    """The one aiohttp session of a provider, opened on first use and closed with it."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = new_session()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    provider: str,
    limits: aiohttp.ClientTimeout,
    read_error: ErrorReader,
) -> aiohttp.ClientResponse:
    """POST a JSON body; the open response on success, a `GatewayError` on any failure."""
    try:
        data = orjson.dumps(body)
    except orjson.JSONEncodeError:
        # Deeper than JSON encoders go, once translated (a tool call's arguments are parsed
        # into the body): the caller's request, not the provider, is at fault.
        raise validation("The request nests too deeply to forward to the provider.") from None
    try:
        response = await session.post(url, data=data, headers=headers, timeout=limits)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise transport_error(provider, exc) from None
    if response.status >= 400:
        raw = await read_all(response, provider)
        raise read_error(response.status, raw, response.headers)
    return response


# The largest provider response (or single stream event) held in memory: a runaway or
# hostile upstream is cut off rather than allowed to exhaust the gateway's memory.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


def too_large(provider: str) -> GatewayError:
    return GatewayError(
        ErrorCode.PROVIDER_ERROR,
        f"The provider '{provider}' sent more than {MAX_RESPONSE_BYTES} bytes; refused.",
        details={"provider": provider},
    )


async def read_all(response: aiohttp.ClientResponse, provider: str) -> bytes:
    """The whole body of a response (at most MAX_RESPONSE_BYTES), released either way."""
    try:
        if (response.content_length or 0) > MAX_RESPONSE_BYTES:
            raise too_large(provider)
        pieces: list[bytes] = []
        size = 0
        async for piece in response.content.iter_chunked(1 << 16):
            size += len(piece)
            if size > MAX_RESPONSE_BYTES:
                raise too_large(provider)
            pieces.append(piece)
        return b"".join(pieces)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise transport_error(provider, exc) from None
    finally:
        response.release()


def json_object(raw: bytes) -> dict[str, Any] | None:
    """`raw` parsed as a JSON object, or None when it is not one."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def not_a_completion(provider: str) -> GatewayError:
    """A 200 response whose body is not what the provider's API promises."""
    return GatewayError(
        ErrorCode.PROVIDER_ERROR,
        f"The provider '{provider}' sent a response that is not a chat completion.",
        retryable=True,
        details={"provider": provider},
    )
