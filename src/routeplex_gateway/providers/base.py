"""What every provider shares: a pooled HTTP session and the mapping of upstream failures
to RoutePlex errors (code, status, retryable flag).

Upstream error texts are carried only in `GatewayError.provider_message`, which is relayed
to the caller and never logged or stored.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson

from ..canonical import Deployment
from ..errors import ErrorCode, GatewayError, scrub, validation

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


def credentials_error(provider: str, status: int) -> GatewayError:
    """The provider refused the gateway's own key. Never the caller's auth failure: the caller
    authenticated fine, the operator has to fix the provider key. The provider's words are
    not relayed: they are about the operator's key, and often quote part of it."""
    return GatewayError(
        ErrorCode.PROVIDER_ERROR,
        f"The provider '{provider}' refused this gateway (HTTP {status}): "
        "the gateway's credentials for this provider were rejected. This is not a problem "
        "with your request; the gateway's operator must fix the provider API key.",
        details={"provider": provider, "upstream_status": status},
    )


# Statuses that say the caller's request itself is at fault: the same request would fail on
# any deployment, so it is answered as the caller's 400 and never retried or fallen back on
# (as a 502 it made the official SDKs send it three more times).
CLIENT_ERROR_STATUSES = (400, 404, 413, 422)
# How each provider words a prompt that does not fit the model's context window.
_CONTEXT_OVERFLOW = re.compile(
    r"prompt is too long|context (?:window|length)|maximum context|input token count"
    r"|exceeds? the maximum number of tokens|too many (?:input )?tokens|input length and",
    re.IGNORECASE,
)


def upstream_error(
    provider: str,
    status: int,
    provider_message: str | None,
    retry_after: str | None = None,
    *,
    code: str | None = None,
) -> GatewayError:
    """A provider's HTTP error status as a RoutePlex error (`code`: the provider's own error
    code, when it gives one)."""
    if status in (401, 403):
        return credentials_error(provider, status)
    if status in CLIENT_ERROR_STATUSES:
        return client_error(provider, status, provider_message, code)
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


def client_error(
    provider: str, status: int, provider_message: str | None, code: str | None = None
) -> GatewayError:
    """The provider refused the request as invalid: the caller's 400, with the provider's
    words; a context-window overflow gets OpenAI's `context_length_exceeded` code."""
    details = {"provider": provider, "upstream_status": status}
    if code == "context_length_exceeded" or _CONTEXT_OVERFLOW.search(provider_message or ""):
        return GatewayError(
            ErrorCode.CONTEXT_LENGTH_EXCEEDED,
            f"The request does not fit the context window of the model on '{provider}'; "
            "shorten the messages or lower max_tokens.",
            param="messages",
            provider_message=provider_message,
            details=details,
        )
    return GatewayError(
        ErrorCode.BAD_REQUEST,
        f"The provider '{provider}' refused the request as invalid (HTTP {status}).",
        provider_message=provider_message,
        details=details,
    )


def transport_error(
    provider: str, exc: BaseException, *, retry_started: bool = True
) -> GatewayError:
    """A failure to talk to the provider at all (no HTTP status). A timeout after the
    request was sent is retried only with `retry_started`: the provider may already be
    generating the answer, and a retry would have it generated — and billed — twice."""
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        started = not isinstance(exc, aiohttp.ConnectionTimeoutError)
        return GatewayError(
            ErrorCode.PROVIDER_TIMEOUT,
            f"The provider '{provider}' did not answer in time.",
            retryable=retry_started or not started,
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


# Error types a provider names in a mid-stream error event, by what they say about it.
_UNAVAILABLE_TYPES = frozenset(
    (
        "overloaded_error",
        "rate_limit_error",
        "UNAVAILABLE",
        "RESOURCE_EXHAUSTED",
        # OpenAI's Responses stream names the same failures as its HTTP 429s do.
        "rate_limit_exceeded",
        "insufficient_quota",
    )
)


def stream_error_event(
    provider: str, kind: str | None, provider_message: str | None, *, secret: str = ""
) -> GatewayError:
    """An error event the provider sent inside a started (HTTP 200) stream: overloaded or
    rate limited is `provider_unavailable`, as the same failure before the stream would be.
    `secret`: the deployment's key, masked wherever the message holds any of it."""
    if provider_message:
        provider_message = scrub(provider_message, (secret,))
    if kind in _UNAVAILABLE_TYPES:
        return GatewayError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"The provider '{provider}' is overloaded or rate limited (stream error event).",
            provider_message=provider_message,
            retryable=True,
            details={"provider": provider},
        )
    error = broken_stream(provider, "error event")
    error.provider_message = provider_message or None
    return error


