"""Token estimates for budget reservations and `/api/v1/chat/estimate`.

Billing never uses these: it uses the provider's own count. tiktoken is used only when its
encoding is already on disk (it would otherwise download it, which must never happen on the
request path); without it, a calibrated estimate of about four characters per token.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from functools import cache
from typing import Any

_ENCODING_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
_PER_MESSAGE = 4  # role and framing tokens, as in OpenAI's own counting guide
_REPLY_PRIMING = 3
_IMAGE_TOKENS = 765  # a high-detail 1024×1024 image on OpenAI models
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


def _text_tokens(text: str) -> int:
    encoding = _encoding()
    if encoding is not None:
        return len(encoding.encode(text, disallowed_special=()))
    return math.ceil(len(text) / _CHARS_PER_TOKEN)


def estimate_input_tokens(messages: list[dict[str, Any]]) -> int:
    total = _REPLY_PRIMING
    for message in messages:
        total += _PER_MESSAGE
        content = message.get("content")
        if isinstance(content, str):
            total += _text_tokens(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text" and isinstance(part.get("text"), str):
                    total += _text_tokens(part["text"])
                elif part.get("type") in ("image_url", "input_image", "image"):
                    total += _IMAGE_TOKENS
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                total += _text_tokens(str(function.get("arguments", "")))
    return total


def confidence(provider_kind: str) -> str:
    """How far to trust an estimate: the exact tokenizer only knows OpenAI's models."""
    if _encoding() is None:
        return "low"
    return "high" if provider_kind == "openai" else "medium"
