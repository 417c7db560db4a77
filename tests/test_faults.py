"""Faults end to end: a client that goes away, a provider that hangs or stalls or resets,
and a graceful shutdown with a stream in flight. Each request still gets its record."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from routeplex_gateway.app import create_app
from routeplex_gateway.config import ProviderConfig
from routeplex_gateway.simulator.app import create_simulator_app
from tests.conftest import RunningGateway, gateway_settings
from tests.support.accounts import create_account_with_key
from tests.support.serve import demo_key, launch
from tests.support.servers import free_port, serve_in_thread
from tests.test_cli import ROUTEPLEX


class SlowUpstream:
    """An OpenAI-compatible upstream that streams slowly and notices its client leaving."""

    def __init__(self) -> None:
        self.client_left = threading.Event()

    def app(self) -> Starlette:
        async def chat(request: Request) -> Response:
            await request.body()

            async def chunks() -> AsyncIterator[bytes]:
                try:
                    for i in range(100):
                        chunk = {
                            "id": "c",
                            "object": "chat.completion.chunk",
                            "created": 1,
                            "model": "slow",
                            "choices": [
                                {"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}
                            ],
                        }
                        yield b"data: " + orjson.dumps(chunk) + b"\n\n"
                        await asyncio.sleep(0.1)
                    yield b"data: [DONE]\n\n"
                except (asyncio.CancelledError, GeneratorExit):
                    self.client_left.set()
                    raise

            return StreamingResponse(chunks(), media_type="text/event-stream")

        return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def gateway_with(tmp_path: Path, provider: ProviderConfig) -> tuple[RunningGateway, object]:
    data = tmp_path / "data"
    data.mkdir()
    settings = gateway_settings(data, providers=[provider])
    running = RunningGateway(url="", data_dir=data, simulator_url="")
    running.keys["alice"] = create_account_with_key(settings, "alice")
    return running, create_app(settings)


@pytest.fixture
def slow_gateway(tmp_path: Path) -> Iterator[tuple[RunningGateway, SlowUpstream]]:
    upstream = SlowUpstream()
    with serve_in_thread(upstream.app()) as upstream_url:
        running, app = gateway_with(
            tmp_path,
            ProviderConfig(name="slow", base_url=f"{upstream_url}/v1", api_key="k", models=["m"]),
        )
        with serve_in_thread(app) as url:
            running.url = url
            yield running, upstream


def test_client_disconnect_cancels_the_upstream_and_is_recorded(
    slow_gateway: tuple[RunningGateway, SlowUpstream],
) -> None:
    gw, upstream = slow_gateway
    with httpx.stream(
        "POST",
        f"{gw.url}/v1/chat/completions",
        timeout=10,
        headers={"Authorization": f"Bearer {gw.keys['alice']}"},
        json={"model": "slow/m", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    ) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
    assert upstream.client_left.wait(5), "the upstream request was not cancelled"
    row = gw.metadata(expect=1)[0]
    assert row["http_status"] == 499 and row["ttfb_ms"] is not None
    # Charged what it consumed, estimated, on the model that produced it.
    assert row["usage_estimated"] == 1 and row["served_model"] == "slow/m"
    assert row["input_tokens"] > 0 and row["output_tokens"] > 0


def test_provider_that_hangs_times_out(tmp_path: Path, simulator_url: str) -> None:
    gw, app = gateway_with(
        tmp_path,
        ProviderConfig(
            name="sim",
            base_url=f"{simulator_url}/v1",
            api_key="k",
            models=["gpt-4o-mini"],
            timeout_s=0.5,
        ),
    )
    httpx.post(f"{simulator_url}/_simulator/faults", json={"model": "gpt-4o-mini", "hang": True})
    with serve_in_thread(app) as url:
        started = time.monotonic()
        response = httpx.post(
            f"{url}/v1/chat/completions",
            timeout=10,
            headers={"Authorization": f"Bearer {gw.keys['alice']}"},
            # The total timeout grows with the output cap (1 s per 50 tokens): 0.5 s + 0.5 s.
            json={
                "model": "sim/gpt-4o-mini",
                "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 25,
            },
        )
        assert time.monotonic() - started < 3
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "provider_timeout"


def test_stalled_stream_ends_with_an_error_event(tmp_path: Path, simulator_url: str) -> None:
    gw, app = gateway_with(
        tmp_path,
        ProviderConfig(
            name="sim",
            base_url=f"{simulator_url}/v1",
            api_key="k",
            models=["gpt-4o-mini"],
            timeout_s=0.5,
        ),
    )
    httpx.post(
        f"{simulator_url}/_simulator/faults", json={"model": "gpt-4o-mini", "stall_after_chunks": 2}
    )
    with serve_in_thread(app) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions",
            timeout=10,
            headers={"Authorization": f"Bearer {gw.keys['alice']}"},
            json={
                "model": "sim/gpt-4o-mini",
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
    events = [e for e in response.text.split("\n\n") if e.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert "error" in json.loads(events[-2][6:])
    assert gw.metadata(expect=1)[0]["error_code"] == "provider_error"


def test_connection_reset_before_any_chunk(gateway: RunningGateway) -> None:
    httpx.post(
        f"{gateway.simulator_url}/_simulator/faults",
        json={"model": "gpt-4.1-nano", "cut_after_chunks": 0, "count": 1},
    )
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        timeout=10,
        headers={"Authorization": f"Bearer {gateway.keys['alice']}"},
        json={
            "model": "gpt-4.1-nano",
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    # Nothing reached the client, so this is a plain JSON error, not a broken stream.
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "provider_error"


def test_graceful_shutdown_finishes_the_stream_and_flushes(tmp_path: Path) -> None:
    with serve_in_thread(create_simulator_app(chunk_gap_s=0.15)) as simulator:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEPLEX_")}
        env.update(
            {
                "ROUTEPLEX_DATA_DIR": str(tmp_path),
                "ROUTEPLEX_PORT": str(port),
                "OPENAI_API_KEY": "sk-x",
                "OPENAI_BASE_URL": f"{simulator}/v1",
                "ROUTEPLEX_RECORDER_FLUSH_S": "30",
            }
        )
        process, output = launch([], env)
        try:
            key = demo_key(output)
            url = f"http://127.0.0.1:{port}"
            while True:
                try:
                    httpx.get(f"{url}/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            with httpx.stream(
                "POST",
                f"{url}/v1/chat/completions",
                timeout=30,
                headers={"Authorization": f"Bearer {key}"},
                json={
                    "model": "gpt-4o-mini",
                    "stream": True,
                    "messages": [{"role": "user", "content": "hi"}],
                },
            ) as r:
                lines = r.iter_lines()
                assert next(lines).startswith("data: ")
                process.send_signal(signal.SIGTERM)  # mid-stream
                rest = [line for line in lines if line]
            assert rest[-1] == "data: [DONE]"
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
    # The record was still queued (flush interval 30 s): shutdown wrote it.
    usage = subprocess.run(
        [ROUTEPLEX, "usage", "--json"],
        capture_output=True,
        text=True,
        env={**env},
        timeout=60,
        check=True,
    )
    assert json.loads(usage.stdout)[0]["requests"] == 1


def test_a_huge_upstream_response_is_refused_not_buffered(tmp_path: Path) -> None:
    from routeplex_gateway.providers.base import MAX_RESPONSE_BYTES

    async def huge(request: Request) -> Response:
        await request.body()
        filler = b" " * (MAX_RESPONSE_BYTES + 1024)
        return Response(b'{"choices": [], "pad": "' + filler + b'"}', media_type="application/json")

    upstream = Starlette(routes=[Route("/v1/chat/completions", huge, methods=["POST"])])
    with serve_in_thread(upstream) as upstream_url:
        gw, app = gateway_with(
            tmp_path,
            ProviderConfig(name="huge", base_url=f"{upstream_url}/v1", api_key="k", models=["m"]),
        )
        with serve_in_thread(app) as url:
            response = httpx.post(
                f"{url}/v1/chat/completions",
                timeout=30,
                headers={"Authorization": f"Bearer {gw.keys['alice']}"},
                json={"model": "huge/m", "messages": [{"role": "user", "content": "hi"}]},
            )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "provider_error"
    assert "more than" in response.json()["error"]["message"]
