"""Canonical requests for provider tests, written as the OpenAI bodies they stand for."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from routeplex_gateway.api import openai_decode
from routeplex_gateway.canonical import ChatRequest


def openai_request(
    body: dict[str, Any], *, stream: bool | None = None, native: bool = False
) -> ChatRequest:
    """`body` decoded as the OpenAI surface decodes it (without schema checks). `native`:
    keep the body as the request's native form, which OpenAI-shaped upstreams forward as it
    is; without it they translate from the typed shape, as for any other surface."""
    cap = body.get("max_completion_tokens", body.get("max_tokens"))
    request = openai_decode.decode(
        body,
        stream=bool(body.get("stream")) if stream is None else stream,
        max_output_tokens=cap if isinstance(cap, int) else None,
    )
    return request if native else replace(request, native=None)


def anthropic_request(body: dict[str, Any]) -> ChatRequest:
    """An Anthropic Messages body decoded as the Messages surface decodes it."""
    from routeplex_gateway.api import anthropic_decode

    return anthropic_decode.decode(body).chat
