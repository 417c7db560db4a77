"""OpenAI Responses passthrough: a request the caller sent in OpenAI's Responses format,
served by OpenAI itself, forwarded to `POST {base}/responses` with no lossy round trip
through the canonical shape.

Only OpenAI serves this API: its descriptor says so (`responses_api`), and only the built-in
endpoint of that name gets it. An OpenAI-compatible server (Groq, vLLM, …) speaks Chat
Completions alone, so a Responses request to one of its models — like one to Anthropic or
Gemini — is translated from the canonical shape as any other request is.

What is sent: the caller's body as it is — input items with reasoning items and their
`encrypted_content`, built-in tools, `include`, `text`, `metadata`, fields this gateway does
not know — with only `model` (the deployment's name for it) and `stream` (the call's)
replaced, `store` forced to false (the gateway promises that nothing it relays is kept, and
OpenAI would otherwise keep the response for 30 days), and `max_output_tokens` lowered to
the gateway's cap when that is lower. None of the caller's headers go along.

What comes back (`openai_responses_answer`): the response object as received, or every
upstream SSE event byte for byte beside its typed deltas.
"""

from __future__ import annotations

from typing import Any, Protocol

import aiohttp

from ..canonical import ChatRequest, ChatResponse, Deployment
from ..errors import ErrorCode, GatewayError, scrub
from .base import completion_limits, json_object, not_a_completion, read_all
from .descriptor import by_kind
from .openai_responses_answer import WIRE, ResponsesStream, completion, error_fields

PATH = "/responses"


class Post(Protocol):
    """How the OpenAI provider posts a body to one of its paths (its `_post`): the open
    response, or the upstream's failure as a `GatewayError`."""

    async def __call__(
        self,
        body: dict[str, Any],
        deployment: Deployment,
        limits: aiohttp.ClientTimeout,
        retry_started: bool = True,
        *,
        path: str = ...,
    ) -> aiohttp.ClientResponse: ...


def native_body(request: ChatRequest, deployment: Deployment) -> dict[str, Any] | None:
    """The caller's own Responses body when `deployment` is OpenAI's Responses API, else None
    (the request is then translated to Chat Completions like any other)."""
    body = request.native_for(WIRE)
    if body is None:
        return None
    descriptor = by_kind(deployment.kind)
    if descriptor is None or not descriptor.responses_api:
        return None
    return body if deployment.provider == descriptor.name else None


def forwarded_body(
    native: dict[str, Any], request: ChatRequest, deployment: Deployment, *, stream: bool
) -> dict[str, Any]:
    """The caller's body with the model, `stream`, `store` and the output cap set."""
    body = {**native, "model": deployment.upstream_model, "stream": stream, "store": False}
    if not stream:
        body.pop("stream_options", None)  # OpenAI refuses it without `stream`
    cap = request.max_output_tokens
    given = body.get("max_output_tokens")
    if cap is not None and (not isinstance(given, int) or cap < given):
        body["max_output_tokens"] = cap  # the gateway bounded the request by what it reserved
    return body


async def complete(
    post: Post, native: dict[str, Any], request: ChatRequest, deployment: Deployment
) -> ChatResponse:
    """One non-streamed response from OpenAI's Responses API."""
    body = forwarded_body(native, request, deployment, stream=False)
    timeout = completion_limits(deployment, request.max_output_tokens)
    retry = deployment.retry_started_timeouts
    response = await post(body, deployment, timeout, retry, path=PATH)
    data = json_object(await read_all(response, deployment.provider, retry_started=retry))
    if data is None or not isinstance(data.get("output"), list):
        raise not_a_completion(deployment.provider)
    if data.get("status") == "failed":
        raise failed(deployment, error_fields({"response": data})[1])
    return completion(data)


def failed(deployment: Deployment, provider_message: str | None) -> GatewayError:
    """A 200 answer whose response failed (`status: failed`): the provider's own failure,
    worth another deployment; its words go to the caller, with any of the key masked."""
    if provider_message:
        provider_message = scrub(provider_message, (deployment.api_key,))
    return GatewayError(
        ErrorCode.PROVIDER_ERROR,
        f"The provider '{deployment.provider}' could not generate the response.",
        provider_message=provider_message,
        retryable=True,
        details={"provider": deployment.provider},
    )


async def stream(
    post: Post, native: dict[str, Any], request: ChatRequest, deployment: Deployment
) -> ResponsesStream:
    """A started stream from OpenAI's Responses API."""
    body = forwarded_body(native, request, deployment, stream=True)
    # Time to the headers and between events, not the whole stream.
    timeout = aiohttp.ClientTimeout(sock_connect=10, sock_read=deployment.timeout_s)
    response = await post(body, deployment, timeout, path=PATH)
    return ResponsesStream(response, deployment)
