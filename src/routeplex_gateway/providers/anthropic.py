"""The Anthropic Messages provider (`POST {base}/v1/messages`, and its `count_tokens`).

Requests are the caller's own Anthropic body forwarded (`anthropic_passthrough`) or the
canonical request translated (`anthropic_translate`); answers, whole or streamed, are read
into canonical terms with the provider's own body beside them (`anthropic_answer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from ..canonical import ChatRequest, ChatResponse, Deployment
from ..errors import GatewayError
from .anthropic_answer import (
    REFUSAL_NOTE,
    AnthropicStream,
    completion,
    error_message,
    finish_reason,
    parse_usage,
)
from .anthropic_passthrough import count_body, forwarded_headers, not_a_count, outgoing
from .anthropic_translate import ANTHROPIC_VERSION
from .base import (
    ErrorReader,
    PooledSession,
    completion_limits,
    json_object,
    not_a_completion,
    post_json,
    read_all,
    upstream_error,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "REFUSAL_NOTE",
    "AnthropicProvider",
    "AnthropicStream",
    "completion",
    "error_message",
    "finish_reason",
    "parse_usage",
    "read_error",
]

DEFAULT_BASE_URL = "https://api.anthropic.com"


def read_error(provider: str) -> ErrorReader:
    def read(status: int, raw: bytes, headers: Mapping[str, str]) -> GatewayError:
        return upstream_error(provider, status, error_message(raw), headers.get("retry-after"))

    return read


class AnthropicProvider(PooledSession):
    kind = "anthropic"

    def _headers(
        self, deployment: Deployment, forwarded: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "anthropic-version": ANTHROPIC_VERSION}
        headers.update(forwarded_headers(forwarded))
        if deployment.api_key:
            headers["x-api-key"] = deployment.api_key
        return headers

    async def _post(
        self,
        body: dict[str, Any],
        deployment: Deployment,
        limits: aiohttp.ClientTimeout,
        retry_started: bool = True,
        *,
        path: str = "/v1/messages",
        forwarded: Mapping[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        return await post_json(
            self.session,
            f"{deployment.base_url or DEFAULT_BASE_URL}{path}",
            body,
            self._headers(deployment, forwarded),
            provider=deployment.provider,
            limits=limits,
            read_error=read_error(deployment.provider),
            secret=deployment.api_key,
            retry_started=retry_started,
        )

    async def complete(self, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        out = outgoing(request, deployment, stream=False)
        timeout = completion_limits(deployment, request.max_output_tokens)
        retry = deployment.retry_started_timeouts
        response = await self._post(out.body, deployment, timeout, retry, forwarded=out.forwarded)
        data = json_object(await read_all(response, deployment.provider, retry_started=retry))
        if data is None or not isinstance(data.get("content"), list):
            raise not_a_completion(deployment.provider)
        return completion(data, answer_tool=out.answer_tool, thinking=out.thinking)

    async def stream(self, request: ChatRequest, deployment: Deployment) -> AnthropicStream:
        out = outgoing(request, deployment, stream=True)
        # Time to the headers and between events, not the whole stream.
        timeout = aiohttp.ClientTimeout(sock_connect=10, sock_read=deployment.timeout_s)
        response = await self._post(out.body, deployment, timeout, forwarded=out.forwarded)
        return AnthropicStream(
            response,
            deployment.provider,
            out.answer_tool,
            out.thinking,
            secret=deployment.api_key,
        )

    async def count_tokens(
        self,
        native_body: Mapping[str, Any],
        deployment: Deployment,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """The prompt's input tokens as Anthropic counts them (`POST /v1/messages/count_tokens`)
        for a Messages body; `headers`: the caller's, of which `anthropic-beta` is forwarded."""
        body = count_body(native_body, deployment)
        timeout = aiohttp.ClientTimeout(total=deployment.timeout_s, sock_connect=10)
        response = await self._post(
            body, deployment, timeout, path="/v1/messages/count_tokens", forwarded=headers
        )
        data = json_object(await read_all(response, deployment.provider)) or {}
        tokens = data.get("input_tokens")
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
            raise not_a_count(deployment.provider)
        return tokens
