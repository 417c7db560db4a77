"""The one error hierarchy: RoutePlex error code → HTTP status, retryable flag, both envelopes.

Every refusal the gateway makes is a `GatewayError`. Its `message` is written by the gateway
and never quotes the prompt; a provider's own text may ride along in `provider_message` to be
relayed to the caller, but it is never logged or stored (it is not part of `__str__`).
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum
from typing import Any

import orjson


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "unauthenticated"
    INVALID_API_KEY = "invalid_api_key"
    EXPIRED_API_KEY = "expired_api_key"
    FORBIDDEN_MODEL = "forbidden_model"
    VALIDATION_ERROR = "validation_error"
    BAD_REQUEST = "bad_request"
    INVALID_MODEL = "invalid_model"
    INVALID_MODE = "invalid_mode"
    EMPTY_MESSAGES = "empty_messages"
    CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"  # OpenAI's own code for it
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    REQUEST_TIMEOUT = "request_timeout"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    URI_TOO_LONG = "uri_too_long"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    HEADERS_TOO_LARGE = "headers_too_large"
    RATE_LIMITED = "rate_limited"
    DAILY_LIMIT_EXCEEDED = "daily_limit_exceeded"
    DAILY_COST_LIMIT_EXCEEDED = "daily_cost_limit_exceeded"
    QUOTA_EXCEEDED = "quota_exceeded"
    PROVIDER_ERROR = "provider_error"
    ALL_PROVIDERS_FAILED = "all_providers_failed"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_TIMEOUT = "provider_timeout"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    INTERNAL_ERROR = "internal_error"


STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.INVALID_API_KEY: 401,
    ErrorCode.EXPIRED_API_KEY: 401,
    ErrorCode.FORBIDDEN_MODEL: 403,
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.INVALID_MODEL: 400,
    ErrorCode.INVALID_MODE: 400,
    ErrorCode.EMPTY_MESSAGES: 400,
    ErrorCode.CONTEXT_LENGTH_EXCEEDED: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.URI_TOO_LONG: 414,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.HEADERS_TOO_LARGE: 431,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.DAILY_LIMIT_EXCEEDED: 429,
    ErrorCode.DAILY_COST_LIMIT_EXCEEDED: 429,
    ErrorCode.QUOTA_EXCEEDED: 429,
    ErrorCode.PROVIDER_ERROR: 502,
    ErrorCode.ALL_PROVIDERS_FAILED: 502,
    ErrorCode.PROVIDER_UNAVAILABLE: 503,
    ErrorCode.PROVIDER_TIMEOUT: 504,
    ErrorCode.TOO_MANY_CONNECTIONS: 503,
    ErrorCode.INTERNAL_ERROR: 500,
}

# The OpenAI envelope's `type`, chosen so OpenAI SDKs raise their usual exception classes.
_OPENAI_TYPE: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    414: "invalid_request_error",
    415: "invalid_request_error",
    431: "invalid_request_error",
    429: "rate_limit_error",
}


_UPSTREAM_FAILURES = frozenset({ErrorCode.PROVIDER_ERROR, ErrorCode.PROVIDER_TIMEOUT})


class GatewayError(Exception):
    """A refusal with a RoutePlex code. Safe to log: `str()` is the gateway's own message."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        param: str | None = None,
        details: dict[str, Any] | None = None,
        retryable: bool = False,
        headers: dict[str, str] | None = None,
        provider_message: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.details = details or {}
        self.retryable = retryable
        self.headers = headers or {}
        self.provider_message = scrub(provider_message) if provider_message else None
        self.retry_after_s = retry_after_s

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def response_headers(self) -> dict[str, str]:
        """The headers this refusal carries in either envelope. A provider failure the gateway
        itself would not retry (the provider may already be generating and billing it, or it
        refused the gateway's credentials) says `x-should-retry: false`, which the official
        OpenAI and Anthropic SDKs obey: without it they retry every 5xx twice, tripling the
        upstream calls."""
        headers = dict(self.headers)
        if self.retry_after_s is not None and self.status in (429, 503):
            headers.setdefault("Retry-After", str(max(1, round(self.retry_after_s))))
        if self.code in _UPSTREAM_FAILURES and not self.retryable:
            headers.setdefault("x-should-retry", "false")
        return headers

    def _caller_message(self) -> str:
        # The provider's words help the caller fix their request; relayed, never recorded.
        if self.provider_message:
            return f"{self.message} Provider said: {self.provider_message}"
        return self.message

    def openai_body(self) -> bytes:
        return orjson.dumps(
            {
                "error": {
                    "message": self._caller_message(),
                    "type": _OPENAI_TYPE.get(self.status, "api_error"),
                    "param": self.param,
                    "code": self.code.value,
                }
            }
        )

    def native_body(self) -> bytes:
        details = dict(self.details)
        if self.param is not None:
            details.setdefault("param", self.param)
        return orjson.dumps(
            {
                "success": False,
                "error": {
                    "code": self.code.value,
                    "message": self._caller_message(),
                    "details": details,
                },
            }
        )


