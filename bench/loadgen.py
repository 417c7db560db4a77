"""A closed-loop HTTP/1.1 load generator for the benchmark harness.

N keep-alive connections each send their next request the moment the previous response has
been read in full, for a warm-up and then a fixed measured window. It is a raw asyncio
`Protocol` with httptools parsing and pre-encoded requests, so that on the core it shares with
the mock upstream it costs a few tens of microseconds per request.

Per request it records the latency (request written → response complete), the time to the
first body byte (for a stream: the first SSE bytes after the headers) and whether it failed:
a non-200 status, a malformed body, a dropped connection or a timeout. Only requests that
complete inside the measured window count.

    python bench/loadgen.py --url http://127.0.0.1:8100/v1/chat/completions -c 16 -d 10 --stream
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
import orjson

if __package__ in (None, ""):  # `python bench/loadgen.py` as well as `python -m bench.loadgen`
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.embeddings_wire import EMBEDDING_MODEL, embeddings_body, judge_embeddings
from bench.messages_wire import judge_events, judge_message, messages_body
from bench.responses_wire import judge_response, judge_response_events, responses_body

SYSTEM_PROMPT = "You are a concise assistant that explains engineering practice clearly."
USER_PROMPT = (
    "In three sentences, how should I load-test an HTTP API gateway so that the numbers "
    "mean something?"
)


def chat_body(*, stream: bool, model: str = "gpt-4o-mini", include_usage: bool = True) -> bytes:
    """A typical small chat completion request, as the OpenAI SDK would send it."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": USER_PROMPT},
        ],
        "max_tokens": 256,
        "temperature": 0.7,
    }
    if stream:
        body["stream"] = True
        if include_usage:
            body["stream_options"] = {"include_usage": True}
    return orjson.dumps(body)


@dataclass(frozen=True)
class RequestSpec:
    """One pre-encoded request and how to judge its response."""

    raw: bytes
    stream: bool
    # "light": status, shape and [DONE]; "full": every event parsed, content must equal `expect`.
    check: str = "light"
    expect: str | None = None
    # The answer's wire format: "openai" (chat completions), "anthropic" (Messages),
    # "responses" (OpenAI's Responses) or "embeddings" (OpenAI's embeddings).
    wire: str = "openai"

    @classmethod
    def chat(
        cls,
        url: str,
        *,
        stream: bool,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        check: str = "light",
        expect: str | None = None,
        wire: str = "openai",
    ) -> RequestSpec:
        parts = urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        payload = body if body is not None else chat_body(stream=stream)
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {parts.netloc}",
            "Content-Type: application/json",
            "Accept: text/event-stream" if stream else "Accept: application/json",
            "User-Agent: routeplex-bench/1",
            f"Content-Length: {len(payload)}",
        ]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        return cls(raw=raw, stream=stream, check=check, expect=expect, wire=wire)

    def judge(self, status: int, body: bytes) -> str | None:
        """None when the response is good, else a short reason."""
        if status != 200:
            return f"http_{status}"
        if self.wire == "anthropic":
            if self.stream:
                return judge_events(body, self.check, self.expect)
            return judge_message(body, self.expect)
        if self.wire == "responses":
            if self.stream:
                return judge_response_events(body, self.check, self.expect)
            return judge_response(body, self.expect)
        if self.wire == "embeddings":
            return judge_embeddings(body, self.check)
        if self.stream:
            return _judge_stream(body, self.check, self.expect)
        try:
            data = orjson.loads(body)
            content = data["choices"][0]["message"]["content"]
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            return "malformed"
        if not isinstance(content, str) or not content:
            return "malformed"
        if self.expect is not None and content != self.expect:
            return "wrong_content"
        return None


def _judge_stream(body: bytes, check: str, expect: str | None) -> str | None:
    text = body.replace(b"\r\n", b"\n").rstrip()
    if not text.endswith(b"data: [DONE]"):
        return "no_done"
    events = [e for e in text.split(b"\n\n") if e.startswith(b"data:")]
    if len(events) < 2:
        return "malformed"
    if check != "full":
        try:
            orjson.loads(events[-2][5:])
        except orjson.JSONDecodeError:
            return "malformed"
        return None
    content: list[str] = []
    usage = False
    for event in events[:-1]:
        try:
            data = orjson.loads(event[5:])
        except orjson.JSONDecodeError:
            return "malformed"
        if data.get("object") != "chat.completion.chunk":
            return "malformed"
        for choice in data.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                content.append(piece)
        usage = usage or bool(data.get("usage"))
    if not usage:
        return "no_usage"
    if expect is not None and "".join(content) != expect:
        return "wrong_content"
    return None


