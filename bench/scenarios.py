"""What the harness runs: the scenarios, the mock upstream process that serves every target,
and the request specs and correctness check used against each target.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.loadgen import RequestSpec, chat_body, run_load
from bench.mock_upstream import ANSWER
from bench.targets import HARNESS_CORE, Endpoint, pinning


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    stream: bool
    concurrency: int
    chunks: int = 20
    ttft_ms: float = 0.0
    gap_ms: float = 0.0


SCENARIOS = {
    s.name: s
    for s in [
        Scenario("plain-1", "non-streaming @1", False, 1),
        Scenario("plain-16", "non-streaming @16", False, 16),
        Scenario("plain-64", "non-streaming @64", False, 64),
        Scenario("stream-16", "streaming 20 chunks @16", True, 16),
        Scenario("paced-256", "paced streams @256 (TTFT 100 ms, 20×10 ms)", True, 256, 20, 100, 10),
    ]
}
ALL_TARGETS = ["direct", "passthrough", "routeplex", "portkey", "litellm"]


class Mock:
    """The mock upstream process, pinned to the harness core."""

    def __init__(self, log: Path) -> None:
        prefix = ["taskset", "-c", str(HARNESS_CORE)] if pinning() else []
        script = Path(__file__).resolve().parent / "mock_upstream.py"
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, str(script), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"the mock did not start: {line!r}")
        self.base = "http://" + line.rsplit(" ", 1)[1].strip()

    @property
    def api_base(self) -> str:
        return f"{self.base}/v1"

    def configure(self, scenario: Scenario) -> None:
        body = json.dumps(
            {"chunks": scenario.chunks, "ttft_ms": scenario.ttft_ms, "gap_ms": scenario.gap_ms}
        ).encode()
        with urllib.request.urlopen(f"{self.base}/_mock/config", body, timeout=5) as resp:
            resp.read()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


def specs(endpoint: Endpoint, stream: bool, check: str = "light") -> list[RequestSpec]:
    return [
        RequestSpec.chat(
            endpoint.url,
            stream=stream,
            headers=endpoint.headers,
            body=chat_body(stream=stream),
            check=check,
            expect=ANSWER if check == "full" else None,
        )
    ]


async def validate(endpoint: Endpoint, mock: Mock) -> None:
    """Every target must answer both kinds correctly (content checked) before it is measured."""
    mock.configure(Scenario("check", "", True, 1, chunks=20))
    for stream in (False, True):
        result = await run_load(
            endpoint.url,
            specs(endpoint, stream, check="full"),
            concurrency=2,
            duration_s=2.0,
            warmup_s=0.0,  # every response counts: a cold, slow target still gets judged
            timeout_s=30,
        )
        if result.errors or not result.completed_total:
            kind = "streaming" if stream else "non-streaming"
            raise RuntimeError(f"{kind} check failed: {result.summary()}")
