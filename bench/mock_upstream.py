"""A fast mock upstream for the benchmark harness: OpenAI's chat completions, OpenAI's
Responses and Anthropic's Messages, each plain and streamed, and OpenAI's embeddings.

It shares a core with the load generator, so it is written to cost as little as possible per
request: a raw asyncio `Protocol` on uvloop, httptools for parsing, keep-alive connections,
and response bytes built once per configuration (`mock_wire`; only the id changes per request).

`POST …/chat/completions` answers like gpt-4o-mini does: a plain `chat.completion` with usage,
or, with `"stream": true`, `chunks` `chat.completion.chunk` SSE events (the first after
`ttft_ms`, the rest `gap_ms` apart; the last one carries `finish_reason`), then a usage chunk when
`stream_options.include_usage` is set, then `data: [DONE]` — chunked transfer encoding, as
OpenAI sends it.

`POST …/v1/messages` answers like Claude Haiku 4.5 does: a plain `message`, or, with
`"stream": true`, Anthropic's event sequence (`message_start` … `message_stop`) in the same
`chunks` writes with the same pacing, so the two wire formats differ in nothing else.

`POST …/v1/responses` answers like gpt-4o-mini on OpenAI's Responses API: a plain `response`
with usage, or, with `"stream": true`, its semantic events (`response.created` …
`response.completed`, which carries the usage), each with its `sequence_number`, in the same
`chunks` writes with the same pacing.

`POST …/v1/embeddings` answers like text-embedding-3-small: one fixed unit vector per input,
of the `dimensions` asked (1536 by default), as floats or, with `"encoding_format": "base64"`,
as OpenAI's base64 of little-endian float32.

The harness reconfigures a running mock between scenarios with `POST /_mock/config`
(`{"chunks", "ttft_ms", "gap_ms", "delay_ms"}`) and reads counters from `GET /_mock/stats`, so
one mock, started once, serves every target of a run.

    python bench/mock_upstream.py --port 8100 --chunks 20 --ttft-ms 100 --gap-ms 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import sys
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import httptools
import orjson

if __package__ in (None, ""):  # `python bench/mock_upstream.py`, as the harness starts it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.embeddings_wire import DIMENSIONS, EmbeddingAnswers
from bench.mock_wire import (
    ANTHROPIC_HEADERS,
    OPENAI_HEADERS,
    RESPONSE_ID_LENGTH,
    ChatTemplates,
    MessagesTemplates,
    MockConfig,
    ResponsesTemplates,
    sse_head,
)

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_SSE_HEAD = sse_head(OPENAI_HEADERS)
_MESSAGES_SSE_HEAD = sse_head(ANTHROPIC_HEADERS)
_DONE = b"data: [DONE]\n\n"
_LAST_CHUNK = b"0\r\n\r\n"


def _json_object(body: bytes) -> dict[str, Any] | None:
    """The request body when it is a JSON object."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return request if isinstance(request, dict) else None


def _framed(event: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(event), event)


class Mock:
    """The shared state of one mock server: its configuration, templates and counters."""

    def __init__(self, config: MockConfig) -> None:
        self.config = config
        self.templates = ChatTemplates(config)
        self.messages = MessagesTemplates(config)
        self.responses = ResponsesTemplates(config)
        self.embeddings = EmbeddingAnswers()
        self.requests = 0
        self.streams = 0
        self.open_connections = 0
        self._ids = itertools.count(int(time.time() * 1000) % 10**12)

    def next_id(self, prefix: str = "chatcmpl-", length: int = 29) -> bytes:
        # Distinct per request and random-looking, like OpenAI's ids; no RNG on the hot path.
        n = (next(self._ids) * 0x9E3779B97F4A7C15) % (62**length)
        tail = []
        for _ in range(length):
            n, r = divmod(n, 62)
            tail.append(_ID_ALPHABET[r])
        return (prefix + "".join(tail)).encode()

    def configure(self, values: dict[str, Any]) -> None:
        fields = asdict(self.config)
        for key, value in values.items():
            if key not in fields:
                raise ValueError(f"unknown setting {key!r}")
            fields[key] = type(fields[key])(value)
        self.config = MockConfig(**fields)
        self.templates = ChatTemplates(self.config)
        self.messages = MessagesTemplates(self.config)
        self.responses = ResponsesTemplates(self.config)
        self.requests = self.streams = 0

    def stats(self) -> dict[str, Any]:
        return {
            **asdict(self.config),
            "requests": self.requests,
            "streams": self.streams,
            "open_connections": self.open_connections,
        }


