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
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    DAILY_LIMIT_EXCEEDED = "daily_limit_exceeded"
    DAILY_COST_LIMIT_EXCEEDED = "daily_cost_limit_exceeded"
    QUOTA_EXCEEDED = "quota_exceeded"
    PROVIDER_ERROR = "provider_error"
    ALL_PROVIDERS_FAILED = "all_providers_failed"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_TIMEOUT = "provider_timeout"
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
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.DAILY_LIMIT_EXCEEDED: 429,
    ErrorCode.DAILY_COST_LIMIT_EXCEEDED: 429,
    ErrorCode.QUOTA_EXCEEDED: 429,
    ErrorCode.PROVIDER_ERROR: 502,
    ErrorCode.ALL_PROVIDERS_FAILED: 502,
    ErrorCode.PROVIDER_UNAVAILABLE: 503,
    ErrorCode.PROVIDER_TIMEOUT: 504,
    ErrorCode.INTERNAL_ERROR: 500,
}

# The OpenAI envelope's `type`, chosen so OpenAI SDKs raise their usual exception classes.
_OPENAI_TYPE: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
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
# length is bounded. A key-like token is taken whole, masked characters included.
_KEY_CHARS = r"[A-Za-z0-9_\-*.…]"
_SECRET = re.compile(
    rf"\b(?:sk|pk|rk)[-_]{_KEY_CHARS}{{4,}}"  # OpenAI, Anthropic (sk-ant-…), Stripe-like
    rf"|\bAIza{_KEY_CHARS}{{4,}}"  # Google API keys
    r"|\bBearer\s+\S+"
    # Any token half-masked: letters or digits around a run of asterisks or an ellipsis.
    r"|[\w-]+\*{2,}[\w*-]*|\*{3,}[\w-]+|[\w-]+(?:\.{3}|…)[\w-]+",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MAX_PROVIDER_MESSAGE = 1000
# A configured key is recognised by any run of this many of its characters.
_KEY_WINDOW = 8
_TOKEN_EDGE = r"[^\s\"'<>(){}\[\],;]*"


@functools.lru_cache(maxsize=64)
def _configured(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """The tokens that hold any `_KEY_WINDOW` consecutive characters of a configured key."""
    windows = {
        secret[i : i + _KEY_WINDOW]
        for secret in secrets
        if len(secret) >= _KEY_WINDOW
        for i in range(len(secret) - _KEY_WINDOW + 1)
    }
    if not windows:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(windows))
    return re.compile(f"{_TOKEN_EDGE}(?:{alternatives}){_TOKEN_EDGE}")


def scrub(provider_message: str, secrets: tuple[str, ...] = ()) -> str:
    """A provider's error text as it may be relayed: no key-like tokens (nor any part of the
    configured provider keys `secrets`), no control characters, at most
    `_MAX_PROVIDER_MESSAGE` characters."""
    text = provider_message
    configured = _configured(tuple(s for s in secrets if s))
    if configured is not None:
        text = configured.sub("[redacted]", text)
    text = _CONTROL.sub(" ", _SECRET.sub("[redacted]", text)).strip()
    if len(text) > _MAX_PROVIDER_MESSAGE:
        text = text[: _MAX_PROVIDER_MESSAGE - 1] + "…"
    return text


def validation(message: str, param: str | None = None) -> GatewayError:
    return GatewayError(ErrorCode.VALIDATION_ERROR, message, param=param)


def internal_error() -> GatewayError:
    return GatewayError(ErrorCode.INTERNAL_ERROR, "The gateway failed to handle this request.")
