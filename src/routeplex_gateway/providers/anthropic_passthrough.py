"""Anthropic passthrough: a request the caller sent in Anthropic's own Messages format, served
by an Anthropic model, forwarded with no lossy round trip through the canonical shape.

What is sent: the caller's body as it is — thinking blocks with their signatures,
`cache_control`, server tools, `container`, `metadata`, fields this gateway does not know —
with only `model` (the deployment's name for it) and `stream` (the call's) replaced, and
`max_tokens` lowered to the gateway's cap when that is lower. Of the caller's headers only
`anthropic-beta` goes along; the provider's own key and `anthropic-version` are the
gateway's. `count_tokens` sends the fields Anthropic's count endpoint accepts (it refuses
`max_tokens`, `stream` and the other generation settings as extra inputs).

What comes back, for every stream (passthrough or translated; see `HeldEvents`): every
upstream SSE event, byte for byte, each on a `Chunk` beside its typed deltas. The events
before the first content (`message_start`, `ping`, `content_block_start`) are held and handed
over together with the first event that is content — a delta, or anything else — so that a
stream failing before it can still fall back to another deployment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..canonical import ChatRequest, Chunk, Delta, Deployment, NativeRequest
from ..errors import ErrorCode, GatewayError
from .anthropic_translate import to_anthropic

# The caller's headers that are forwarded: the beta features its body may rely on.
FORWARDED_HEADERS = ("anthropic-beta",)
# The body fields `POST /v1/messages/count_tokens` accepts besides `model` (the API
# reference, beta fields included); it refuses any other as an extra input.
COUNT_FIELDS = (
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "cache_control",
    "output_config",
    "speed",
    "context_management",
    "mcp_servers",
    "compaction",
    "billing_policy",
)
# Events that say nothing the caller could not be told again by another deployment.
_HELD = frozenset(("message_start", "ping", "content_block_start"))


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What one call sends: the body, the caller's headers to forward, and how to read the
    answer (the forced answer tool of JSON mode; thinking on)."""

    body: dict[str, Any]
    answer_tool: bool
    thinking: bool
    forwarded: Mapping[str, str] | None = None


def outgoing(request: ChatRequest, deployment: Deployment, *, stream: bool) -> Outgoing:
    """The caller's own Anthropic body when it sent one, else the request translated."""
    native = request.native
    if native is not None and native.wire == "anthropic":
        body = forwarded_body(native, request, deployment, stream=stream)
        return Outgoing(body, False, thinking_on(body), native.headers)
    translated = to_anthropic(request, deployment, stream=stream)
    return Outgoing(translated.body, translated.answer_tool, "thinking" in translated.body)


def forwarded_body(
    native: NativeRequest, request: ChatRequest, deployment: Deployment, *, stream: bool
) -> dict[str, Any]:
    body = dict(native.body)
    body["model"] = deployment.upstream_model
    body["stream"] = stream
    cap = request.max_output_tokens
    given = body.get("max_tokens")
    if cap is not None and (not isinstance(given, int) or cap < given):
        body["max_tokens"] = cap  # the gateway bounded the request by what it reserved
    return body


def forwarded_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The caller's `anthropic-beta` (and nothing else of its headers), by its wire name."""
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if name.lower() in FORWARDED_HEADERS and value:
            out[name.lower()] = value
    return out


def count_body(native_body: Mapping[str, Any], deployment: Deployment) -> dict[str, Any]:
    body = {name: native_body[name] for name in COUNT_FIELDS if name in native_body}
    return {"model": deployment.upstream_model, **body}


def not_a_count(provider: str) -> GatewayError:
    """A 200 from the count endpoint without the count it promises."""
    return GatewayError(
        ErrorCode.PROVIDER_ERROR,
        f"The provider '{provider}' sent a response that is not a token count.",
        retryable=True,
        details={"provider": provider},
    )


def thinking_on(body: Mapping[str, Any]) -> bool:
    """Whether the caller turned thinking on (`enabled`, or `adaptive` on newer models)."""
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") not in (None, "disabled")


class HeldEvents:
    """Turns each upstream event, with its typed deltas, into the chunk a stream yields.

    Each event is one chunk carrying its bytes (an event with no deltas, such as `ping` or
    `message_stop`, a chunk of its bytes alone). Until the first event that is content —
    any whose type is not one of `held` (Anthropic's opening events by default; OpenAI's
    Responses stream names its own) — events are held and nothing is yielded; that event's
    chunk then carries every held event and itself, in order, and their deltas together. A
    chunk has `more` set when further events already arrived with its own.
    """

    __slots__ = ("_deltas", "_held", "_kinds")

    def __init__(self, held: frozenset[str] = _HELD) -> None:
        self._kinds = held
        self._held: list[bytes] | None = []  # None once the first content was handed over
        self._deltas: tuple[Delta, ...] = ()

    def add(
        self, kind: Any, event: bytes, deltas: tuple[Delta, ...], *, more: bool
    ) -> Chunk | None:
        if self._held is not None:
            if kind in self._kinds:
                self._held.append(event)
                self._deltas += deltas
                return None
            event = b"".join(self._held) + event
            deltas = self._deltas + deltas
            self._held, self._deltas = None, ()
        return Chunk(deltas=deltas, native=event, more=more)
