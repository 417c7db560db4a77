"""The turns of an Anthropic Messages request: `messages` (user and assistant turns, and
system turns after the first), and the top-level `system` prompt; their blocks are in
`anthropic_blocks`.

Two rules depend on a turn's place, and are checked on the whole list: a `system` turn may
come only after the first (the opening instructions are top-level `system`), and only a final
assistant turn (a prefill) may be empty. A refusal names the first fault in the turns' order,
a turn's place before what it holds, as a reader of the turns in order would find it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError

from ...errors import ErrorCode
from .anthropic_blocks import AssistantBlock, TextBlocks, UserBlock
from .fields import BY_KIND, Shape, Takes


def _content(block: Any, empty: bool = False) -> Any:
    """A turn's content; described as not empty unless it may be (checked by `_in_place`)."""
    least = {} if empty else {"minLength": 1}
    return Annotated[
        Annotated[str, Tag("string"), WithJsonSchema({"type": "string", **least})]
        | Annotated[list[block], Tag("array"), Field(min_length=0 if empty else 1)],  # type: ignore[valid-type]
        BY_KIND,
        Takes("a string or an array of content blocks", empty=ErrorCode.VALIDATION_ERROR),
    ]


_ROLE = Takes(
    "one of user, assistant (or system after the first message; the opening instructions go "
    "in top-level 'system')"
)


class UserTurn(Shape):
    role: Literal["user"]
    content: _content(UserBlock)  # type: ignore[valid-type]


class AssistantTurn(Shape):
    """Claude's turn; the last one may be empty or partial (a prefill Claude continues)."""

    role: Literal["assistant"]
    content: _content(AssistantBlock, empty=True)  # type: ignore[valid-type]


class SystemTurn(Shape):
    """Instructions from this point of the conversation on; not the first turn."""

    role: Annotated[Literal["system"], _ROLE]
    content: Annotated[
        Annotated[str, Tag("string")] | Annotated[TextBlocks, Tag("array")],
        BY_KIND,
        Takes("a non-empty string or array of text blocks"),
    ]


class OtherTurn(Shape):
    """A turn of no role Anthropic takes: refused at its `role`."""

    role: Annotated[Literal["user", "assistant", "system"], _ROLE]


def _role(turn: Any) -> str | None:
    if not isinstance(turn, dict):
        return None
    role = turn.get("role")
    return role if role in ("user", "assistant", "system") else "other"


Turn = Annotated[
    Annotated[UserTurn, Tag("user")]
    | Annotated[AssistantTurn, Tag("assistant")]
    | Annotated[SystemTurn, Tag("system")]
    # Not described: a turn of no role is only ever refused.
    | SkipJsonSchema[Annotated[OtherTurn, Tag("other")]],
    Discriminator(_role),
    Takes("an object with 'role' and 'content'"),
]


def _in_place(turns: Any, validate: ValidatorFunctionWrapHandler) -> Any:
    """The two rules of a turn's place (see the module's docstring), as faults of the turn's
    own `role` or `content` — the location a refusal names. The first fault of the list is
    the one refused, a turn's place before what it holds, as the turns are read in order."""
    misplaced = _misplaced(turns) if isinstance(turns, list) else None
    try:
        checked = validate(turns)
    except ValidationError as error:
        first = min((e["loc"][0] for e in error.errors() if e["loc"]), default=None)
        if misplaced is None or not isinstance(first, int) or first < misplaced[0]:
            raise
        checked = None
    if misplaced is not None:
        index, tag, field, kind = misplaced
        # The input is the turn's role, never what the caller wrote (not that a refusal
        # would quote it).
        detail = InitErrorDetails(
            type=PydanticCustomError(kind, kind), loc=(index, tag, field), input=tag
        )
        raise ValidationError.from_exception_data("messages", [detail])
    return checked


def _misplaced(turns: list[Any]) -> tuple[int, str, str, str] | None:
    """The first turn out of place: its index, role, the field at fault and the fault."""
    last = len(turns) - 1
    for index, turn in enumerate(turns):
        role = turn.get("role") if isinstance(turn, dict) else None
        content = turn.get("content") if isinstance(turn, dict) else None
        empty = content in ("", [])
        if role == "system" and index == 0:
            return index, "system", "role", "literal_error"
        if role == "system" and empty:
            return index, "system", "content", "string_type"
        if role in ("user", "assistant") and empty and not (role == "assistant" and index == last):
            return index, role, "content", "too_short"
    return None


def _first_turn(schema: dict[str, Any]) -> None:
    """Describe the one place rule JSON Schema can say: the first turn is no system turn."""
    opening = {"properties": {"role": {"enum": ["user", "assistant"]}}}
    schema["prefixItems"] = [{"allOf": [schema["items"], opening]}]


Turns = Annotated[
    list[Turn],
    Field(min_length=1, json_schema_extra=_first_turn),
    WrapValidator(_in_place),
    Takes("an array of message objects", empty=ErrorCode.EMPTY_MESSAGES),
]
SystemPrompt = Annotated[
    Annotated[str, Tag("string")] | Annotated[TextBlocks, Tag("array")],
    BY_KIND,
    Takes("a string or an array of text blocks"),
]
