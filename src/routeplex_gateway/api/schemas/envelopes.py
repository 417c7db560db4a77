"""The two error envelopes every refusal is sent in: OpenAI's under `/v1`, the native
`{"success": false, "error": …}` elsewhere. `code` is always a RoutePlex error code.
"""

from __future__ import annotations

from typing import Any, Literal

from typing_extensions import TypedDict

from ...errors import ErrorCode


class OpenAIErrorBody(TypedDict):
    message: str
    type: str
    param: str | None
    code: ErrorCode


class OpenAIError(TypedDict):
    """The OpenAI error envelope; `code` is a RoutePlex error code."""

    error: OpenAIErrorBody


class NativeErrorBody(TypedDict):
    code: ErrorCode
    message: str
    details: dict[str, Any]


class NativeError(TypedDict):
    """The native error envelope."""

    success: Literal[False]
    error: NativeErrorBody
