"""A stream of named SSE events (`event: <type>` then `data: <json>`, as OpenAI's Responses
API frames them) read back into its payloads, each checked to name its own type."""

from __future__ import annotations

import json
from typing import Any


def named_events(raw: str | bytes) -> list[dict[str, Any]]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    found = []
    for block in text.split("\n\n"):
        if block.strip():
            name, data = block.split("\n", 1)
            payload = json.loads(data.removeprefix("data: "))
            assert payload["type"] == name.removeprefix("event: ")
            found.append(payload)
    return found
