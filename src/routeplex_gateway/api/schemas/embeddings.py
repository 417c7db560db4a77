"""`POST /v1/embeddings`: OpenAI's embeddings request as the gateway checks it, and the answer.

`input` is one of OpenAI's four shapes — a string, an array of strings, an array of token ids,
or an array of such arrays — chosen by the JSON type of the value (and of its first item), so
a refusal names the shape the caller meant. Like OpenAI, an empty string is refused (it has no
embedding), and at most 2048 inputs go in one request.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import Discriminator, Field, Tag
from typing_extensions import TypedDict

from .fields import RequestSchema, String, Takes
from .openai_chat import RoutePlexInfo

MAX_INPUTS = 2048
# Token ids are non-negative; the largest vocabulary in use is far below 2**31.
_TOKEN_ID_CEILING = 2**31 - 1


def input_kind(value: Any) -> str | None:
    """Which of the four shapes `input` has (None: none of them, refused at `input`)."""
    if isinstance(value, str):
        return "string"
    if not isinstance(value, list):
        return None
    first = value[0] if value else None
    if isinstance(first, list):
        return "token_arrays"
    if isinstance(first, int) and not isinstance(first, bool):
        return "tokens"
    return "strings"


Text = Annotated[str, Field(min_length=1), Takes("a non-empty string")]
TokenId = Annotated[int, Field(ge=0, le=_TOKEN_ID_CEILING), Takes("a token id (an integer)")]
Tokens = Annotated[
    list[TokenId],
    Field(min_length=1, max_length=MAX_INPUTS),
    Takes(f"a non-empty array of at most {MAX_INPUTS} token ids"),
]
_INPUTS = f"1 to {MAX_INPUTS}"
Input = Annotated[
    Annotated[Text, Tag("string")]
    | Annotated[
        list[Text],
        Field(min_length=1, max_length=MAX_INPUTS),
        Takes(f"an array of {_INPUTS} non-empty strings"),
        Tag("strings"),
    ]
    | Annotated[Tokens, Tag("tokens")]
    | Annotated[
        list[Tokens],
        Field(min_length=1, max_length=MAX_INPUTS),
        Takes(f"an array of {_INPUTS} arrays of token ids"),
        Tag("token_arrays"),
    ],
    Discriminator(input_kind),
    Field(
        description="The text to embed: a string, an array of strings, an array of token ids "
        f"or an array of token-id arrays; {_INPUTS} inputs, none empty. Token ids are read "
        "by OpenAI-format models only."
    ),
    Takes(
        "a non-empty string, an array of non-empty strings, an array of token ids or an "
        "array of token-id arrays"
    ),
]


class CreateEmbeddingRequest(RequestSchema):
    """OpenAI's embeddings request."""

    model: Annotated[
        str,
        Field(min_length=1, description="An embedding model's catalog id or alias."),
        Takes("a non-empty string"),
    ]
    input: Input
    encoding_format: Annotated[Literal["float", "base64"], Takes("'float' or 'base64'")] | None = (
        None
    )
    dimensions: (
        Annotated[
            int,
            Field(
                ge=1,
                description="A shorter vector: text-embedding-3 models and gemini-embedding-001.",
            ),
            Takes("a positive integer", bounded=False),
        ]
        | None
    ) = None
    user: String | None = None


class Embedding(TypedDict):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str  # a string: base64 of little-endian float32


class EmbeddingUsage(TypedDict):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsRoutePlexInfo(RoutePlexInfo):
    # True when the provider reported no usage (Gemini) and the tokens are the gateway's
    # estimate.
    usage_estimated: bool


class EmbeddingList(TypedDict):
    """OpenAI's `list` of embeddings, plus `x_routeplex`."""

    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
    x_routeplex: NotRequired[EmbeddingsRoutePlexInfo]
