"""Why the stack is what it is: the candidates for each piece of the hot path, measured side by
side on one pinned core.

    .venv/bin/python -m bench.stack            # ≈ 2 minutes; prints one Markdown section

- JSON: the standard library, orjson and msgspec, decoding and encoding a typical chat request
  and a stream chunk.
- Request validation: RoutePlex's `validate_chat_body` (its typed schema, api/schemas, and
  the nesting walk) against a bare pydantic model of the same request
  (`bench.validation` compares it with the hand validators it replaced).
- Upstream client: aiohttp and httpx, 16 requests in flight against the mock upstream, CPU per
  request of the client process.
- Server: the lean pass-through (`passthrough.py`) under uvicorn (uvloop + httptools) and
  under granian, driven by the harness's load generator.

It runs in its own virtual environment (bench/.work/stack-venv: the project's lock file plus
the pinned candidates that RoutePlex does not use), made on first use.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV = BENCH / ".work" / "stack-venv"
CANDIDATES = ["granian==2.8.9", "msgspec==0.22.0"]
TARGET_CORE, HARNESS_CORE = 0, 1


def _ensure_venv() -> None:
    """Re-run this module inside the stack venv, creating it first if needed."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        lock = REPO / "requirements" / "dev.lock"
        subprocess.run([*pip, "--require-hashes", "-r", str(lock)], check=True)
        subprocess.run([*pip, *CANDIDATES], check=True)  # measured candidates, not in the lock
        subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", str(REPO)], check=True)
    os.execv(str(python), [str(python), "-m", "bench.stack", *sys.argv[1:]])


def _per_call_us(fn: Callable[[], object], seconds: float = 1.0) -> float:
    """Median over 5 rounds of the mean µs per call."""
    rounds = []
    for _ in range(5):
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / 5:
            for _ in range(100):
                fn()
            count += 100
        rounds.append((time.perf_counter() - started) / count * 1e6)
    return sorted(rounds)[2]


def json_rows() -> list[str]:
    import msgspec
    import orjson

    from bench.loadgen import chat_body

    request = chat_body(stream=True)
    chunk = (
        b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,'
        b'"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":" word"},'
        b'"logprobs":null,"finish_reason":null}],"usage":null}'
    )
    decoder = msgspec.json.Decoder()
    encoder = msgspec.json.Encoder()
    libraries: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], bytes]]] = {
        "json (stdlib)": (json.loads, lambda v: json.dumps(v).encode()),
        "orjson": (orjson.loads, orjson.dumps),
        "msgspec": (decoder.decode, encoder.encode),
    }
    return [
        _json_row(name, loads, dumps, request, chunk) for name, (loads, dumps) in libraries.items()
    ]


def _json_row(
    name: str,
    loads: Callable[[bytes], Any],
    dumps: Callable[[Any], bytes],
    request: bytes,
    chunk: bytes,
) -> str:
    parsed_request, parsed_chunk = loads(request), loads(chunk)
    return (
        f"| {name} | {_per_call_us(lambda: loads(request)):.2f} "
        f"| {_per_call_us(lambda: dumps(parsed_request)):.2f} "
        f"| {_per_call_us(lambda: loads(chunk)):.2f} "
        f"| {_per_call_us(lambda: dumps(parsed_chunk)):.2f} |"
    )


def validation_rows() -> list[str]:
    import orjson
    from pydantic import BaseModel, ConfigDict

    from bench.loadgen import chat_body
    from routeplex_gateway.api.validation import validate_chat_body

    class Message(BaseModel):
        model_config = ConfigDict(extra="allow")
        role: str
        content: str | list[dict[str, Any]] | None = None

    class ChatBody(BaseModel):
        model_config = ConfigDict(extra="allow")
        model: str
        messages: list[Message]
        stream: bool = False
        max_tokens: int | None = None
        temperature: float | None = None
        stream_options: dict[str, Any] | None = None

    raw = chat_body(stream=True)
    lean = _per_call_us(lambda: validate_chat_body(orjson.loads(raw)))
    full = _per_call_us(lambda: ChatBody.model_validate(orjson.loads(raw)))
    full_json = _per_call_us(lambda: ChatBody.model_validate_json(raw))
    return [
        f"| orjson + `validate_chat_body` (RoutePlex) | {lean:.2f} |",
        f"| pydantic v2 model, from the parsed dict | {full:.2f} |",
        f"| pydantic v2 model, `model_validate_json` | {full_json:.2f} |",
    ]


