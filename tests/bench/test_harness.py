"""Smoke test of the benchmark harness pieces: the mock upstream and the closed-loop load
generator against it (plain, SSE, and paced SSE), plus the report's table. No gateway, no
LiteLLM or Portkey; about three seconds.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import orjson
import pytest
from bench.loadgen import RequestSpec, percentile, run_load
from bench.mock_upstream import bound_port, start_mock
from bench.mock_wire import ANSWER, MockConfig, split_answer
from bench.procstat import TreeProbe, tree_pids
from bench.report import Cell, checks, table
from bench.targets import Passthrough, RoutePlexWorkers

from tests.support.services import require_redis


def _spec(url: str, stream: bool) -> list[RequestSpec]:
    return [RequestSpec.chat(url, stream=stream, check="full", expect=ANSWER)]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "sse"])
async def test_loadgen_against_mock(stream: bool) -> None:
    server, mock = await start_mock(config=MockConfig(chunks=20))
    url = f"http://127.0.0.1:{bound_port(server)}/v1/chat/completions"
    try:
        result = await run_load(
            url, _spec(url, stream), concurrency=4, duration_s=0.8, warmup_s=0.2, timeout_s=5
        )
    finally:
        server.close()
    summary = result.summary()
    assert result.errors == 0, summary
    assert result.requests > 50, summary
    assert mock.requests >= result.requests
    assert mock.streams == (mock.requests if stream else 0)
    assert 0 < summary["p50_ms"] <= summary["p99_ms"] < 1000
    assert summary["ttfb_p50_ms"] <= summary["p50_ms"]


async def test_paced_stream_timing() -> None:
    config = MockConfig(chunks=5, ttft_ms=50, gap_ms=10)
    server, _ = await start_mock(config=config)
    url = f"http://127.0.0.1:{bound_port(server)}/v1/chat/completions"
    try:
        result = await run_load(
            url, _spec(url, True), concurrency=8, duration_s=0.8, warmup_s=0.2, timeout_s=5
        )
    finally:
        server.close()
    assert result.errors == 0
    ttfb, latency = percentile(result.ttfb_ms, 50), percentile(result.latency_ms, 50)
    assert ttfb is not None and latency is not None
    assert 45 <= ttfb < 150  # first chunk after the configured TTFT, not buffered
    assert latency >= ttfb + 35  # then 4 gaps of 10 ms


async def test_errors_are_counted() -> None:
    server, _ = await start_mock()
    base = f"http://127.0.0.1:{bound_port(server)}"
    bad = RequestSpec.chat(f"{base}/v1/chat/completions", stream=False, body=b'{"model": "x"}')
    try:
        result = await run_load(
            f"{base}/v1/chat/completions", [bad], concurrency=2, duration_s=0.3, warmup_s=0.1
        )
    finally:
        server.close()
    assert result.requests == 0
    assert result.errors > 0
    assert set(result.error_kinds) == {"http_400"}


def test_stream_chunks_carry_the_whole_answer() -> None:
    assert "".join(split_answer(19)) == ANSWER
    assert len(split_answer(19)) == 19
    assert 250 <= len(ANSWER.encode()) <= 400


def test_judge_rejects_broken_stream() -> None:
    spec = RequestSpec.chat("http://127.0.0.1:1/v1/chat/completions", stream=True, check="full")
    chunk = orjson.dumps({"object": "chat.completion.chunk", "choices": [], "usage": {"a": 1}})
    assert spec.judge(200, b"data: " + chunk + b"\n\ndata: [DONE]\n\n") is None
    assert spec.judge(200, b"data: " + chunk + b"\n\n") == "no_done"
    assert spec.judge(500, b"") == "http_500"


def test_probe_and_table() -> None:
    probe = TreeProbe(os.getpid())
    assert probe.cpu() > 0
    assert probe.rss() > 0
    cell = Cell("plain-16", "routeplex", 1200.0, 10.0, 20.0, 10.0, 20.0, 100, 0, 0.8, 90.0, 20.0)
    direct = Cell("plain-16", "direct", 20000.0, 0.5, 1.0, 0.5, 1.0, 100, 0, 0.02, 26.0, 99.0)
    text = table([direct, cell], {"plain-16": "non-streaming @16"})
    assert "0.06×" in text and "+9.50" in text
    assert any(ok for ok, _ in checks([direct, cell]))


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "sse"])
async def test_the_lean_pass_through_relays_the_mock(tmp_path: Path, stream: bool) -> None:
    server, mock = await start_mock(config=MockConfig(chunks=20))
    target = Passthrough()
    try:
        endpoint = await asyncio.to_thread(
            target.launch, f"http://127.0.0.1:{bound_port(server)}/v1", tmp_path
        )
        spec = [
            RequestSpec.chat(
                endpoint.url, stream=stream, check="full", expect=ANSWER, headers=endpoint.headers
            )
        ]
        result = await run_load(
            endpoint.url, spec, concurrency=4, duration_s=0.8, warmup_s=0.2, timeout_s=5
        )
    finally:
        await asyncio.to_thread(target.stop)
        server.close()
    assert result.errors == 0, result.summary()
    assert result.requests > 20
    assert mock.streams == (mock.requests if stream else 0)


async def test_two_routeplex_workers_with_redis_serve_the_mock(tmp_path: Path) -> None:
    require_redis()
    server, _ = await start_mock(config=MockConfig(chunks=20))
    target = RoutePlexWorkers()
    try:
        await asyncio.to_thread(target.prepare, False)
        endpoint = await asyncio.to_thread(
            target.launch, f"http://127.0.0.1:{bound_port(server)}/v1", tmp_path
        )
        spec = [
            RequestSpec.chat(
                endpoint.url, stream=stream, check="full", expect=ANSWER, headers=endpoint.headers
            )
            for stream in (False, True)
        ]
        result = await run_load(
            endpoint.url, spec, concurrency=4, duration_s=1.0, warmup_s=0.3, timeout_s=10
        )
        workers = len(tree_pids(target.pid)) - 1
    finally:
        await asyncio.to_thread(target.stop)
        server.close()
    assert result.errors == 0, result.summary()
    assert workers >= 2  # the supervisor and its two workers
    rows = target.metadata_rows()
    assert rows.get("200", 0) >= result.requests  # every request recorded, by both workers
