"""Deterministic answers and token counts (no server)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from routeplex_gateway.simulator.answer import (
    AFTER_TOOL_SENTENCE,
    SENTENCES,
    AnswerSpec,
    JsonObjectOutput,
    JsonSchemaOutput,
    PromptMessage,
    ToolSpec,
    conversation_seed,
    count_prompt_tokens,
    count_tokens,
    is_reasoning_model,
    plan_answer,
    split_pieces,
)

SEED = conversation_seed([{"role": "user", "content": "hello"}])
CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
}


def test_token_rule() -> None:
    assert split_pieces("Hello, world!") == ["Hello", ",", " world", "!"]
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("") == 0


@pytest.mark.parametrize("text", ["", "  ", "a  b ", '{"a": "x  "}', "line\nnext\n"])
def test_pieces_reassemble_exactly(text: str) -> None:
    assert "".join(split_pieces(text)) == text


def test_prompt_tokens_follow_openai_recipe() -> None:
    # 3 per message + role + content, + 3 priming: "hello" as a user message is 8, as recorded.
    assert count_prompt_tokens([PromptMessage("user", ("hello",))]) == 8
    named = PromptMessage("user", ("hello",), name="ann")
    assert count_prompt_tokens([named]) == 10
    with_image = PromptMessage("user", ("hello",), image_tokens=85)
    assert count_prompt_tokens([with_image], ["tool text"]) == 8 + 85 + 2


def test_same_seed_same_answer_and_different_seed_differs() -> None:
    first = plan_answer(AnswerSpec(SEED, "gpt-4o"))
    assert first == plan_answer(AnswerSpec(SEED, "gpt-4o"))
    other = plan_answer(AnswerSpec(conversation_seed([{"role": "user", "content": "bye"}]), "m"))
    assert other.text != first.text
    assert first.finish_reason == "stop"
    assert first.completion_tokens == len(first.pieces) == count_tokens(first.text or "")


def test_text_is_made_of_bank_sentences() -> None:
    text = plan_answer(AnswerSpec(SEED, "gpt-4o")).text or ""
    remainder = text
    for sentence in SENTENCES:
        remainder = remainder.replace(sentence, "")
    assert remainder.strip() == ""


def test_max_tokens_truncates_with_length() -> None:
    answer = plan_answer(AnswerSpec(SEED, "gpt-4o", max_tokens=5))
    assert answer.finish_reason == "length"
    assert len(answer.pieces) == answer.completion_tokens == 5


def test_reasoning_models_spend_reasoning_tokens_first() -> None:
    assert is_reasoning_model("o3-mini") and is_reasoning_model("gpt-5-mini")
    assert not is_reasoning_model("gpt-4o")
    answer = plan_answer(AnswerSpec(SEED, "o3-mini"))
    assert answer.reasoning_tokens in (64, 128)
    assert answer.completion_tokens == len(answer.pieces) + answer.reasoning_tokens
    starved = plan_answer(AnswerSpec(SEED, "o3-mini", max_tokens=10))
    assert (starved.text, starved.finish_reason, starved.completion_tokens) == ("", "length", 10)


def test_stop_sequence_cuts_the_text() -> None:
    full = plan_answer(AnswerSpec(SEED, "gpt-4o")).text or ""
    word = full.split()[2]
    answer = plan_answer(AnswerSpec(SEED, "gpt-4o", stop=(word,)))
    assert answer.text == full[: full.find(word)]
    assert answer.finish_reason == "stop"


def test_tool_call_choice() -> None:
    tools = (ToolSpec("first", {"type": "object"}), ToolSpec("final_result", CITY))
    first = plan_answer(AnswerSpec(SEED, "gpt-4o", tools=tools))
    assert [call.name for call in first.tool_calls] == ["first"]
    assert first.tool_calls[0].arguments == "{}"
    assert first.finish_reason == "tool_calls" and first.text is None
    forced = plan_answer(AnswerSpec(SEED, "gpt-4o", tools=tools, forced_tool="final_result"))
    arguments = json.loads(forced.tool_calls[0].arguments)
    jsonschema.validate(arguments, CITY)
    assert len(forced.tool_calls[0].key) == 24
    both = plan_answer(AnswerSpec(SEED, "gpt-4o", tools=tools, parallel=True))
    assert [call.name for call in both.tool_calls] == ["first", "final_result"]
    refused = plan_answer(AnswerSpec(SEED, "gpt-4o", tools=tools, use_tools=False))
    assert refused.tool_calls == ()


def test_tool_results_get_text_unless_a_call_is_forced() -> None:
    tools = (ToolSpec("first", {"type": "object"}), ToolSpec("final_result", CITY))
    after_tool = plan_answer(AnswerSpec(SEED, "gpt-4o", tools=tools, last_turn="tool"))
    assert after_tool.tool_calls == () and after_tool.finish_reason == "stop"
    assert (after_tool.text or "").startswith(AFTER_TOOL_SENTENCE + " ")
    assert after_tool.completion_tokens == count_tokens(after_tool.text or "")
    prefill = plan_answer(AnswerSpec(SEED, "gpt-4o", tools=tools, last_turn="other"))
    assert prefill.tool_calls == () and not (prefill.text or "").startswith(AFTER_TOOL_SENTENCE)
    # A forced choice forces a call on every turn, as the real APIs do.
    required = AnswerSpec(SEED, "gpt-4o", tools=tools, last_turn="tool", tool_required=True)
    assert [call.name for call in plan_answer(required).tool_calls] == ["first"]
    named = AnswerSpec(SEED, "gpt-4o", tools=tools, last_turn="tool", forced_tool="final_result")
    assert [call.name for call in plan_answer(named).tool_calls] == ["final_result"]
    json_after_tool = AnswerSpec(SEED, "m", last_turn="tool", output=JsonObjectOutput())
    assert isinstance(json.loads(plan_answer(json_after_tool).text or ""), dict)


def test_json_outputs() -> None:
    value = json.loads(
        plan_answer(AnswerSpec(SEED, "gpt-4o", output=JsonObjectOutput())).text or ""
    )
    assert isinstance(value, dict) and value
    structured = plan_answer(AnswerSpec(SEED, "gpt-4o", output=JsonSchemaOutput(CITY)))
    jsonschema.validate(json.loads(structured.text or ""), CITY)
