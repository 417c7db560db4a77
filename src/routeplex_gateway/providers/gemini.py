"""The Google Gemini provider (`POST {base}/v1beta/models/{model}:generateContent`, and
`:streamGenerateContent?alt=sse` for streams): requests are translated in
`gemini_translate`, answers and streams read in `gemini_answer`.

Errors: Gemini answers a bad API key with 400 `API_KEY_INVALID`, which is treated as the
gateway's credentials being refused; a 429 says when to retry in `RetryInfo.retryDelay`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import aiohttp

from ..canonical import ChatRequest, ChatResponse, Deployment, EmbeddingRequest, EmbeddingResponse
from ..errors import GatewayError
from . import gemini_embeddings as embeddings
from .base import (
    ErrorReader,
    PooledSession,
    completion_limits,
    credentials_error,
    embedding_limits,
    embedding_refusal,
    json_object,
    not_a_completion,
    post_json,
    read_all,
    upstream_error,
)
from .gemini_answer import GeminiStream, completion
from .gemini_translate import model_path, to_gemini

__all__ = ["DEFAULT_BASE_URL", "GeminiProvider", "GeminiStream", "completion", "read_error"]

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def read_error(provider: str) -> ErrorReader:
    def read(status: int, raw: bytes, headers: Mapping[str, str]) -> GatewayError:
        error = (json_object(raw) or {}).get("error")
        error = error if isinstance(error, dict) else {}
        message = error.get("message") if isinstance(error.get("message"), str) else None
        details = [d for d in error.get("details") or () if isinstance(d, dict)]
        if any(d.get("reason") == "API_KEY_INVALID" for d in details):
            return credentials_error(provider, status)
        retry_after = headers.get("retry-after")
        for detail in details:
            delay = _DELAY.match(str(detail.get("retryDelay", "")))
            if delay is not None:
                retry_after = delay.group(1)
        return upstream_error(provider, status, message, retry_after)

    return read


class GeminiProvider(PooledSession):
    kind = "gemini"
    embeds_token_ids = False  # Gemini embeds text only

    async def _post(
        self,
        action: str,
        body: dict[str, Any],
        deployment: Deployment,
        limits: aiohttp.ClientTimeout,
        retry_started: bool = True,
    ) -> aiohttp.ClientResponse:
        headers = {"Content-Type": "application/json"}
        if deployment.api_key:
            headers["x-goog-api-key"] = deployment.api_key
        base = deployment.base_url or DEFAULT_BASE_URL
        url = f"{base}/v1beta/models/{model_path(deployment.upstream_model)}:{action}"
        return await post_json(
            self.session,
            url,
            body,
            headers,
            provider=deployment.provider,
            limits=limits,
            read_error=read_error(deployment.provider),
            secret=deployment.api_key,
            retry_started=retry_started,
        )

    async def complete(self, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        body = to_gemini(request, deployment.upstream_model)
        timeout = completion_limits(deployment, request.max_output_tokens)
        retry = deployment.retry_started_timeouts
        response = await self._post("generateContent", body, deployment, timeout, retry)
        data = json_object(await read_all(response, deployment.provider, retry_started=retry))
        if data is None or not ("candidates" in data or "promptFeedback" in data):
            raise not_a_completion(deployment.provider)
        return completion(data, deployment.provider)

    async def stream(self, request: ChatRequest, deployment: Deployment) -> GeminiStream:
        body = to_gemini(request, deployment.upstream_model)
        # Time to the headers and between chunks, not the whole stream.
        timeout = aiohttp.ClientTimeout(sock_connect=10, sock_read=deployment.timeout_s)
        response = await self._post("streamGenerateContent?alt=sse", body, deployment, timeout)
        return GeminiStream(response, deployment.provider, secret=deployment.api_key)

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        limits = embedding_limits(deployment)
        retry = deployment.retry_started_timeouts

        async def send(body: dict[str, Any]) -> dict[str, Any] | None:
            try:
                response = await self._post("batchEmbedContents", body, deployment, limits, retry)
            except GatewayError as refused:
                raise embedding_refusal(refused) from None
            return json_object(await read_all(response, deployment.provider, retry_started=retry))

        return await embeddings.embed(request, deployment.upstream_model, deployment.provider, send)