# The slowest output rate a non-streamed answer is allowed before it times out: the total
# timeout grows with the output cap, since a 64,000-token answer takes many minutes.
SLOWEST_TOKENS_PER_S = 50


def completion_limits(deployment: Deployment, cap: int | None) -> aiohttp.ClientTimeout:
    """Timeouts of a non-streamed call: 10 s to connect, and in total the deployment's
    timeout plus one second per `SLOWEST_TOKENS_PER_S` tokens of the output cap (the
    request's, else the model's)."""
    cap = cap or deployment.max_output_tokens or 0
    return aiohttp.ClientTimeout(
        total=deployment.timeout_s + cap / SLOWEST_TOKENS_PER_S, sock_connect=10
    )


def embedding_limits(deployment: Deployment) -> aiohttp.ClientTimeout:
    """Timeouts of an embeddings call: 10 s to connect, the deployment's timeout in total
    (there is no output to wait for)."""
    return aiohttp.ClientTimeout(total=deployment.timeout_s, sock_connect=10)


def embedding_refusal(error: GatewayError) -> GatewayError:
    """A provider's refusal of an embedding request: a context overflow is an input too long
    (there are no messages to shorten, nor an output cap to lower)."""
    if error.code is ErrorCode.CONTEXT_LENGTH_EXCEEDED:
        error.param = "input"
        error.message = (
            "An input is longer than the model takes (its context window, in tokens); "
            "shorten or split it."
        )
    return error


def not_embeddings(provider: str) -> GatewayError:
    """A 200 response whose body is not the embeddings the provider's API promises (one
    vector per input)."""
    return GatewayError(
        ErrorCode.PROVIDER_ERROR,
        f"The provider '{provider}' sent a response that is not one embedding per input.",
        retryable=True,
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
    secret: str = "",
    retry_started: bool = True,
) -> aiohttp.ClientResponse:
    """POST a JSON body; the open response on success, a `GatewayError` on any failure
    (`secret`: the key sent, masked in the provider's error text wherever any of it shows;
    `retry_started`: whether a timeout after sending may be retried, see transport_error)."""
    try:
        data = orjson.dumps(body)
    except orjson.JSONEncodeError:
        # Deeper than JSON encoders go, once translated (a tool call's arguments are parsed
        # into the body): the caller's request, not the provider, is at fault.
        raise validation("The request nests too deeply to forward to the provider.") from None
    try:
        response = await session.post(url, data=data, headers=headers, timeout=limits)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise transport_error(provider, exc, retry_started=retry_started) from None
    if response.status >= 400:
        raw = await read_all(response, provider)
        error = read_error(response.status, raw, response.headers)
        if error.provider_message:
            error.provider_message = scrub(error.provider_message, (secret,))
        raise error
    return response


# The largest provider response (or single stream event) held in memory: a runaway or
# hostile upstream is cut off rather than allowed to exhaust the gateway's memory.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


def too_large(provider: str, limit: int = MAX_RESPONSE_BYTES) -> GatewayError:
    return GatewayError(
        ErrorCode.PROVIDER_ERROR,
        f"The provider '{provider}' sent more than {limit} bytes; refused.",
        details={"provider": provider},
    )


async def read_all(
    response: aiohttp.ClientResponse,
    provider: str,
    *,
    retry_started: bool = True,
    limit: int = MAX_RESPONSE_BYTES,
) -> bytes:
    """The whole body of a response (at most `limit` bytes), released either way."""
    try:
        if (response.content_length or 0) > limit:
            raise too_large(provider, limit)
        pieces: list[bytes] = []
        size = 0
        async for piece in response.content.iter_chunked(1 << 16):
            size += len(piece)
            if size > limit:
                raise too_large(provider, limit)
            pieces.append(piece)
        return b"".join(pieces)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise transport_error(provider, exc, retry_started=retry_started) from None
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
