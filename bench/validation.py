"""Request validation on the hot path: the typed schemas (`api/schemas`, pydantic) against the
hand-written validators they replaced (`bench/hand_validation.py`, frozen), in one run.

    .venv/bin/python -m bench.validation          # ≈ 30 s; prints one Markdown table

Each row is CPU µs per call (process time, the median of 5 rounds) of validating one
already-parsed body — orjson has decoded it before either runs — as `validate_chat_body`
does for `POST /v1/chat/completions`: the schema check, the nesting walk and the fields the
gateway reads; "schema" is the typed schema's check alone. The ratio is typed ÷ hand;
"added" is what the typed schema costs per request beyond the baseline, beside the
gateway's whole CPU per request (≈ 200–600 µs on bench/RESULTS.md's machine, scaled to this
one by how long both take to parse the same body).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import orjson

from bench import hand_validation
from bench.loadgen import chat_body
from routeplex_gateway.api import validation
from routeplex_gateway.api.schemas.openai_chat import ChatCompletionRequest
from routeplex_gateway.api.schemas.refusal import check
from routeplex_gateway.errors import GatewayError

GATEWAY_CPU_US = (200, 600)  # the gateway's CPU per request, bench/RESULTS.md
REFERENCE_LOADS_US = 0.58  # orjson.loads of the same body there (bench.stack)


def _weather_tool(name: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": "The weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city."},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    }


def bodies() -> dict[str, dict[str, Any]]:
    """Typical bodies: the load generator's (a system and a user message, streaming), the
    same with three tools and a tool call answered, a 20-turn conversation with an image,
    and one refused (a tool without a name), for the error path."""
    plain: dict[str, Any] = orjson.loads(chat_body(stream=True))
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "weather_0", "arguments": '{"city": "Paris"}'},
    }
    tools = {
        **plain,
        "tools": [_weather_tool(f"weather_{i}") for i in range(3)],
        "tool_choice": "auto",
        "messages": [
            *plain["messages"],
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 24 °C."},
        ],
    }
    turns: list[dict[str, Any]] = [plain["messages"][0]]
    for turn in range(10):
        turns.append({"role": "user", "content": f"Question {turn}: what comes next?"})
        turns.append({"role": "assistant", "content": f"Answer {turn}: this comes next."})
    turns[1] = {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        ],
    }
    refused = {**tools, "tools": [{"type": "function", "function": {"description": "x"}}]}
    return {
        "plain (2 messages, stream)": plain,
        "tools (3 tools, 4 messages)": tools,
        "conversation (21 messages, an image)": {**plain, "messages": turns},
        "refused (a tool without a name)": refused,
    }


def _refusing(check: Callable[[Any], object]) -> Callable[[Any], object]:
    def call(body: Any) -> object:
        try:
            return check(body)
        except GatewayError as error:
            return error

    return call


def cpu_us(fn: Callable[[], object], seconds: float) -> float:
    """The mean CPU µs per call over `seconds` (after a warm-up: pydantic's and CPython's
    caches, as a serving process has them)."""
    for _ in range(200):
        fn()
    count, started = 0, time.process_time()
    while time.process_time() - started < seconds:
        for _ in range(50):
            fn()
        count += 50
    return (time.process_time() - started) / count * 1e6


def medians(candidates: dict[str, Callable[[], object]], seconds: float) -> dict[str, float]:
    """Each candidate's median over 5 rounds, the candidates interleaved within each round so
    that a busy moment of the machine weighs on all of them alike."""
    rounds: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(5):
        for name, fn in candidates.items():
            rounds[name].append(cpu_us(fn, seconds / 5))
    return {name: sorted(values)[2] for name, values in rounds.items()}


def rows(seconds: float) -> list[str]:
    hand = _refusing(hand_validation.validate_chat_body)
    typed = _refusing(validation.validate_chat_body)
    schema_only = _refusing(lambda body: check(ChatCompletionRequest, body))
    raw = chat_body(stream=True)
    # This machine against the one bench/RESULTS.md measured the gateway on, by one call both
    # measured: the gateway's CPU per request is scaled by it.
    scale = medians({"loads": lambda: orjson.loads(raw)}, seconds)["loads"] / REFERENCE_LOADS_US
    low_cpu, high_cpu = (cpu * scale for cpu in GATEWAY_CPU_US)
    lines = [
        f"orjson.loads of the plain body: {scale * REFERENCE_LOADS_US:.2f} µs here, "
        f"{REFERENCE_LOADS_US} µs on bench/RESULTS.md's machine: the gateway's CPU per "
        f"request taken as {low_cpu:.0f}–{high_cpu:.0f} µs here.",
        "",
        "| body | hand µs | typed µs | typed ÷ hand | added µs | added, % of gateway CPU "
        "| of which schema µs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, body in bodies().items():
        measured = medians(
            {
                "hand": lambda body=body: hand(body),
                "typed": lambda body=body: typed(body),
                "schema": lambda body=body: schema_only(body),
            },
            seconds,
        )
        before, after = measured["hand"], measured["typed"]
        added = after - before
        lines.append(
            f"| {name} | {before:.1f} | {after:.1f} | {after / before:.2f} | {added:+.1f} "
            f"| {100 * added / high_cpu:+.1f} to {100 * added / low_cpu:+.1f} "
            f"| {measured['schema']:.1f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per candidate and body")
    parser.add_argument("--core", type=int, default=None, help="pin to this CPU core")
    args = parser.parse_args()
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    print("\n".join(rows(args.seconds)))


if __name__ == "__main__":
    main()
