"""Deterministic embedding vectors, independent of any provider's wire format.

A vector is drawn from a hash of the model and the input (SHAKE-256, four bytes a
component), centred, scaled to unit length and rounded to float32 — what real embedding
models answer — so the same input always gets the same vector, different inputs different
ones, and a float vector and its base64 form are exactly the same numbers.

Each simulated model has its real vectors' length (`DIMENSIONS`); a model the simulator does
not know (an OpenAI-compatible server's) answers `DEFAULT_DIMENSIONS`.
"""

from __future__ import annotations

import base64
import hashlib
import math
import sys
from array import array

DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "gemini-embedding-001": 3072,
    "text-embedding-004": 768,
}
DEFAULT_DIMENSIONS = 768
# The models that answer shorter vectors on request (OpenAI's `dimensions`, Gemini's
# `outputDimensionality`); others refuse it, as their providers do.
SHORTENING = frozenset({"text-embedding-3-small", "text-embedding-3-large", "gemini-embedding-001"})


def dimensions_of(model: str) -> int:
    return DIMENSIONS.get(model, DEFAULT_DIMENSIONS)


def vector(model: str, item: str | list[int], size: int | None = None) -> array[float]:
    """The vector of one input, `size` components long (the model's length when None):
    the first components of the full vector, scaled to unit length again (as OpenAI's
    `dimensions` does)."""
    full = dimensions_of(model)
    size = full if size is None else min(size, full)
    key = item.encode() if isinstance(item, str) else b",".join(str(t).encode() for t in item)
    raw = hashlib.shake_256(model.encode() + b"\x00" + key).digest(4 * size)
    values = array("I", raw)
    centred = [v / 2147483648.0 - 1.0 for v in values]
    norm = math.sqrt(sum(c * c for c in centred)) or 1.0
    return array("f", [c / norm for c in centred])


def packed(values: array[float]) -> str:
    """`values` as OpenAI's base64 encoding: little-endian float32."""
    if sys.byteorder == "big":
        values = array("f", values)
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")
