"""A corpus of Anthropic Messages request bodies, valid and not: every body the Anthropic tests
gave `anthropic_decode.decode` (`anthropic_bodies.jsonl`, one per structure: bodies differing
only in their strings' and numbers' values are kept once), and the requests recorded from
Anthropic's own API (tests/fixtures/providers/anthropic).

To record the corpus again, run the Anthropic tests with this module as a plugin — it wraps
`decode` and writes the bodies it was given when the run ends:

    .venv/bin/pytest -p tests.support.anthropic_bodies tests/api/test_anthropic_*.py \\
        tests/simulator/test_anthropic_*.py tests/faults/test_messages_hostile_input.py
"""

from __future__ import annotations

import atexit
import copy
from pathlib import Path
from typing import Any

import orjson

from tests.support.cassettes import PROVIDERS, load

CORPUS = Path(__file__).with_name("anthropic_bodies.jsonl")


def bodies() -> list[Any]:
    """The recorded bodies, then the requests sent to Anthropic's API in the recordings."""
    found = [orjson.loads(line) for line in CORPUS.read_bytes().splitlines() if line.strip()]
    for cassette in sorted((PROVIDERS / "anthropic").glob("*.yaml")):
        for exchange in load(str(cassette.relative_to(PROVIDERS))):
            if "messages" in exchange.request:
                found.append(exchange.request)
    return found


def _structure(value: Any) -> Any:
    """`value` with its strings (but for their being empty) and numbers' values left out."""
    if isinstance(value, dict):
        return {key: _structure(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_structure(item) for item in value]
    if isinstance(value, str):
        return bool(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0
    return value


def _record() -> None:
    """Wrap the decode (as the tests and the app import it) to keep each body it is given."""
    from routeplex_gateway.api import anthropic, anthropic_decode

    seen: dict[bytes, Any] = {}
    decode = anthropic_decode.decode

    def recording(body: Any, *schema: Any) -> Any:
        try:
            key = orjson.dumps(_structure(body), option=orjson.OPT_SORT_KEYS)
        except TypeError:
            key = None
        if key is not None and key not in seen:
            seen[key] = copy.deepcopy(body)
        return decode(body, *schema)

    def write() -> None:
        CORPUS.write_bytes(b"".join(orjson.dumps(body) + b"\n" for body in seen.values()))

    anthropic_decode.decode = recording  # type: ignore[assignment]
    anthropic.decode = recording  # type: ignore[assignment]
    atexit.register(write)


def pytest_configure(config: Any) -> None:
    """Record only when loaded as a plugin (`-p tests.support.anthropic_bodies`)."""
    _record()
