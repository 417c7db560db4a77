"""The check of the fields an OpenAI chat request passes through without the gateway reading
them, for a surface that takes them beside its own (the estimate counts tools and schemas).
Their types are declared once, in `schemas/openai_chat.py` (`PassThrough`).
"""

from __future__ import annotations

from typing import Any

from .schemas.openai_chat import PassThrough
from .schemas.refusal import check


def check_request_fields(body: dict[str, Any]) -> None:
    """The pass-through top-level fields of an OpenAI chat request, by OpenAI's schema."""
    check(PassThrough, body)
