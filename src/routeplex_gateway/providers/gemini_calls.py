"""Gemini function calls ↔ OpenAI tool calls.

The Gemini API gives function calls no ids, while OpenAI clients need one to answer each call.
So the gateway makes them: `call_` + 24 hex digits derived from the response id and the call's
position, the same on every replay of the same response. Gemini 3 also attaches an opaque
`thoughtSignature` to a call that must come back with it on the next request; the gateway
keeps no state between requests, so the signature travels inside the call id
(`call_<hex>_ts_<signature as URL-safe base64>`) and is restored from it on the way in.
Ids stay within `[A-Za-z0-9_-]`, which every provider accepts — but a call carrying a
signature is long (about 1–2 KB), longer than OpenAI's own 40-character limit for ids, so a
Gemini 3 conversation cannot be continued verbatim on an OpenAI model.

Vertex AI can stream a call's arguments as `partialArgs` (JSON paths with values, strings in
pieces); `PartialCall` assembles them into the whole arguments object.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

CALL_PREFIX = "call_"
_HASH_CHARS = 24
_SIGNATURE_MARK = "_ts_"
_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")


def call_id(basis: str, ordinal: int, signature: str | None = None) -> str:
    """The deterministic OpenAI id of a Gemini call; `basis` identifies the response."""
    digest = hashlib.sha256(f"{basis}\x00{ordinal}".encode()).hexdigest()[:_HASH_CHARS]
    identifier = CALL_PREFIX + digest
    carried = _to_id_safe(signature) if signature else None
    return identifier + _SIGNATURE_MARK + carried if carried else identifier


def signature_of(identifier: str) -> str | None:
    """The thought signature carried by a call id made by `call_id`, if any."""
    head = len(CALL_PREFIX) + _HASH_CHARS
    if not identifier.startswith(CALL_PREFIX) or identifier[head:].find(_SIGNATURE_MARK) != 0:
        return None
    carried = identifier[head + len(_SIGNATURE_MARK) :]
    try:
        raw = base64.urlsafe_b64decode(carried + "=" * (-len(carried) % 4))
    except (binascii.Error, ValueError):
        return None
    return base64.b64encode(raw).decode() if raw else None


def _to_id_safe(signature: str) -> str | None:
    # Gemini sends standard base64; URL-safe base64 without padding fits any id charset.
    normalised = signature.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(normalised + "=" * (-len(normalised) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None  # not base64: nothing that could be sent back faithfully
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") or None


@dataclass
class PartialCall:
    """A Vertex function call whose arguments arrive as `partialArgs` across chunks."""

    name: str
    signature: str | None = None
    args: dict[str, Any] = field(default_factory=dict)

    def add(self, partial_args: list[Any]) -> None:
        for item in partial_args:
            if not isinstance(item, dict) or not isinstance(item.get("jsonPath"), str):
                continue
            steps = _steps(item["jsonPath"])
            if not steps:
                continue
            if "stringValue" in item:
                previous = _get(self.args, steps)
                piece = str(item["stringValue"])
                _set(self.args, steps, (previous if isinstance(previous, str) else "") + piece)
            for key in ("numberValue", "boolValue"):
                if key in item:
                    _set(self.args, steps, item[key])
            if "nullValue" in item:
                _set(self.args, steps, None)


def _steps(path: str) -> list[str | int]:
    if not path.startswith("$"):
        return []
    steps: list[str | int] = []
    for match in _PATH_STEP.finditer(path, 1):
        key, index, quoted = match.groups()
        steps.append(int(index) if index is not None else (key if key is not None else quoted))
    return steps


def _get(root: Any, steps: list[str | int]) -> Any:
    node = root
    for step in steps:
        if isinstance(step, int):
            node = node[step] if isinstance(node, list) and step < len(node) else None
        else:
            node = node.get(step) if isinstance(node, dict) else None
    return node


def _set(root: dict[str, Any], steps: list[str | int], value: Any) -> None:
    node: Any = root
    for step, following in zip(steps, [*steps[1:], None], strict=True):
        child: Any = value if following is None else ([] if isinstance(following, int) else {})
        if isinstance(step, int):
            if not isinstance(node, list):
                return
            while len(node) <= step:
                node.append(None)
            if following is None or not isinstance(node[step], list | dict):
                node[step] = child
        else:
            if not isinstance(node, dict):
                return
            if following is None or not isinstance(node.get(step), list | dict):
                node[step] = child
        node = node[step]
