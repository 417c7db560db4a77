"""What a refusal's headers tell the caller's SDK: when to wait, and when not to retry."""

from __future__ import annotations

from routeplex_gateway.errors import ErrorCode, GatewayError


def test_a_provider_failure_the_gateway_would_not_retry_tells_the_sdk_not_to_either() -> None:
    credentials = GatewayError(ErrorCode.PROVIDER_ERROR, "credentials rejected")
    started = GatewayError(ErrorCode.PROVIDER_TIMEOUT, "timed out after sending")
    assert credentials.response_headers()["x-should-retry"] == "false"
    assert started.response_headers()["x-should-retry"] == "false"


def test_transient_failures_and_refusals_leave_retrying_to_the_sdk() -> None:
    transient = GatewayError(ErrorCode.PROVIDER_ERROR, "upstream 500", retryable=True)
    busy = GatewayError(ErrorCode.PROVIDER_UNAVAILABLE, "try later", retry_after_s=1.2)
    limited = GatewayError(ErrorCode.RATE_LIMITED, "slow down", retry_after_s=30)
    assert "x-should-retry" not in transient.response_headers()
    assert busy.response_headers() == {"Retry-After": "1"}
    assert limited.response_headers() == {"Retry-After": "30"}
