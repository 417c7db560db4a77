"""Agent loops end in simulated mode: the official SDKs run a scripted agent (call the model,
execute every tool call, send the results back) through the gateway against the simulator
speaking OpenAI's, Anthropic's and Gemini's wire formats, and directly against the
simulator's Anthropic surface, streamed and not.

An agent client such as Claude Code stops when a turn has no tool call, so the simulator must
answer tool results with text; only a forced tool choice keeps calling, as on the real APIs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import jsonschema
import openai
import pytest

from routeplex_gateway.simulator.answer import AFTER_TOOL_SENTENCE
from tests.conftest import RunningGateway

MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-3-5-haiku-20241022",
    "google": "gemini-2.5-flash",
}
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
TOOLS: Any = [
    {"type": "function", "function": {"name": name, "parameters": WEATHER}}
    for name in ("get_weather", "get_forecast")
]
MAX_TURNS = 5
ANTHROPIC_KEY = "sk-ant-test"


@dataclass
class Turn:
    """One model answer, the same whether it was streamed or not."""

    finish_reason: str | None
    text: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)  # OpenAI `tool_calls` entries


def _client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.keys["alice"], max_retries=0)


def _turn(client: openai.OpenAI, stream: bool, **request: Any) -> Turn:
    if not stream:
        choice = client.chat.completions.create(**request).choices[0]
        calls = [call.model_dump(exclude_none=True) for call in choice.message.tool_calls or ()]
        return Turn(choice.finish_reason, choice.message.content or "", calls)
    turn = Turn(None)
    by_index: dict[int, dict[str, Any]] = {}
    for chunk in client.chat.completions.create(stream=True, **request):
        for choice in chunk.choices:
            turn.text += choice.delta.content or ""
            turn.finish_reason = choice.finish_reason or turn.finish_reason
            for part in choice.delta.tool_calls or ():
                call = by_index.setdefault(
                    part.index,
                    {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
                )
                call["id"] = part.id or call["id"]
                if part.function is not None:
                    call["function"]["name"] += part.function.name or ""
                    call["function"]["arguments"] += part.function.arguments or ""
    turn.calls = [by_index[index] for index in sorted(by_index)]
    return turn


def _run_agent(
    client: openai.OpenAI, model: str, stream: bool, prompt: str, **options: Any
) -> list[Turn]:
    """Every turn of a scripted agent that executes each tool call it gets, until a turn has
    none; fails if the loop is still going after MAX_TURNS."""
    messages: list[Any] = [{"role": "user", "content": prompt}]
    turns: list[Turn] = []
    while len(turns) < MAX_TURNS:
        turn = _turn(client, stream, model=model, messages=messages, tools=TOOLS, **options)
        turns.append(turn)
        if not turn.calls:
            return turns
        messages.append({"role": "assistant", "content": None, "tool_calls": turn.calls})
        for call in turn.calls:
            jsonschema.validate(json.loads(call["function"]["arguments"]), WEATHER)
            result = json.dumps({"temp_c": 18, "tool": call["function"]["name"]})
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    pytest.fail(f"the agent loop did not end within {MAX_TURNS} turns")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", list(MODELS))
def test_agent_loop_ends_with_text_after_the_tool_result(
    gateway: RunningGateway, provider: str, stream: bool
) -> None:
    client = _client(gateway)
    turns = _run_agent(client, MODELS[provider], stream, "What is the weather in Paris?")
    assert len(turns) == 2
    first, last = turns
    assert first.finish_reason == "tool_calls" and first.text == ""
    assert [call["function"]["name"] for call in first.calls] == ["get_weather"]
    assert last.finish_reason == "stop" and last.calls == []
    assert last.text.startswith(AFTER_TOOL_SENTENCE + " ")
    assert "temp_c" not in last.text  # the tool result is read, never echoed
    # Deterministic: the same conversation gets the same answers. (Call ids are left out: the
    # gateway makes up Gemini's, which has none.)
    again = _run_agent(client, MODELS[provider], stream, "What is the weather in Paris?")
    assert [_without_ids(turn) for turn in again] == [_without_ids(turn) for turn in turns]


def _without_ids(turn: Turn) -> tuple[Any, ...]:
    return turn.finish_reason, turn.text, [call["function"] for call in turn.calls]


@pytest.mark.parametrize("provider", list(MODELS))
def test_parallel_calls_end_after_one_round_of_results(
    gateway: RunningGateway, provider: str
) -> None:
    turns = _run_agent(_client(gateway), MODELS[provider], True, "Both tools in parallel")
    assert [len(turn.calls) for turn in turns] == [2, 0]
    assert turns[-1].finish_reason == "stop"


@pytest.mark.parametrize("provider", list(MODELS))
def test_forced_tool_choice_keeps_calling_until_the_client_resets_it(
    gateway: RunningGateway, provider: str
) -> None:
    client, model = _client(gateway), MODELS[provider]
    question: Any = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = _turn(client, False, model=model, messages=question, tools=TOOLS)
    history: Any = [
        *question,
        {"role": "assistant", "content": None, "tool_calls": first.calls},
        {"role": "tool", "tool_call_id": first.calls[0]["id"], "content": '{"temp_c": 18}'},
    ]
    # The real APIs force a call on every turn while tool_choice forces one, whatever the
    # last turn is; agent SDKs reset the choice after the first call for that reason.
    for choice in ("required", {"type": "function", "function": {"name": "get_forecast"}}):
        forced = _turn(
            client, False, model=model, messages=history, tools=TOOLS, tool_choice=choice
        )
        assert forced.finish_reason == "tool_calls" and len(forced.calls) == 1
    assert forced.calls[0]["function"]["name"] == "get_forecast"
    reset = _turn(client, True, model=model, messages=history, tools=TOOLS, tool_choice="auto")
    assert reset.finish_reason == "stop" and reset.text.startswith(AFTER_TOOL_SENTENCE)
    refused = _turn(client, False, model=model, messages=question, tools=TOOLS, tool_choice="none")
    assert refused.finish_reason == "stop" and not refused.text.startswith(AFTER_TOOL_SENTENCE)


def _anthropic_turn(client: anthropic.Anthropic, stream: bool, **request: Any) -> Any:
    if not stream:
        return client.messages.create(max_tokens=300, **request)
    with client.messages.stream(max_tokens=300, **request) as events:
        return events.get_final_message()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_anthropic_sdk_loop_against_the_simulator(simulator_url: str, stream: bool) -> None:
    client = anthropic.Anthropic(base_url=simulator_url, api_key=ANTHROPIC_KEY, max_retries=0)
    tools: Any = [{"name": "get_weather", "input_schema": WEATHER}]
    messages: Any = [{"role": "user", "content": "What is the weather in Paris?"}]
    model = "claude-haiku-4-5"
    first = _anthropic_turn(client, stream, model=model, messages=messages, tools=tools)
    assert first.stop_reason == "tool_use"
    [use] = [block for block in first.content if block.type == "tool_use"]
    messages.append({"role": "assistant", "content": [b.model_dump() for b in first.content]})
    # As Claude Code sends it: the tool result, with text the client adds in the same turn.
    result = {"type": "tool_result", "tool_use_id": use.id, "content": "18 C"}
    messages.append({"role": "user", "content": [result, {"type": "text", "text": "Go on."}]})
    last = _anthropic_turn(client, stream, model=model, messages=messages, tools=tools)
    assert last.stop_reason == "end_turn"
    assert [block.type for block in last.content] == ["text"]
    assert last.content[0].text.startswith(AFTER_TOOL_SENTENCE + " ")
    for choice in ({"type": "any"}, {"type": "tool", "name": "get_weather"}):
        forced = _anthropic_turn(
            client, stream, model=model, messages=messages, tools=tools, tool_choice=choice
        )
        assert forced.stop_reason == "tool_use"
