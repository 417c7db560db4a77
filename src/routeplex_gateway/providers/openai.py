"""The OpenAI Chat Completions provider — also every OpenAI-compatible server (vLLM, Ollama,
Groq, Together, DeepSeek…), which is configuration (a base URL, a key, models), not code.
A request the caller sent in OpenAI's Responses format, served by OpenAI itself, goes to the
Responses API instead (`openai_responses`); everything below is about Chat Completions.

A request that came in OpenAI's shape is forwarded with every field the caller sent; any other
is encoded from the canonical shape (`openai_translate`). Answers are read into canonical
terms (`openai_answer`) and keep the body as received, so the OpenAI surface relays it as it
came. Stream chunks keep the bytes the provider sent beside their deltas, read by the shared
SSE decoder (`sse`), so any of the standard's line endings (LF, CRLF, CR) frames them; streams
always ask for usage.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson

from ..canonical import (
    ChatRequest,
    ChatResponse,
    Chunk,
    Deployment,
    EmbeddingRequest,
    EmbeddingResponse,
    FinishReason,
    Usage,
)
from ..errors import ErrorCode, GatewayError
from . import openai_embeddings as embeddings
from . import openai_responses as responses
from .base import (
    broken_stream,
    completion_limits,
    new_session,
    post_json,
    read_all,
    upstream_error,
)
from .openai_answer import WIRE, ChunkReader, completion, parse_usage
from .openai_responses_answer import ResponsesStream
from .openai_translate import request_body
from .sse import SSEDecoder, event_data

__all__ = ["OpenAIProvider", "OpenAIStream", "parse_usage"]


def _error_fields(raw: bytes) -> tuple[str | None, str | None]:
    """The `error.message` and `error.code` of OpenAI's error envelope."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None, None
    message, code = error.get("message"), error.get("code")
    return (
        message if isinstance(message, str) else None,
        code if isinstance(code, str) else None,
    )


class OpenAIStream:
    """SSE `data:` events from an OpenAI-shaped upstream, as canonical chunks: each chunk's
    deltas, with its payload bytes as its native form. The answer's id, model and creation
    time are the first chunk's (the model asked for, and now, until it comes)."""

    wire = WIRE

    def __init__(self, response: aiohttp.ClientResponse, deployment: Deployment) -> None:
        self._response = response
        self._provider = deployment.provider
        self._reader = ChunkReader()
        self.id = ""
        self.model = deployment.upstream_model
        self.created = int(time.time())
        self.usage = Usage()
        self.finish_reason: FinishReason | None = None

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[Chunk]:
        feed = SSEDecoder().feed
        try:
            async for piece in self._response.content.iter_any():
                blocks = feed(piece)
                if not blocks:
                    continue
                last = blocks[-1]
                for block in blocks:
                    if block.startswith(b"data:") and b"\n" not in block:
                        payload = block[5:].strip()  # the usual one-line event
                    else:
                        data = event_data(block)
                        if data is None:
                            continue  # comments and keep-alives
                        payload = data.strip()
                    if payload == b"[DONE]":
                        return
                    chunk = self._chunk(payload)
                    if chunk is not None:
                        # Another whole event is already here: let the relay send them in
                        # one write.
                        chunk.more = block is not last
                        yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise broken_stream(self._provider, type(exc).__name__) from None
        finally:
            self._response.release()
        raise broken_stream(self._provider, "ended without [DONE]")

    def _chunk(self, payload: bytes) -> Chunk | None:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise broken_stream(self._provider, "malformed chunk") from None
        if not isinstance(data, dict):
            raise broken_stream(self._provider, "malformed chunk")
        if "error" in data and "choices" not in data:
            raise broken_stream(self._provider, "error event")
        if not self.id:
            self._describe(data)
        reader = self._reader
        deltas = reader.deltas(data)
        self.finish_reason = reader.finish_reason
        usage = data.get("usage")
        if usage:
            self.usage = parse_usage(usage)
            if not data.get("choices"):
                return None  # the gateway writes its own final usage chunk
            data["usage"] = None
            return Chunk(deltas, orjson.dumps(data))
        return Chunk(deltas, payload)

    def _describe(self, data: dict[str, Any]) -> None:
        answer_id, model, created = data.get("id"), data.get("model"), data.get("created")
        if isinstance(answer_id, str) and answer_id:
            self.id = answer_id
        if isinstance(model, str) and model:
            self.model = model
        if isinstance(created, int) and not isinstance(created, bool):
            self.created = created

    async def aclose(self) -> None:
        self._response.close()


class OpenAIProvider:
    kind = "openai"
    embeds_token_ids = True  # OpenAI's embeddings (and vLLM's) take token ids as input

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = new_session()
        return self._session

    async def _post(
        self,
        body: dict[str, Any],
        deployment: Deployment,
        limits: aiohttp.ClientTimeout,
        retry_started: bool = True,
        *,
        path: str = "/chat/completions",
    ) -> aiohttp.ClientResponse:
        headers = {"Content-Type": "application/json"}
        if deployment.api_key:
            headers["Authorization"] = f"Bearer {deployment.api_key}"

        def read_error(status: int, raw: bytes, response_headers: Mapping[str, str]) -> Any:
            message, code = _error_fields(raw)
            return upstream_error(
                deployment.provider,
                status,
                message,
                response_headers.get("retry-after"),
                code=code,
            )

        return await post_json(
            self.session,
            f"{deployment.base_url}{path}",
            body,
            headers,
            provider=deployment.provider,
            limits=limits,
            read_error=read_error,
            secret=deployment.api_key,
            retry_started=retry_started,
        )

    async def complete(self, request: ChatRequest, deployment: Deployment) -> ChatResponse:
        native = responses.native_body(request, deployment)
        if native is not None:
            return await responses.complete(self._post, native, request, deployment)
        body = request_body(request, deployment, stream=False)
        timeout = completion_limits(deployment, request.max_output_tokens)
        retry = deployment.retry_started_timeouts
        response = await self._post(body, deployment, timeout, retry)
        raw = await read_all(response, deployment.provider, retry_started=retry)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            raise GatewayError(
                ErrorCode.PROVIDER_ERROR,
                f"The provider '{deployment.provider}' sent a response that is not a chat "
                "completion.",
                retryable=True,
            )
        return completion(data)

    async def stream(
        self, request: ChatRequest, deployment: Deployment
    ) -> OpenAIStream | ResponsesStream:
        native = responses.native_body(request, deployment)
        if native is not None:
            return await responses.stream(self._post, native, request, deployment)
        body = request_body(request, deployment, stream=True)
        # Time to the headers and between chunks, not the whole stream.
        timeout = aiohttp.ClientTimeout(sock_connect=10, sock_read=deployment.timeout_s)
        response = await self._post(body, deployment, timeout)
        return OpenAIStream(response, deployment)

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        return await embeddings.embed(self.session, request, deployment)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