@dataclass
class LoadResult:
    """What one closed-loop run measured inside its window."""

    concurrency: int
    duration_s: float
    latency_ms: list[float] = field(default_factory=list)
    ttfb_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    completed_total: int = 0  # every response, warm-up and drain included
    client_cpu_s: float = 0.0  # this process's CPU time over the window

    @property
    def requests(self) -> int:
        return len(self.latency_ms)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "p50_ms": _round(percentile(self.latency_ms, 50)),
            "p99_ms": _round(percentile(self.latency_ms, 99)),
            "ttfb_p50_ms": _round(percentile(self.ttfb_ms, 50)),
            "ttfb_p99_ms": _round(percentile(self.ttfb_ms, 99)),
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "completed_total": self.completed_total,
            "client_cpu_s": round(self.client_cpu_s, 3),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


class _Client(asyncio.Protocol):
    """One connection of the closed loop."""

    def __init__(self, run: _Run, first_spec: int) -> None:
        self.run = run
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.spec_index = first_spec
        self.spec = run.specs[first_spec]
        self.in_flight = False
        self.started = 0.0
        self.first = 0.0
        self.status = 0
        self.body: list[bytes] = []
        self.connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if not self.connected.done():
            self.connected.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.in_flight:
            self.in_flight = False
            self.run.failed(self, "connection_lost")
        self.run.lost(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.in_flight:
                self.in_flight = False
                self.run.failed(self, "bad_http")
            if self.transport is not None:
                self.transport.abort()

    def send(self) -> None:
        specs = self.run.specs
        self.spec = specs[self.spec_index]
        self.spec_index = (self.spec_index + 1) % len(specs)
        self.body = []
        self.first = 0.0
        self.status = 0
        self.in_flight = True
        self.started = time.perf_counter()
        assert self.transport is not None
        self.transport.write(self.spec.raw)

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if not self.first:
            self.first = time.perf_counter()
        self.body.append(body)

    def on_message_complete(self) -> None:
        end = time.perf_counter()
        if not self.in_flight:
            return
        self.in_flight = False
        first = self.first or end
        problem = self.spec.judge(self.status, b"".join(self.body))
        self.body = []
        self.run.completed(self, end, first, problem)
        if not self.parser.should_keep_alive():
            if self.transport is not None:
                self.transport.close()  # connection_lost reconnects
            return
        if self.run.running and self.transport is not None:
            self.send()


Hook = Callable[[], None]


@dataclass
class Progress:
    """Live counters a caller can read from its hooks while a run is going."""

    completed: int = 0
    errors: int = 0


class _Run:
    def __init__(
        self,
        host: str,
        port: int,
        specs: Sequence[RequestSpec],
        timeout_s: float,
        progress: Progress,
    ) -> None:
        self.progress = progress
        self.host = host
        self.port = port
        self.specs = list(specs)
        self.timeout_s = timeout_s
        self.running = False
        self.clients: list[_Client] = []
        self.starts = array("d")
        self.firsts = array("d")
        self.ends = array("d")
        self.error_times = array("d")
        self.error_kinds: list[str] = []
        self.completed_total = 0
        self.loop = asyncio.get_running_loop()
        self._reconnects: set[asyncio.Task[None]] = set()

    def completed(self, client: _Client, end: float, first: float, problem: str | None) -> None:
        self.completed_total += 1
        self.progress.completed += 1
        if problem is None:
            self.starts.append(client.started)
            self.firsts.append(first)
            self.ends.append(end)
        else:
            self.progress.errors += 1
            self.error_times.append(end)
            self.error_kinds.append(problem)

    def failed(self, client: _Client, kind: str) -> None:
        self.progress.errors += 1
        self.error_times.append(time.perf_counter())
        self.error_kinds.append(kind)

    def lost(self, client: _Client) -> None:
        if self.running:
            task = self.loop.create_task(self._reconnect(client))
            self._reconnects.add(task)
            task.add_done_callback(self._reconnects.discard)

    async def connect(self, index: int) -> _Client:
        client = _Client(self, index % len(self.specs))
        await self.loop.create_connection(lambda: client, self.host, self.port)
        return client

    async def _reconnect(self, old: _Client) -> None:
        while self.running:
            try:
                client = await self.connect(old.spec_index)
            except OSError:
                self.failed(old, "connect")
                await asyncio.sleep(0.1)
                continue
            self.clients[self.clients.index(old)] = client
            if self.running:
                client.send()
            return

    async def watchdog(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.perf_counter()
            for client in self.clients:
                if client.in_flight and now - client.started > self.timeout_s:
                    client.in_flight = False
                    self.failed(client, "timeout")
                    if client.transport is not None:
                        client.transport.abort()


async def run_load(
    url: str,
    specs: Sequence[RequestSpec],
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float = 2.0,
    timeout_s: float = 60.0,
    drain_s: float = 30.0,
    on_window_start: Hook | None = None,
    on_window_end: Hook | None = None,
    on_tick: Hook | None = None,
    tick_s: float = 0.25,
    progress: Progress | None = None,
) -> LoadResult:
    """Run a closed loop against `url` on the running event loop.

    `specs` are used round-robin per connection (one spec for a plain run, several to mix).
    The hooks run on the loop: at the window's edges (to sample a server's CPU time) and every
    `tick_s` throughout (to sample its memory).
    """
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    run = _Run(host, port, specs, timeout_s, progress or Progress())
    run.clients = list(await asyncio.gather(*(run.connect(i) for i in range(concurrency))))
    ticker = asyncio.ensure_future(_tick(on_tick, tick_s)) if on_tick else None
    watchdog = asyncio.ensure_future(run.watchdog())
    run.running = True
    for client in run.clients:
        client.send()
    try:
        await asyncio.sleep(warmup_s)
        if on_window_start:
            on_window_start()
        cpu0 = time.process_time()
        w0 = time.perf_counter()
        await asyncio.sleep(duration_s)
        w1 = time.perf_counter()
        cpu1 = time.process_time()
        if on_window_end:
            on_window_end()
        run.running = False
        deadline = time.perf_counter() + drain_s
        # Let in-flight requests finish so the next cell starts on an idle server.
        while any(c.in_flight for c in run.clients) and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    finally:
        run.running = False
        for task in (ticker, watchdog, *run._reconnects):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for client in run.clients:
            if client.transport is not None:
                client.transport.close()
    result = LoadResult(concurrency=concurrency, duration_s=w1 - w0)
    result.completed_total = run.completed_total
    result.client_cpu_s = cpu1 - cpu0
    for start, first, end in zip(run.starts, run.firsts, run.ends, strict=True):
        if w0 <= end <= w1:
            result.latency_ms.append((end - start) * 1000)
            result.ttfb_ms.append((first - start) * 1000)
    kinds: Counter[str] = Counter()
    for when, kind in zip(run.error_times, run.error_kinds, strict=True):
        if w0 <= when <= w1:
            kinds[kind] += 1
    result.errors = sum(kinds.values())
    result.error_kinds = dict(kinds)
    return result


async def _tick(hook: Hook, every: float) -> None:
    while True:
        hook()
        await asyncio.sleep(every)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", required=True, help="e.g. http://127.0.0.1:8100/v1/chat/completions"
    )
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("-d", "--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("-w", "--warmup", type=float, default=2.0)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--model", help="default: gpt-4o-mini, or the embedding model")
    parser.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--check", choices=["light", "full"], default="light")
    parser.add_argument(
        "--wire",
        choices=["openai", "anthropic", "responses", "embeddings"],
        default="openai",
        help="the body and answers: OpenAI chat, Anthropic's Messages (send x-api-key and "
        "anthropic-version with -H), OpenAI's Responses, or OpenAI's embeddings",
    )
    parser.add_argument("--messages", action="store_true", help="the same as --wire anthropic")
    args = parser.parse_args()
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    wire = "anthropic" if args.messages else args.wire
    if wire == "embeddings":
        body = embeddings_body(model=args.model or EMBEDDING_MODEL)
    else:
        make = {"anthropic": messages_body, "responses": responses_body}.get(wire, chat_body)
        body = make(stream=args.stream, model=args.model or "gpt-4o-mini")
    spec = RequestSpec.chat(
        args.url,
        stream=args.stream and wire != "embeddings",
        headers=headers,
        body=body,
        check=args.check,
        wire=wire,
    )
    import uvloop

    result = uvloop.run(
        run_load(
            args.url,
            [spec],
            concurrency=args.concurrency,
            duration_s=args.duration,
            warmup_s=args.warmup,
        )
    )
    print(orjson.dumps(result.summary(), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
