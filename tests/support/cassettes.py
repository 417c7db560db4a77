"""Recorded provider exchanges (tests/fixtures/providers, copied into the repository with their
provenance and licence notices), and a replay server that answers each request with the next
recorded response over a real socket.

Three recording styles are read: VCR cassettes (`.yaml`, parsed or raw bodies), and vercel/ai
`.chunks.jsonl.txt` files, which hold one SSE `data:` payload per line and nothing else — they
are re-framed here as the provider frames its stream (Anthropic and OpenAI Responses:
`event:` + `data:` lines and LF; Gemini / Vertex: `data:` lines and CRLF), with no recorded
request. Gemini streams recorded without `alt=sse` (one JSON array) can be re-framed as SSE by
`json_array_as_sse`, since the gateway always asks for SSE.
"""

from __future__ import annotations

import atexit
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import serve_in_thread

PROVIDERS = Path(__file__).resolve().parents[1] / "fixtures" / "providers"


@dataclass(frozen=True)
class Exchange:
    request: dict[str, Any]
    status: int
    content_type: str
    body: bytes


def _header(headers: dict[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value[0] if isinstance(value, list) else str(value)
    return None


SSE = "text/event-stream"


def _reframed_chunks(relative: str) -> Exchange:
    payloads = [line for line in (PROVIDERS / relative).read_text().splitlines() if line.strip()]
    # Anthropic and OpenAI's Responses API name each event; Gemini and Vertex do not.
    if relative.startswith(("anthropic/", "openai/responses_")):
        events = [f"event: {json.loads(p)['type']}\ndata: {p}\n\n" for p in payloads]
    else:
        events = [f"data: {p}\r\n\r\n" for p in payloads]
    return Exchange(request={}, status=200, content_type=SSE, body="".join(events).encode())


def json_array_as_sse(exchange: Exchange) -> Exchange:
    """A Gemini stream recorded as one JSON array (no `alt=sse`) as the SSE stream it would
    have been with `alt=sse`: one `data:` event per element, CRLF-framed."""
    elements = json.loads(exchange.body)
    events = "".join(f"data: {json.dumps(e)}\r\n\r\n" for e in elements)
    return Exchange(exchange.request, exchange.status, SSE, events.encode())


def load(relative: str) -> list[Exchange]:
    if relative.endswith(".chunks.jsonl.txt"):
        return [_reframed_chunks(relative)]
    data = yaml.safe_load((PROVIDERS / relative).read_text())
    exchanges = []
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        if "parsed_body" in response:
            body = json.dumps(response["parsed_body"]).encode()
        else:
            body = response["body"]["string"].encode()
        exchanges.append(
            Exchange(
                request=request.get("parsed_body") or json.loads(request["body"]),
                status=response["status"]["code"],
                content_type=_header(response.get("headers", {}), "content-type")
                or "application/json",
                body=body,
            )
        )
    return exchanges


@dataclass(frozen=True)
class Received:
    """What the replay server was sent: path with query, headers (lower-cased), JSON body."""

    path: str
    headers: dict[str, str]
    body: Any


class _ReplayServer:
    """One replay server for the whole test process: starting a server per exchange would
    cost more than the exchanges themselves. Each `replay` block installs its queue."""

    def __init__(self) -> None:
        self.queue: list[Exchange] = []
        self.received: list[Received] | None = None
        self._url: str | None = None
        self._stack = ExitStack()

    def url(self) -> str:
        if self._url is None:
            app = Starlette(routes=[Route("/{path:path}", self._answer, methods=["POST"])])
            self._url = self._stack.enter_context(serve_in_thread(app))
            atexit.register(self._stack.close)
        return self._url

    async def _answer(self, request: Request) -> Response:
        raw = await request.body()
        if self.received is not None:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.received.append(Received(path, headers, json.loads(raw) if raw else None))
        if not self.queue:
            return Response(b"no recorded exchange left", status_code=599)
        exchange = self.queue.pop(0)
        return Response(
            exchange.body,
            status_code=exchange.status,
            headers={"content-type": exchange.content_type},
        )


_SERVER = _ReplayServer()


@contextmanager
def replay(exchanges: list[Exchange], received: list[Received] | None = None) -> Iterator[str]:
    """Serve `exchanges` in order on any POST; yield the base URL. Each request is appended
    to `received` when given."""
    _SERVER.queue, _SERVER.received = list(exchanges), received
    try:
        yield _SERVER.url()
    finally:
        _SERVER.queue, _SERVER.received = [], None