class Connection(asyncio.Protocol):
    """One keep-alive client connection; requests on it are answered in order."""

    def __init__(self, mock: Mock) -> None:
        self.mock = mock
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []
        self.busy = False
        self.pending: deque[tuple[bytes, bytes, bytes, bool]] = deque()
        self.timer: asyncio.TimerHandle | asyncio.Handle | None = None

    # --- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.mock.open_connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.mock.open_connections -= 1
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._send_plain(400, b'{"error":{"message":"bad request"}}', keep_alive=False)

    # --- httptools callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        request = (
            self.parser.get_method(),
            self.url,
            b"".join(self.body),
            self.parser.should_keep_alive(),
        )
        if self.busy:
            self.pending.append(request)
        else:
            self._handle(*request)

    # --- responses ---------------------------------------------------------------------------
    def _done(self, keep_alive: bool) -> None:
        self.busy = False
        self.timer = None
        if not keep_alive:
            if self.transport is not None:
                self.transport.close()
            return
        if self.pending:
            self._handle(*self.pending.popleft())

    def _send_plain(
        self, status: int, body: bytes, *, keep_alive: bool = True, headers: bytes = OPENAI_HEADERS
    ) -> None:
        if self.transport is None:
            return
        reason = {200: b"OK", 400: b"Bad Request", 404: b"Not Found"}.get(status, b"Error")
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n%scontent-length: %d\r\n" % (
            status,
            reason,
            headers if status == 200 else b"",
            len(body),
        )
        if not keep_alive:
            head += b"connection: close\r\n"
        self.transport.write(head + b"\r\n" + body)
        self._done(keep_alive)

    def _handle(self, method: bytes, url: bytes, body: bytes, keep_alive: bool) -> None:
        self.busy = True
        path = url.split(b"?", 1)[0]
        if method == b"POST" and path.endswith(b"/chat/completions"):
            self._chat(body, keep_alive)
        elif method == b"POST" and path.endswith(b"/v1/messages"):
            self._messages(body, keep_alive)
        elif method == b"POST" and path.endswith(b"/responses"):
            self._responses(body, keep_alive)
        elif method == b"POST" and path.endswith(b"/embeddings"):
            self._embeddings(body, keep_alive)
        elif path == b"/_mock/config" and method == b"POST":
            try:
                self.mock.configure(orjson.loads(body or b"{}"))
            except (ValueError, TypeError) as exc:
                error = {"error": {"message": str(exc)}}
                self._send_plain(400, orjson.dumps(error), keep_alive=keep_alive)
                return
            self._send_plain(200, orjson.dumps(self.mock.stats()), keep_alive=keep_alive)
        elif path == b"/_mock/stats":
            self._send_plain(200, orjson.dumps(self.mock.stats()), keep_alive=keep_alive)
        elif path.endswith(b"/models"):
            models = {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]}
            self._send_plain(200, orjson.dumps(models), keep_alive=keep_alive)
        else:
            self._send_plain(404, b'{"error":{"message":"not found"}}', keep_alive=keep_alive)

    def _chat(self, body: bytes, keep_alive: bool) -> None:
        request = _json_object(body)
        if request is None or not request.get("messages"):
            error = b'{"error":{"message":"messages is required","type":"invalid_request_error"}}'
            self._send_plain(400, error, keep_alive=keep_alive)
            return
        mock = self.mock
        mock.requests += 1
        completion_id = mock.next_id()
        templates = mock.templates
        if not request.get("stream"):
            self._send_later(completion_id.join(templates.plain), keep_alive)
            return
        mock.streams += 1
        options = request.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        events = [completion_id.join(parts) for parts in templates.chunks]
        final = completion_id.join(templates.usage) + _DONE if include_usage else _DONE
        head = _SSE_HEAD if keep_alive else _SSE_HEAD + b"connection: close\r\n"
        self._start_stream(_Stream(self, events, final, keep_alive, 0.0), head)

    def _messages(self, body: bytes, keep_alive: bool) -> None:
        request = _json_object(body)
        if (
            request is None
            or not request.get("messages")
            or not isinstance(request.get("max_tokens"), int)
        ):
            error = (
                b'{"type":"error","error":{"type":"invalid_request_error",'
                b'"message":"messages and max_tokens are required"}}'
            )
            self._send_plain(400, error, keep_alive=keep_alive)
            return
        mock = self.mock
        mock.requests += 1
        message_id = mock.next_id("msg_01", 22)
        templates = mock.messages
        if not request.get("stream"):
            self._send_later(message_id.join(templates.plain), keep_alive, ANTHROPIC_HEADERS)
            return
        mock.streams += 1
        events = [message_id.join(parts) for parts in templates.chunks]
        head = _MESSAGES_SSE_HEAD if keep_alive else _MESSAGES_SSE_HEAD + b"connection: close\r\n"
        self._start_stream(_Stream(self, events, templates.final, keep_alive, 0.0), head)

    def _responses(self, body: bytes, keep_alive: bool) -> None:
        request = _json_object(body)
        if request is None or not request.get("input") or not request.get("model"):
            error = (
                b'{"error":{"message":"input and model are required",'
                b'"type":"invalid_request_error","param":"input","code":null}}'
            )
            self._send_plain(400, error, keep_alive=keep_alive)
            return
        mock = self.mock
        mock.requests += 1
        response_id = mock.next_id("resp_", RESPONSE_ID_LENGTH)
        templates = mock.responses
        if not request.get("stream"):
            self._send_later(response_id.join(templates.plain), keep_alive)
            return
        mock.streams += 1
        events = [response_id.join(parts) for parts in templates.chunks]
        final = response_id.join(templates.final)
        head = _SSE_HEAD if keep_alive else _SSE_HEAD + b"connection: close\r\n"
        self._start_stream(_Stream(self, events, final, keep_alive, 0.0), head)

    def _embeddings(self, body: bytes, keep_alive: bool) -> None:
        request = _json_object(body) or {}
        inputs, model = request.get("input"), request.get("model")
        dimensions = request.get("dimensions", DIMENSIONS)
        encoding = request.get("encoding_format", "float")
        if (
            not isinstance(inputs, str | list)
            or not inputs
            or not isinstance(model, str)
            or not (isinstance(dimensions, int) and 1 <= dimensions <= DIMENSIONS)
            or encoding not in ("float", "base64")
        ):
            error = (
                b'{"error":{"message":"model, input, dimensions or encoding_format is invalid",'
                b'"type":"invalid_request_error","param":null,"code":null}}'
            )
            self._send_plain(400, error, keep_alive=keep_alive)
            return
        self.mock.requests += 1
        count = 1 if isinstance(inputs, str) else len(inputs)
        answer = self.mock.embeddings.answer(model, count, dimensions, encoding)
        self._send_later(answer, keep_alive)

    def _send_later(
        self, payload: bytes, keep_alive: bool, headers: bytes = OPENAI_HEADERS
    ) -> None:
        """A plain answer, after the configured `delay_ms` (if any)."""
        delay = self.mock.config.delay_ms
        if delay > 0:
            self.timer = self.loop.call_later(
                delay / 1000,
                functools.partial(self._send_plain, keep_alive=keep_alive, headers=headers),
                200,
                payload,
            )
        else:
            self._send_plain(200, payload, keep_alive=keep_alive, headers=headers)

    def _start_stream(self, stream: _Stream, head: bytes) -> None:
        """The head now; the first write after `ttft_ms`, the rest `gap_ms` apart."""
        config = self.mock.config
        stream.gap = config.gap_ms / 1000
        if config.ttft_ms > 0:
            assert self.transport is not None
            self.transport.write(head + b"\r\n")
            self.timer = self.loop.call_later(config.ttft_ms / 1000, stream.step)
        else:
            stream.head = head + b"\r\n"
            stream.step()