def _start_mock() -> tuple[subprocess.Popen[bytes], str]:
    from bench.targets import free_port

    port = free_port()
    mock = subprocess.Popen(
        [
            "taskset",
            "-c",
            str(HARNESS_CORE),
            sys.executable,
            str(BENCH / "mock_upstream.py"),
            "--port",
            str(port),
            "--chunks",
            "20",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    return mock, f"http://127.0.0.1:{port}/v1"


async def _client_cpu_ms(kind: str, base: str, stream: bool, seconds: float = 4.0) -> float:
    import aiohttp
    import httpx

    from bench.loadgen import chat_body

    body = chat_body(stream=stream)
    url = f"{base}/chat/completions"
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
    done = 0
    deadline = time.monotonic() + seconds

    if kind == "aiohttp":
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

        async def one() -> None:
            async with session.post(url, data=body, headers=headers) as response:
                async for _ in response.content.iter_any():
                    pass

        close: Callable[[], Any] = session.close
    else:
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=None))

        async def one() -> None:
            async with client.stream("POST", url, content=body, headers=headers) as response:
                async for _ in response.aiter_raw():
                    pass

        close = client.aclose

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            await one()
            done += 1

    await one()  # warm the pool
    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(16)))
    used = time.process_time() - started
    await close()
    return used / done * 1000


def client_rows(base: str) -> list[str]:
    import uvloop

    rows = []
    for kind in ("aiohttp", "httpx"):
        plain = uvloop.run(_client_cpu_ms(kind, base, stream=False))
        streamed = uvloop.run(_client_cpu_ms(kind, base, stream=True))
        rows.append(f"| {kind} | {plain:.3f} | {streamed:.3f} |")
    return rows


def _serve(server: str, base: str) -> tuple[subprocess.Popen[bytes], str]:
    from bench.targets import free_port

    port = free_port()
    env = {**os.environ, "UPSTREAM": base, "PYTHONPATH": str(REPO)}
    if server == "uvicorn":
        cmd = [sys.executable, str(BENCH / "passthrough.py"), "--port", str(port)]
    else:
        cmd = [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--loop",
            "uvloop",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-ws",
            "--log-level",
            "warning",
            "bench.passthrough:app",
        ]
    proc = subprocess.Popen(
        ["taskset", "-c", str(TARGET_CORE), *cmd],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2.0)
    return proc, f"http://127.0.0.1:{port}/chat/completions"


def _serve_and_load(pid: int, url: str, stream: bool) -> str:
    import uvloop

    from bench.loadgen import RequestSpec, run_load
    from bench.procstat import TreeProbe

    probe = TreeProbe(pid)
    marks: dict[str, float] = {}
    spec = [RequestSpec.chat(url, stream=stream, headers={"Authorization": "Bearer x"})]
    result = uvloop.run(
        run_load(
            url,
            spec,
            concurrency=16,
            duration_s=5,
            warmup_s=1,
            on_window_start=lambda: marks.__setitem__("cpu0", probe.cpu()),
            on_window_end=lambda: marks.__setitem__("cpu1", probe.cpu()),
        )
    )
    served = len(result.latency_ms)
    cpu = (marks["cpu1"] - marks["cpu0"]) / max(served, 1) * 1000
    return f"{served / result.duration_s:,.0f} req/s, {cpu:.2f} ms ({result.errors} errors)"


def server_rows(base: str) -> list[str]:
    rows = []
    for server in ("uvicorn", "granian"):
        proc, url = _serve(server, base)
        try:
            plain, streamed = (_serve_and_load(proc.pid, url, stream) for stream in (False, True))
            rows.append(f"| {server} | {plain} | {streamed} |")
        finally:
            proc.terminate()
            proc.wait()
    return rows


def main() -> None:
    _ensure_venv()
    os.sched_setaffinity(0, {TARGET_CORE})
    lines = ["### The stack, measured (`python -m bench.stack`)", ""]
    lines += [
        "JSON, µs per call:",
        "",
        "| library | decode request | encode request | decode chunk | encode chunk |",
        "|---|---|---|---|---|",
        *json_rows(),
        "",
    ]
    lines += [
        "Validating a chat request (parse included), µs per call:",
        "",
        "| approach | µs |",
        "|---|---|",
        *validation_rows(),
        "",
    ]
    mock, base = _start_mock()
    try:
        lines += [
            "Upstream client, CPU ms per request (16 in flight, client on one core):",
            "",
            "| client | non-streaming | streaming (20 chunks) |",
            "|---|---|---|",
            *client_rows(base),
            "",
        ]
        os.sched_setaffinity(0, {HARNESS_CORE})
        lines += [
            "Server for the lean pass-through (pinned to one core), 16 clients:",
            "",
            "| server | non-streaming | streaming (20 chunks) |",
            "|---|---|---|",
            *server_rows(base),
            "",
        ]
    finally:
        mock.terminate()
        mock.wait()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
