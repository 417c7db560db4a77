"""What the harness runs: the scenarios, the surfaces they go through, the mock upstream
process that serves every target, and the request specs and correctness check used against
each target.

A surface is an API and a model behind it: OpenAI's chat completions to GPT (`chat`, what
every target serves) or to Claude (`chat-claude`), Anthropic's Messages to GPT
(`messages-gpt`: translated both ways) or to Claude (`messages-claude`: passed through),
OpenAI's Responses to GPT (`responses`: forwarded to OpenAI's own Responses API), OpenAI's
embeddings (`embeddings`, text-embedding-3-small). A target measures only the scenarios of
the surfaces it serves (`Target.surfaces`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

from bench.embeddings_wire import EMBEDDING_MODEL, embeddings_body
from bench.loadgen import RequestSpec, chat_body, run_load
from bench.messages_wire import messages_body
from bench.mock_wire import ANSWER
from bench.responses_wire import responses_body
from bench.targets import HARNESS_CORE, Endpoint, Target, pinning


@dataclass(frozen=True)
class Surface:
    name: str
    # The caller's wire format: "openai" (chat completions), "anthropic" (Messages),
    # "responses" (OpenAI's Responses) or "embeddings" (OpenAI's embeddings).
    wire: str
    model: str

    @property
    def streams(self) -> bool:
        return self.wire != "embeddings"

    def body(self, stream: bool) -> bytes:
        if self.wire == "anthropic":
            return messages_body(stream=stream, model=self.model)
        if self.wire == "responses":
            return responses_body(stream=stream, model=self.model)
        if self.wire == "embeddings":
            return embeddings_body(model=self.model)
        return chat_body(stream=stream, model=self.model)


SURFACES = {
    s.name: s
    for s in [
        Surface("chat", "openai", "gpt-4o-mini"),
        Surface("chat-claude", "openai", "claude-haiku-4-5"),
        Surface("messages-gpt", "anthropic", "gpt-4o-mini"),
        Surface("messages-claude", "anthropic", "claude-haiku-4-5"),
        Surface("responses", "responses", "gpt-4o-mini"),
        Surface("embeddings", "embeddings", EMBEDDING_MODEL),
    ]
}
CHAT = SURFACES["chat"]


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    stream: bool
    concurrency: int
    chunks: int = 20
    ttft_ms: float = 0.0
    gap_ms: float = 0.0
    surface: Surface = CHAT
    # The chat scenario of the same shape, that another surface's overhead is measured over.
    baseline: str | None = None


def _on(surface: str, name: str, label: str, baseline: Scenario) -> Scenario:
    """`baseline`'s load through another surface."""
    return replace(
        baseline, name=name, label=label, surface=SURFACES[surface], baseline=baseline.name
    )


_PLAIN_16 = Scenario("plain-16", "non-streaming @16", False, 16)
_STREAM_16 = Scenario("stream-16", "streaming 20 chunks @16", True, 16)
CHAT_SCENARIOS = [
    Scenario("plain-1", "non-streaming @1", False, 1),
    _PLAIN_16,
    Scenario("plain-64", "non-streaming @64", False, 64),
    _STREAM_16,
    Scenario("paced-256", "paced streams @256 (TTFT 100 ms, 20×10 ms)", True, 256, 20, 100, 10),
]
OTHER_SURFACES = [
    _on("chat-claude", "claude-16", "chat to Claude, non-streaming @16", _PLAIN_16),
    _on("chat-claude", "claude-stream-16", "chat to Claude, streaming @16", _STREAM_16),
    _on("messages-gpt", "messages-gpt-16", "Messages to GPT, non-streaming @16", _PLAIN_16),
    _on("messages-gpt", "messages-gpt-stream-16", "Messages to GPT, streaming @16", _STREAM_16),
    _on(
        "messages-claude", "messages-claude-16", "Messages to Claude, non-streaming @16", _PLAIN_16
    ),
    _on(
        "messages-claude",
        "messages-claude-stream-16",
        "Messages to Claude, streaming @16",
        _STREAM_16,
    ),
    _on("responses", "responses-16", "Responses to GPT, non-streaming @16", _PLAIN_16),
    _on("responses", "responses-stream-16", "Responses to GPT, streaming @16", _STREAM_16),
    # Measured beside plain-16 (one JSON answer each, 16 at a time): a batch of 4 short inputs
    # and 4 vectors of 1536 floats (base64) back, against a chat answer of ~300 characters.
    _on("embeddings", "embeddings-16", "embeddings, 4 inputs a request @16", _PLAIN_16),
]
SCENARIOS = {s.name: s for s in CHAT_SCENARIOS + OTHER_SURFACES}
# What a run measures unless told otherwise: the chat scenarios every target serves.
DEFAULT_SCENARIOS = [s.name for s in CHAT_SCENARIOS]
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


def specs(
    endpoint: Endpoint, stream: bool, check: str = "light", surface: Surface = CHAT
) -> list[RequestSpec]:
    return [
        RequestSpec.chat(
            endpoint.url,
            stream=stream,
            headers=endpoint.headers,
            body=surface.body(stream),
            check=check,
            expect=ANSWER if check == "full" else None,
            wire=surface.wire,
        )
    ]


def scenario_specs(target: Target, scenario: Scenario) -> list[RequestSpec]:
    surface = scenario.surface
    return specs(target.endpoints[surface.wire], scenario.stream, surface=surface)


async def validate(endpoint: Endpoint, mock: Mock, surface: Surface = CHAT) -> None:
    """Every target must answer both kinds correctly (content checked) before it is measured."""
    mock.configure(Scenario("check", "", True, 1, chunks=20))
    for stream in (False, True) if surface.streams else (False,):
        result = await run_load(
            endpoint.url,
            specs(endpoint, stream, check="full", surface=surface),
            concurrency=2,
            duration_s=2.0,
            warmup_s=0.0,  # every response counts: a cold, slow target still gets judged
            timeout_s=30,
        )
        if result.errors or not result.completed_total:
            kind = "streaming" if stream else "non-streaming"
            raise RuntimeError(f"{surface.name} {kind} check failed: {result.summary()}")


async def validate_surfaces(target: Target, mock: Mock, scenarios: list[Scenario]) -> None:
    """`validate` for each surface the run's scenarios go through that the target serves."""
    for surface in dict.fromkeys(s.surface for s in scenarios):
        if surface.name in target.surfaces:
            await validate(target.endpoints[surface.wire], mock, surface)
