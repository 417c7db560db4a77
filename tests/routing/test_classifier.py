"""The local classifier: categories, complexity, needs — deterministic, labels only."""

from __future__ import annotations

import pytest

from routeplex_gateway.routing.classifier import CATEGORIES, Classification, classify
from tests.support.chat import openai_request


def classify_body(body: dict[str, object]) -> Classification:
    return classify(openai_request(body))


def user(text: str, **extra: object) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": text}], **extra}


@pytest.mark.parametrize(
    ("prompt", "category"),
    [
        ("Write a python function that implements quicksort", "code"),
        ("I get a TypeError traceback when I run this, how do I fix the bug?", "debugging"),
        ("Solve the equation 3x + 5 = 20 and show the derivative of x^2", "math"),
        ("Compare the pros and cons of Postgres and MySQL for analytics", "analysis"),
        ("Write a poem about the sea at night", "creative_writing"),
        ("Extract all the dates in the following text: ...", "extraction"),
        ("Summarize the key points of this article for me", "summarization"),
        ("Translate this sentence into French: the cat is black", "translation"),
        ("hello! how are you today", "conversation"),
        ("What is the capital of Australia?", "question_answering"),
        ("Think step by step to solve this logic puzzle", "reasoning"),
        ("Convert this list to a JSON table", "data_formatting"),
        ("Make a plan and a roadmap for launching our product", "planning"),
        ("Classify the sentiment of this review as positive or negative", "classification"),
    ],
)
def test_categories(prompt: str, category: str) -> None:
    assert classify_body(user(prompt)).category == category


def test_at_least_twelve_categories() -> None:
    assert len(CATEGORIES) >= 12


def test_complexity_and_context_size() -> None:
    assert classify_body(user("hi there")).complexity == "low"
    assert classify_body(user("Write a python function to parse dates")).complexity == "medium"
    hard = classify_body(
        user(
            "Design a rigorous, comprehensive architecture with trade-offs, step by "
            "step, covering every edge case in depth."
        )
    )
    assert hard.complexity == "high"
    long = classify_body(user("Summarize this. " + "word " * 30000))
    assert long.context_tokens > 6000 and long.complexity == "high"


def test_needs_come_from_the_request_shape() -> None:
    tools = classify_body(
        user("what's the weather", tools=[{"type": "function", "function": {"name": "w"}}])
    )
    assert tools.needs.tools and not tools.needs.vision
    image = classify_body(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    ],
                }
            ]
        }
    )
    assert image.needs.vision
    schema = classify_body(
        user("give me data", response_format={"type": "json_schema", "json_schema": {"schema": {}}})
    )
    assert schema.needs.json_schema and schema.category == "data_formatting"


def test_deterministic_and_free_of_prompt_text() -> None:
    prompt = user("Explain quantum-canary-4411 entanglement to a child")
    first, second = classify_body(prompt), classify_body(prompt)
    assert first == second
    assert "canary" not in str(first.explain())
