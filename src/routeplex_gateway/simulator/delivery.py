"""How a simulated response reaches the client, with its fault plan and pacing applied.

Format modules render bytes — a JSON body, or the complete SSE events of a stream — and this
module sends them over ASGI the way the fault plan says: delay the headers, hang, answer with an
error instead, or break the stream after K chunks (cut the connection, send a line that is not
JSON, or go silent). Pacing spaces a stream's chunks like a real model's tokens.

On a non-streaming request a break fault ignores K: `cut` sends half the body and drops the
connection, `malformed` sends a truncated JSON body, `stall` sends the headers and then nothing.

Waits end early when the client disconnects, so a hung or stalled request never outlives its
client; they also end when the fault plan's release event is set (faults cleared, shutdown).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from routeplex_gateway.simulator.faults import BreakFault, FaultPlan, HangFault, StatusFault

JSON_CONTENT_TYPE = "application/json"
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"


@dataclass(frozen=True)
class Pacing:
    """Timing of successful answers: delay before the first chunk, gap between chunks."""

    time_to_first_token_s: float = 0.0
    chunk_gap_s: float = 0.0


@dataclass(frozen=True)
class JsonPayload:
    """A whole JSON response. `paced_pieces` text pieces are paced as a stream would be."""

    body: bytes
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    paced_pieces: int = 0
    content_type: str = JSON_CONTENT_TYPE


@dataclass(frozen=True)
class StreamPayload:
    """A stream: its complete events (terminator included) and its malformed replacement."""

    events: tuple[bytes, ...]
    malformed_event: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = SSE_CONTENT_TYPE


ErrorRenderer = Callable[[StatusFault], JsonPayload]


def json_response(
    content: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A plain JSON response serialised with orjson."""
    return Response(
        orjson.dumps(content), status_code=status, headers=headers, media_type=JSON_CONTENT_TYPE
    )


class SimulatedResponse(Response):
    """An ASGI response that plays `payload` through a fault plan."""

    def __init__(
        self,
        payload: JsonPayload | StreamPayload,
        *,
        plan: FaultPlan,
        pacing: Pacing,
        render_error: ErrorRenderer,
    ) -> None:
        super().__init__(media_type=payload.content_type)
        self._payload = payload
        self._plan = plan
        self._pacing = pacing
        self._render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = _Peer(receive) if self._waits() else None
        try:
            await self._deliver(peer, send)
        finally:
            if peer is not None:
                peer.close()

    def _waits(self) -> bool:
        action = self._plan.action
        return (
            self._plan.latency_s > 0
            or self._pacing.time_to_first_token_s > 0
            or self._pacing.chunk_gap_s > 0
            or isinstance(action, HangFault)
            or (isinstance(action, BreakFault) and action.kind == "stall")
        )

    async def _deliver(self, peer: _Peer | None, send: Send) -> None:
        plan, action = self._plan, self._plan.action
        if not await _pause(peer, plan.latency_s):
            return
        if isinstance(action, HangFault) and not await _until_released(peer, plan.release):
            return
        if isinstance(action, StatusFault):
            await _send_whole(send, self._render_error(action))
            return
        if not await _pause(peer, self._pacing.time_to_first_token_s):
            return
        broken = action if isinstance(action, BreakFault) else None
        if isinstance(self._payload, JsonPayload):
            await self._send_json(peer, send, self._payload, broken)
        else:
            await self._send_stream(peer, send, self._payload, broken)

    async def _send_json(
        self, peer: _Peer | None, send: Send, payload: JsonPayload, broken: BreakFault | None
    ) -> None:
        if not await _pause(peer, self._pacing.chunk_gap_s * payload.paced_pieces):
            return
        body = payload.body
        if broken is None:
            await _send_whole(send, payload)
        elif broken.kind == "malformed":
            await _send_whole(send, JsonPayload(body[: len(body) // 2], headers=payload.headers))
        else:
            await send(_start(payload.status, payload.headers, payload.content_type, len(body)))
            if broken.kind == "cut":
                await send(_body(body[: len(body) // 2], more=True))
                return  # returning mid-body makes the server drop the connection
            if await _until_released(peer, self._plan.release):
                await send(_body(body, more=False))

    async def _send_stream(
        self, peer: _Peer | None, send: Send, payload: StreamPayload, broken: BreakFault | None
    ) -> None:
        await send(_start(200, payload.headers, payload.content_type, None))
        if broken is None and self._pacing.chunk_gap_s <= 0:
            # Unpaced and unbroken: one write carries the same bytes at a fraction of the cost,
            # which keeps the simulator from being the bottleneck of a benchmark.
            await send(_body(b"".join(payload.events), more=False))
            return
        for index, event in enumerate(payload.events):
            if broken is not None and index == broken.after_chunks:
                if broken.kind == "cut":
                    return  # no terminating chunk: the client sees the connection drop
                if broken.kind == "malformed":
                    await send(_body(payload.malformed_event, more=True))
                    break
                if not await _until_released(peer, self._plan.release):
                    return
            if index and not await _pause(peer, self._pacing.chunk_gap_s):
                return
            await send(_body(event, more=True))
        await send(_body(b"", more=False))


class _Peer:
    """Watches the client's side of the connection so that waits end when it leaves."""

    def __init__(self, receive: Receive) -> None:
        self.gone = asyncio.Event()
        self._task = asyncio.create_task(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        # The body was already read, so the next message is the disconnect.
        while (await receive())["type"] != "http.disconnect":
            continue
        self.gone.set()

    def close(self) -> None:
        self._task.cancel()


async def _pause(peer: _Peer | None, seconds: float) -> bool:
    """Sleep; False if the client left meanwhile."""
    if seconds <= 0:
        return True
    if peer is None:
        await asyncio.sleep(seconds)
        return True
    try:
        await asyncio.wait_for(peer.gone.wait(), timeout=seconds)
    except TimeoutError:
        return True
    return False


async def _until_released(peer: _Peer | None, release: asyncio.Event) -> bool:
    """Wait for the release event; False if the client left first."""
    if peer is None:
        await release.wait()
        return True
    waits = {asyncio.ensure_future(release.wait()), asyncio.ensure_future(peer.gone.wait())}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    return not peer.gone.is_set()


async def _send_whole(send: Send, payload: JsonPayload) -> None:
    await send(_start(payload.status, payload.headers, payload.content_type, len(payload.body)))
    await send(_body(payload.body, more=False))


def _start(
    status: int, headers: Mapping[str, str], content_type: str, length: int | None
) -> dict[str, Any]:
    raw = [(b"content-type", content_type.encode("latin-1"))]
    if length is not None:
        raw.append((b"content-length", str(length).encode("latin-1")))
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return {"type": "http.response.start", "status": status, "headers": raw}


def _body(data: bytes, *, more: bool) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}