# Provider texts are relayed to the caller, so anything credential-like in them is masked (a
# provider may echo a key back, whole or half-masked like `sk-route**********ator`) and their
# length is bounded. The text is cut into tokens at spaces and punctuation, and a token that
# looks like a key is replaced whole, its masked part and all. Token by token, with no pattern
# that can backtrack across a token, so a long hostile text costs linear time.
_SEPARATOR = re.compile(r"""(\s+|["'<>(){}\[\],;])""")
_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk)[-_][\w*.…-]{4}|\bAIza[\w*.…-]{4}", re.IGNORECASE)
# Letters or digits next to a mask: a run of asterisks, or an ellipsis inside a word.
_MASKED = re.compile(r"\w\*{2,}|(?<!\*)\*{3,}\w|\w(?:\.{3}|…)\w")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MAX_PROVIDER_MESSAGE = 1000
# How much of a provider's text is looked at: what is left after masking is cut to the limit.
_SCANNED = 4 * _MAX_PROVIDER_MESSAGE
# A configured key is recognised by any run of this many of its characters.
_KEY_WINDOW = 8
REDACTED = "[redacted]"


@functools.lru_cache(maxsize=64)
def _windows(secrets: tuple[str, ...]) -> frozenset[str]:
    """Every `_KEY_WINDOW` consecutive characters of the configured keys."""
    return frozenset(
        secret[i : i + _KEY_WINDOW]
        for secret in secrets
        if len(secret) >= _KEY_WINDOW
        for i in range(len(secret) - _KEY_WINDOW + 1)
    )


def scrub(provider_message: str, secrets: tuple[str, ...] = ()) -> str:
    """A provider's error text as it may be relayed: no key-like tokens (nor any part of the
    configured provider keys `secrets`), no control characters, at most
    `_MAX_PROVIDER_MESSAGE` characters."""
    text = provider_message
    if len(text) > _SCANNED:
        # Cut at a space when there is one, so that no key is cut in two and half-missed.
        cut = text.rfind(" ", 0, _SCANNED)
        text = text[: cut if cut > 0 else _SCANNED]
    windows = _windows(tuple(s for s in secrets if s))
    pieces = _SEPARATOR.split(text)
    after_bearer = False
    for index in range(0, len(pieces), 2):  # even indexes are tokens, odd ones separators
        token = pieces[index]
        if not token:
            continue
        if (
            after_bearer
            or _KEY_LIKE.search(token)
            or _MASKED.search(token)
            or any(window in token for window in windows)
        ):
            pieces[index] = REDACTED
        after_bearer = token.lower() == "bearer"
    text = _CONTROL.sub(" ", "".join(pieces)).strip()
    if len(text) > _MAX_PROVIDER_MESSAGE:
        text = text[: _MAX_PROVIDER_MESSAGE - 1] + "…"
    return text


def validation(message: str, param: str | None = None) -> GatewayError:
    return GatewayError(ErrorCode.VALIDATION_ERROR, message, param=param)


def internal_error() -> GatewayError:
    return GatewayError(ErrorCode.INTERNAL_ERROR, "The gateway failed to handle this request.")