class _Stream:
    """Writes one SSE response event by event, scheduled on the loop (no task per stream)."""

    __slots__ = ("conn", "events", "final", "gap", "head", "index", "keep_alive")

    def __init__(
        self, conn: Connection, events: list[bytes], final: bytes, keep_alive: bool, gap: float
    ) -> None:
        self.conn = conn
        self.events = events
        self.final = final
        self.keep_alive = keep_alive
        self.gap = gap
        self.index = 0
        self.head = b""

    def step(self) -> None:
        conn = self.conn
        transport = conn.transport
        if transport is None:
            return
        event = _framed(self.events[self.index])
        self.index += 1
        if self.index == len(self.events):
            transport.write(self.head + event + _framed(self.final) + _LAST_CHUNK)
            conn._done(self.keep_alive)
            return
        transport.write(self.head + event)
        self.head = b""
        # A zero gap still yields to the loop between events, as a real server would.
        if self.gap > 0:
            conn.timer = conn.loop.call_later(self.gap, self.step)
        else:
            conn.timer = conn.loop.call_soon(self.step)


async def start_mock(
    host: str = "127.0.0.1", port: int = 0, config: MockConfig | None = None
) -> tuple[asyncio.Server, Mock]:
    """Start a mock on the running loop; returns the server (for its port) and its state."""
    mock = Mock(config or MockConfig())
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(mock), host, port, backlog=4096)
    return server, mock


def bound_port(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port


async def _main(args: argparse.Namespace) -> None:
    config = MockConfig(
        chunks=args.chunks, ttft_ms=args.ttft_ms, gap_ms=args.gap_ms, delay_ms=args.delay_ms
    )
    server, _ = await start_mock(args.host, args.port, config)
    # The harness reads this line to learn the port.
    print(f"mock listening on {args.host}:{bound_port(server)}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--chunks", type=int, default=20, help="SSE chunk events per stream")
    parser.add_argument("--ttft-ms", type=float, default=0.0, help="time to the first chunk")
    parser.add_argument("--gap-ms", type=float, default=0.0, help="time between chunks")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="non-streaming delay")
    args = parser.parse_args()
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_main(args))


if __name__ == "__main__":
    main()
