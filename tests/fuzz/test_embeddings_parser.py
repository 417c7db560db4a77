"""Property test on the embeddings surface's decoder: any JSON value either decodes into a
canonical request OpenAI would take (1 to 2048 inputs, none empty) or is refused with a 400
`validation_error` — never another exception, which would be a 500 — and no message repeats
the input (see `test_parsers` for MARK)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from routeplex_gateway.api.embeddings import CODEC
from routeplex_gateway.errors import ErrorCode, GatewayError
from tests.fuzz.test_parsers import FAST, assert_quiet, json_values, strings

token_ids = st.integers(min_value=-5, max_value=2**40)
inputs = (
    strings
    | st.lists(strings, max_size=4)
    | st.lists(token_ids, max_size=4)
    | st.lists(st.lists(token_ids, max_size=3), max_size=3)
    | json_values
)
embedding_bodies = st.fixed_dictionaries(
    {"model": strings | json_values, "input": inputs},
    optional={
        "encoding_format": st.sampled_from(["float", "base64"]) | strings | json_values,
        "dimensions": st.integers(min_value=-2, max_value=5000) | json_values,
        "user": strings | json_values,
    },
)


@FAST
@given(embedding_bodies | json_values)
def test_embeddings_body_decodes_or_refuses_cleanly(body: Any) -> None:
    try:
        decoded = CODEC.decode(body, Headers())
    except GatewayError as error:
        assert error.code is ErrorCode.VALIDATION_ERROR and error.status == 400
        assert_quiet(error)
    else:
        request = decoded.embedding
        assert 1 <= len(request.inputs) <= 2048
        assert all(len(i) > 0 for i in request.inputs)
        assert request.encoding_format in ("float", "base64")
        assert request.dimensions is None or request.dimensions >= 1
