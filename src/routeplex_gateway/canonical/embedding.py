"""An embedding request and its answer in the gateway's own terms.

Every embeddings surface decodes into `EmbeddingRequest`; every provider that embeds answers
an `EmbeddingResponse`. A vector stays in the form the provider sent it — JSON floats, or
OpenAI's base64 of little-endian float32 — and is converted only when the caller asked for the
other form, so the common case (the caller's format is the provider's) costs no conversion.
"""

from __future__ import annotations

import base64
import sys
from array import array
from dataclasses import dataclass, field
from typing import Literal

from .response import Usage

EncodingFormat = Literal["float", "base64"]
# One input: a text, or the ids of its tokens (OpenAI's tokenizer's; only OpenAI-format
# models take them).
EmbeddingInput = str | tuple[int, ...]


@dataclass(slots=True, kw_only=True)
class EmbeddingRequest:
    inputs: tuple[EmbeddingInput, ...]
    dimensions: int | None = None  # a shortened vector, for the models that can give one
    encoding_format: EncodingFormat = "float"
    user: str | None = None  # the caller's end-user id, forwarded where the provider takes it

    @property
    def texts(self) -> tuple[str, ...]:
        """The inputs that are texts (the others are token ids)."""
        return tuple(i for i in self.inputs if isinstance(i, str))

    @property
    def has_tokens(self) -> bool:
        return any(not isinstance(i, str) for i in self.inputs)


@dataclass(frozen=True, slots=True)
class Vector:
    """One embedding: `floats` as JSON gave them, or `packed` — base64 of little-endian
    float32, as OpenAI sends `encoding_format: base64`."""

    floats: list[float] | None = None
    packed: str | None = None

    def as_floats(self) -> list[float]:
        if self.floats is not None:
            return self.floats
        values = array("f", base64.b64decode(self.packed or ""))
        if sys.byteorder == "big":
            values.byteswap()
        return values.tolist()

    def as_base64(self) -> str:
        if self.packed is not None:
            return self.packed
        values = array("f", self.floats or ())
        if sys.byteorder == "big":
            values.byteswap()
        return base64.b64encode(values.tobytes()).decode("ascii")

    def __len__(self) -> int:
        if self.floats is not None:
            return len(self.floats)
        return len(self.packed or "") * 3 // 4 // 4  # float32s in the decoded bytes


@dataclass(slots=True, kw_only=True)
class EmbeddingResponse:
    """The vectors, in the order of the request's inputs; `usage` as the provider reported it
    (`input_tokens` None when it reported none), `model` the provider's name for the model."""

    vectors: list[Vector]
    usage: Usage = field(default_factory=Usage)
    model: str = ""
