"""Benchmark of the routeplex-ai classifier: latency percentiles for prompts of 100 to 8,000
tokens. Run: `.venv/bin/python bench/classifier.py` (the figures are quoted in RESULTS.md).
"""

from __future__ import annotations

import random
import statistics
import time

from routeplex_gateway.api import openai_decode
from routeplex_gateway.routing.classifier import classify

_TEXT = (
    "the function returns a list of values when the input is valid and raises an "
    "error otherwise please explain why this happens and how to fix the bug in my "
    "python code step by step"
)
WORDS = _TEXT.split()


def prompt(tokens: int, rng: random.Random) -> dict[str, object]:
    # About 0.75 words per token for English prose.
    text = " ".join(rng.choice(WORDS) for _ in range(int(tokens * 0.75)))
    return {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": text},
        ]
    }


def main() -> None:
    rng = random.Random(7)
    print("| prompt tokens | p50 µs | p99 µs | max µs |")
    print("|---|---|---|---|")
    for tokens in (100, 1000, 4000, 8000):
        body = openai_decode.decode(prompt(tokens, rng), stream=False, max_output_tokens=None)
        for _ in range(200):
            classify(body)  # warm-up
        samples = []
        for _ in range(5000):
            started = time.perf_counter()
            classify(body)
            samples.append((time.perf_counter() - started) * 1e6)
        samples.sort()
        print(
            f"| {tokens} | {statistics.median(samples):.0f} | "
            f"{samples[int(len(samples) * 0.99)]:.0f} | {samples[-1]:.0f} |"
        )


if __name__ == "__main__":
    main()
