"""The harness's OpenAI Responses and embeddings scenarios: the mock's `/v1/responses` (plain
and its event stream) and `/v1/embeddings` read by the official `openai` SDK over a real
socket and validated against OpenAI's own schemas, the load generator's judges of both, the
scenarios in `--scenarios all` and the comparison, and RoutePlex measured on a surface only
when the build serves it. A few seconds.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from pathlib import Path

import httpx
import openai
import orjson
import pytest
from bench.embeddings_wire import DIMENSIONS, INPUTS, embeddings_body, judge_embeddings, vector
from bench.loadgen import run_load
from bench.messages_wire import sse_fields
from bench.mock_upstream import bound_port, start_mock
from bench.mock_wire import ANSWER, COMPLETION_TOKENS, PROMPT_TOKENS, MockConfig
from bench.responses_wire import judge_response, judge_response_events, responses_body
from bench.run import parse_args, same_shape
from bench.scenarios import SCENARIOS, specs
from bench.targets import Direct, Endpoint, RoutePlex, serves

from tests.support.openai_schema import assert_event_valid, assert_responses_valid

OPENING = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
]
ENDING = [
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def _client(port: int) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-bench", max_retries=0
    )


@pytest.mark.parametrize("chunks", [1, 2, 20])
async def test_the_mock_streams_responses_the_sdk_reads(chunks: int) -> None:
    server, mock = await start_mock(config=MockConfig(chunks=chunks))
    client = _client(bound_port(server))
    try:
        events = []
        async with client.responses.stream(model="gpt-4o-mini", input="hello") as stream:
            async for event in stream:
                events.append(event)
            final = await stream.get_final_response()
    finally:
        await client.close()
        server.close()
    kinds = [e.type for e in events]
    deltas = [k for k in kinds if k == "response.output_text.delta"]
    assert kinds == OPENING + deltas + ENDING
    assert len(deltas) == max(1, chunks - 1)  # the last write is the finish, as for chat
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert final.id.startswith("resp_") and len(final.id) == 55
    assert final.output_text == ANSWER and final.status == "completed"
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
    )
    assert mock.streams == mock.requests == 1


async def test_the_mock_streams_what_openais_schema_allows() -> None:
    server, _ = await start_mock(config=MockConfig(chunks=4))
    url = f"http://127.0.0.1:{bound_port(server)}/v1/responses"
    try:
        async with httpx.AsyncClient() as client:
            answer = await client.post(url, content=responses_body(stream=True))
    finally:
        server.close()
    blocks = answer.content.strip().split(b"\n\n")
    for block in blocks:
        name, data = sse_fields(block)
        assert data is not None
        event = orjson.loads(data)
        assert event["type"] == name
        assert_event_valid(event)
    assert len(blocks) == len(OPENING) + 3 + len(ENDING)


async def test_the_mock_answers_responses_the_sdk_reads() -> None:
    server, _ = await start_mock()
    client = _client(bound_port(server))
    try:
        raw = await client.responses.with_raw_response.create(model="gpt-4o-mini", input="hi")
        again = await client.responses.create(model="gpt-4o-mini", input="hi")
        with pytest.raises(openai.BadRequestError):  # input is required
            await client.post("/responses", body={"model": "gpt-4o-mini"}, cast_to=object)
    finally:
        await client.close()
        server.close()
    body = orjson.loads(raw.http_response.content)
    assert_responses_valid(body, "Response")
    answer = raw.parse()
    assert answer.output_text == ANSWER and answer.usage is not None
    assert answer.usage.output_tokens == COMPLETION_TOKENS
    assert answer.id != again.id  # an id per request


@pytest.mark.parametrize("encoding", ["base64", "float"])
async def test_the_mock_answers_embeddings_the_sdk_reads(encoding: str) -> None:
    server, mock = await start_mock()
    client = _client(bound_port(server))
    try:
        # The SDK asks for base64 unless told otherwise, and decodes it.
        given = {} if encoding == "base64" else {"encoding_format": "float"}
        answer = await client.embeddings.create(
            model="text-embedding-3-small",
            input=list(INPUTS),
            **given,  # type: ignore[arg-type]
        )
        short = await client.embeddings.with_raw_response.create(
            model="text-embedding-3-small", input="one", dimensions=256, encoding_format=encoding
        )
        with pytest.raises(openai.BadRequestError):
            await client.embeddings.create(model="text-embedding-3-small", input=[])
    finally:
        await client.close()
        server.close()
    assert [e.index for e in answer.data] == [0, 1, 2, 3]
    assert all(len(e.embedding) == DIMENSIONS for e in answer.data)
    assert tuple(answer.data[0].embedding) == vector(DIMENSIONS)  # float32 exactly
    assert answer.usage.prompt_tokens > 0
    body = orjson.loads(short.http_response.content)
    if encoding == "base64":  # the schema describes the numbers the SDK decodes
        packed = base64.b64decode(body["data"][0]["embedding"])
        body["data"][0]["embedding"] = list(struct.unpack(f"<{len(packed) // 4}f", packed))
    assert_responses_valid(body, "CreateEmbeddingResponse")
    assert len(body["data"][0]["embedding"]) == 256
    assert mock.requests == 2


@pytest.mark.parametrize(
    ("scenario", "path"),
    [
        ("responses-16", "responses"),
        ("responses-stream-16", "responses"),
        ("embeddings-16", "embeddings"),
    ],
)
async def test_the_load_generator_judges_the_mock_in_full(scenario: str, path: str) -> None:
    server, mock = await start_mock(config=MockConfig(chunks=5))
    url = f"http://127.0.0.1:{bound_port(server)}/v1/{path}"
    surface = SCENARIOS[scenario].surface
    stream = SCENARIOS[scenario].stream
    try:
        result = await run_load(
            url,
            specs(Endpoint(url), stream, check="full", surface=surface),
            concurrency=4,
            duration_s=0.5,
            warmup_s=0.1,
            timeout_s=5,
        )
    finally:
        server.close()
    assert result.errors == 0, result.summary()
    assert result.requests > 20
    assert mock.streams == (mock.requests if stream else 0)


def _events(*payloads: dict[str, object]) -> bytes:
    return b"".join(
        b"event: %s\ndata: %s\n\n"
        % (str(p["type"]).encode(), orjson.dumps({**p, "sequence_number": n}))
        for n, p in enumerate(payloads)
    )


def _response(text: str, usage: object) -> dict[str, object]:
    part = {"type": "output_text", "text": text, "annotations": []}
    return {
        "object": "response",
        "status": "completed",
        "output": [{"type": "message", "content": [part]}],
        "usage": usage,
    }


USAGE = {"input_tokens": 3, "output_tokens": 1}
GOOD = [
    {"type": "response.created", "response": {}},
    {"type": "response.output_text.delta", "delta": "h"},
    {"type": "response.output_text.delta", "delta": "i"},
    {"type": "response.output_item.done", "item": {}},
    {"type": "response.completed", "response": _response("hi", USAGE)},
]


def test_the_responses_judges_refuse_what_is_not_a_responses_answer() -> None:
    good = _events(*GOOD)
    assert judge_response_events(good, "full", "hi") is None
    assert judge_response_events(good, "full", "other") == "wrong_content"
    cut = good.rsplit(b"event: response.completed", 1)[0]
    assert judge_response_events(cut, "light", None) == "no_completed"
    assert (
        judge_response_events(
            good.replace(b'"sequence_number":2', b'"sequence_number":7'), "full", None
        )
        == "bad_sequence"
    )
    renamed = good.replace(b"event: response.output_item.done", b"event: response.done")
    assert judge_response_events(renamed, "full", "hi") == "malformed"
    other_text = _events(*GOOD[:-1], {**GOOD[-1], "response": _response("ho", USAGE)})
    assert judge_response_events(other_text, "full", None) == "malformed"
    no_usage = _events(*GOOD[:-1], {**GOOD[-1], "response": _response("hi", None)})
    assert judge_response_events(no_usage, "full", "hi") == "no_usage"
    assert judge_response_events(no_usage, "light", None) is None  # light: the end only

    assert judge_response(orjson.dumps(_response("hi", USAGE)), "hi") is None
    assert judge_response(orjson.dumps(_response("hi", USAGE)), "ho") == "wrong_content"
    assert judge_response(orjson.dumps(_response("hi", None)), "hi") == "no_usage"
    failed = {**_response("hi", USAGE), "status": "failed"}
    assert judge_response(orjson.dumps(failed), None) == "malformed"
    assert judge_response(b'{"choices":[]}', None) == "malformed"
    assert judge_response(b"not json", None) == "malformed"


def _embeddings(count: int, embedding: object, usage: object = None) -> bytes:
    data = [{"object": "embedding", "index": i, "embedding": embedding} for i in range(count)]
    return orjson.dumps({"object": "list", "data": data, "usage": usage or {"prompt_tokens": 8}})


def test_the_embeddings_judge_refuses_what_is_not_the_vectors_asked_for() -> None:
    exact = list(vector(DIMENSIONS))
    assert judge_embeddings(_embeddings(len(INPUTS), exact), "full") is None
    assert judge_embeddings(_embeddings(len(INPUTS) - 1, exact), "light") == "wrong_count"
    assert judge_embeddings(_embeddings(len(INPUTS), exact[:256]), "full") == "wrong_content"
    assert judge_embeddings(_embeddings(len(INPUTS), exact[:256]), "light") is None
    assert judge_embeddings(_embeddings(len(INPUTS), []), "light") == "malformed"
    no_usage = _embeddings(len(INPUTS), exact, {"total_tokens": 8})
    assert judge_embeddings(no_usage, "full") == "no_usage"
    assert judge_embeddings(b'{"object":"response"}', "light") == "malformed"
    # The body the harness sends asks for every input of INPUTS, as base64.
    sent = orjson.loads(embeddings_body())
    assert sent["input"] == list(INPUTS) and sent["encoding_format"] == "base64"
    assert orjson.loads(responses_body(stream=True))["stream"] is True


def test_the_new_scenarios_run_with_all_and_in_the_comparison() -> None:
    new = ["responses-16", "responses-stream-16", "embeddings-16"]
    assert set(new) <= set(parse_args(["--scenarios", "all"]).scenarios)
    assert set(new) <= set(parse_args(["--compare-before", "abc1234"]).scenarios)
    assert not set(new) & set(parse_args([]).scenarios)  # the default matrix is chat's
    groups = {g[0].name: [s.name for s in g] for g in same_shape(list(SCENARIOS.values()))}
    assert {"responses-16", "embeddings-16"} <= set(groups["plain-16"])
    assert "responses-stream-16" in groups["stream-16"]
    assert {"responses", "embeddings"} <= Direct(0).surfaces <= RoutePlex.ALL_SURFACES | {"chat"}


async def test_a_surface_the_server_has_no_route_for_is_not_served() -> None:
    """How a build from before a surface is found out: its route answers 404."""
    server, _ = await start_mock()
    base = f"http://127.0.0.1:{bound_port(server)}/v1"
    try:
        found = await asyncio.to_thread(
            lambda: [serves(Endpoint(f"{base}/{p}")) for p in ("responses", "embeddings", "nope")]
        )
    finally:
        server.close()
    assert found == [True, True, False]


async def test_routeplex_is_measured_on_responses_and_embeddings_through_the_mock(
    tmp_path: Path,
) -> None:
    """RoutePlex forwards the Responses scenarios to the mock's `/v1/responses` and the
    embeddings one to its `/v1/embeddings`, and every answer passes the full judge."""
    server, mock = await start_mock(config=MockConfig(chunks=5))
    target = RoutePlex()
    results = {}
    try:
        await asyncio.to_thread(target.prepare, False)
        await asyncio.to_thread(
            target.launch, f"http://127.0.0.1:{bound_port(server)}/v1", tmp_path
        )
        assert {"responses", "embeddings"} <= target.surfaces
        for name in ("responses-16", "responses-stream-16", "embeddings-16"):
            scenario = SCENARIOS[name]
            endpoint = target.endpoints[scenario.surface.wire]
            results[name] = await run_load(
                endpoint.url,
                specs(endpoint, scenario.stream, check="full", surface=scenario.surface),
                concurrency=4,
                duration_s=0.4,
                warmup_s=0.1,
                timeout_s=10,
            )
    finally:
        await asyncio.to_thread(target.stop)
        server.close()
    for name, result in results.items():
        assert result.errors == 0 and result.requests > 4, (name, result.summary())
    assert mock.streams > 0
    rows = target.metadata_rows()
    assert rows.get("200", 0) >= sum(r.requests for r in results.values())
