"""Token estimates for budget reservations and `/api/v1/chat/estimate`.

Billing never uses these: it uses the provider's own count. Admission does, so an estimate
must bound from above what the provider will bill for a request's input — every input it
bills: messages (text, tool calls, tool results, names), tool definitions and their schemas,
`response_format` schemas, images and documents.

Text is counted exactly with tiktoken's o200k encoding when the request can only reach OpenAI
models and that encoding is already on disk (it is never downloaded: that would be a network
call on the request path). Otherwise — other providers' tokenizers are not available offline —
by its UTF-8 length: every byte-level BPE token (OpenAI, Anthropic) and every SentencePiece
token with byte fallback (Gemini) covers at least one byte, so no tokenizer can make more
tokens of a text than it has bytes. That reserves about four times an English prompt's count,
released when the provider's own count settles the request; no cheaper rule is a bound (random
letters reach 0.7 tokens a byte in o200k and cl100k), and an undercount is spend beyond a cap.

A Predicted Output (`prediction`) is bounded apart, by `estimate_prediction_tokens`: OpenAI
bills the prediction's rejected tokens as output, on top of the answer, so it is output-side
worst case rather than input.

`approximate_tokens` is the calibrated four-characters-a-token size used where a typical
count, not a bound, is wanted (routing's complexity, the output of a stream cut short).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Sequence
from functools import cache
from typing import Any

from ..canonical import (
    Audio,
    ChatRequest,
    Document,
    Image,
    Media,
    Message,
    Part,
    Refusal,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolResult,
)
from ..providers.descriptor import by_family

_ENCODING_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
_PER_MESSAGE = 4  # role and framing tokens, as in OpenAI's own counting guide
_REPLY_PRIMING = 3
_PER_TEXT = 1  # SentencePiece's leading word marker may take a token of its own
_PER_TOOL = 16  # the framing a provider writes around each tool definition
# Anthropic adds its own tool-use system prompt (346 tokens at most, per its pricing docs).
_TOOLS_PREAMBLE = 400
# The largest per-image rule among the providers served: Anthropic bills about 1,600 for an
# image at its size limit; OpenAI's high detail bills 85 + 170 per 512-px tile, at most 1,445
# (eight tiles, gpt-4o's 768×2048 scale); Gemini bills 258 per image (or 768-px tile).
_IMAGE_TOKENS = 1_600
# Extended thinking adds a system preamble of its own at Anthropic (recorded: 9 tokens).
_THINKING_PREAMBLE = 64
_CHARS_PER_TOKEN = 4


@cache
def _encoding() -> Any:
    cache_dir = (
        os.environ.get("TIKTOKEN_CACHE_DIR")
        or os.environ.get("DATA_GYM_CACHE_DIR")
        or (os.path.join(tempfile.gettempdir(), "data-gym-cache"))
    )
    cached = os.path.join(cache_dir, hashlib.sha1(_ENCODING_URL.encode()).hexdigest())
    if not os.path.exists(cached):
        return None
    import tiktoken  # only now: the encoding is local, so this cannot reach the network

    return tiktoken.get_encoding("o200k_base")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class _Counter:
    """Bounds the tokens of the text handed to it, by o200k when exact, else by bytes — or,
    when `typical`, sizes them at four characters a token (where o200k is not exact)."""

    def __init__(self, exact: bool, *, typical: bool = False) -> None:
        self.encoding = _encoding() if exact else None
        self.typical = typical

    def text(self, text: str) -> int:
        if self.encoding is not None:
            return len(self.encoding.encode(text, disallowed_special=()))
        if self.typical:
            return approximate_text_tokens(text)
        return len(text.encode("utf-8", "surrogatepass")) + _PER_TEXT

    def value(self, value: Any) -> int:
        """Anything a provider renders from JSON: its compact serialization, whose bytes hold
        every name, description and string of it (escapes only add bytes)."""
        return self.text(value if isinstance(value, str) else _compact(value))

    def media(self, media: Media) -> int:
        """Inline bytes or a URL: every byte of it (a bound for audio and documents)."""
        return self.text(media.data if media.data is not None else media.url or "")

    def part(self, part: Part) -> int:
        if isinstance(part, Text | Refusal):
            return self.text(part.text)
        if isinstance(part, Image):
            return _IMAGE_TOKENS
        if isinstance(part, Audio):
            return self.media(part.media)
        if isinstance(part, Document):
            return self.media(part.media) + self.text(part.filename or "")
        if isinstance(part, ToolCall):
            return self.text(part.id) + self.text(part.name) + self.text(part.arguments)
        if isinstance(part, ToolResult):
            return self.text(part.call_id) + sum(self.part(p) for p in part.parts)
        if isinstance(part, Thinking):
            return self.text(part.text) + self.text(part.signature or "")
        return self.value(part.value)  # Opaque: every byte of it as the caller sent it


def estimate_input_tokens(
    request: ChatRequest, *, openai_only: bool = False, typical: bool = False
) -> int:
    """An upper bound on the input tokens a provider bills for a chat `request`.

    `openai_only`: every model the request may reach counts with o200k, so text is counted
    exactly when that encoding is on disk. `typical`: a size rather than a bound where the
    count is not exact (four characters a token) — what a client asking how large its prompt
    is wants (Anthropic's count_tokens: an agent compacts its context by it), never what
    admission reserves.
    """
    counter = _Counter(exact=openai_only, typical=typical)
    total = _REPLY_PRIMING
    for message in request.messages:
        total += _PER_MESSAGE + sum(counter.part(part) for part in message.parts)
        if message.name:
            total += counter.text(message.name)
    for tool in request.tools:
        if isinstance(tool, Tool):
            described = {"name": tool.name, "description": tool.description,
                         "parameters": tool.parameters}  # fmt: skip
            total += _PER_TOOL + counter.value(described)
        else:
            total += _PER_TOOL + counter.value(tool.value)
    if request.tools:
        total += _TOOLS_PREAMBLE
    choice = request.tool_choice
    if choice is not None and (choice.mode == "required" or choice.names):
        total += _PER_TOOL + sum(counter.text(name) for name in choice.names)
    if request.reasoning is not None:
        total += _THINKING_PREAMBLE
    response_format = request.response_format
    if response_format is not None:
        total += _PER_TOOL + counter.value(response_format.schema or {})
        total += counter.text(response_format.name or "")
    return total


def estimate_prediction_tokens(request: ChatRequest, *, openai_only: bool = False) -> int:
    """An upper bound on the output tokens a Predicted Output may add to a request's bill.

    OpenAI bills every rejected prediction token at the output rate, beyond `max_tokens`; at
    worst the whole prediction is rejected. (Other providers ignore the field: the bound only
    makes their reservation larger than their bill, never smaller.)
    """
    if request.prediction is None:
        return 0
    return _Counter(exact=openai_only).text(request.prediction)


def approximate_tokens(messages: list[Message]) -> int:
    """A typical count of the messages' text (four characters a token): a size, not a bound."""
    total = _REPLY_PRIMING
    for message in messages:
        total += _PER_MESSAGE
        for part in message.parts:
            if isinstance(part, Text):
                total += approximate_text_tokens(part.text)
            elif isinstance(part, Image):
                total += _IMAGE_TOKENS
    return total


def approximate_text_tokens(text: str) -> int:
    return math.ceil(len(text) / _CHARS_PER_TOKEN)


def counted_exactly(family: str) -> bool:
    """Whether o200k counts a provider family's tokens (by public name or kind): only then
    can `openai_only` make an estimate exact."""
    descriptor = by_family(family)
    return descriptor is not None and descriptor.exact_tokenizer


def confidence(family: str) -> str:
    """How far to trust an estimate: the exact tokenizer only knows some providers' models."""
    if _encoding() is None:
        return "low"
    return "high" if counted_exactly(family) else "medium"


def estimate_embedding_tokens(inputs: Sequence[str | Sequence[int]]) -> int:
    """An upper bound on the input tokens of an embedding request: token ids count as
    themselves, a text as its UTF-8 bytes (no tokenizer makes more tokens of a text than it
    has bytes; OpenAI's embedding models count with cl100k, not the o200k on disk)."""
    counter = _Counter(exact=False)
    return sum(counter.text(i) if isinstance(i, str) else len(i) for i in inputs)


def typical_embedding_tokens(inputs: Sequence[str | Sequence[int]]) -> int:
    """A typical count of an embedding request's input tokens (four characters a token, at
    least one an input): what a request whose provider reports no usage (Gemini's
    embeddings) is charged, marked as an estimate."""
    return sum(max(1, approximate_text_tokens(i)) if isinstance(i, str) else len(i) for i in inputs)
