"""The Responses codec's encoders, unit by unit: canonical deltas of every kind as semantic
events (each valid by OpenAI's schema, numbered 0, 1, …), and OpenAI's own Responses answers
and events relayed as they came — `store` forced false, `x_routeplex` on the last event, the
upstream's sequence numbers kept and continued by a failure."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from routeplex_gateway.api.responses import ResponseEvents, Responses
from routeplex_gateway.api.responses_decode import WIRE, decode
from routeplex_gateway.api.responses_encode import answer
from routeplex_gateway.api.responses_stream import ResponseStream
from routeplex_gateway.canonical import (
    ChatResponse,
    Chunk,
    Finish,
    FinishReason,
    RefusalDelta,
    Text,
    TextDelta,
    Thinking,
    ThinkingDelta,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
    Usage,
)
from routeplex_gateway.errors import ErrorCode, GatewayError
from routeplex_gateway.exchange import Exchange
from routeplex_gateway.metering.record import Endpoint
from tests.support.cassettes import load
from tests.support.named_events import named_events
from tests.support.openai_schema import assert_event_valid, assert_responses_valid

REQUEST_ID = "req_0123456789abcdef0123456789ab"
BODY: dict[str, Any] = {"model": "m", "input": "hi", "tools": [], "metadata": {"k": "v"}}


@dataclass
class _Stream:
    wire: str = "anthropic"
    id: str = ""
    model: str = "claude-x"
    created: int = 1_700_000_000
    usage: Usage = field(default_factory=lambda: Usage(5, 7, reasoning_tokens=2))
    finish_reason: FinishReason | None = "stop"

    async def _none(self) -> AsyncIterator[Chunk]:
        return
        yield

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._none()

    async def aclose(self) -> None:
        return None


def exchange() -> Exchange:
    ex = Exchange(Endpoint.OPENAI_RESPONSES, request_id=REQUEST_ID)
    ex.usage = Usage(5, 7, reasoning_tokens=2)
    return ex


def relay(stream: _Stream, chunks: list[Chunk], *, fail: GatewayError | None = None) -> bytes:
    encoder = ResponseEvents(exchange(), BODY, sealed=True)
    out = [encoder.open(stream, chunks[0] if chunks else None)]
    out += [encoder.chunk(chunk) for chunk in chunks[1:]]
    out.append(encoder.fail(fail) if fail is not None else encoder.close(stream))
    return b"".join(out)


EVERY_KIND = [
    Chunk((ThinkingDelta("Let me think."), ThinkingDelta(" More."))),
    Chunk((ThinkingDelta(signature="sig-1"),)),
    Chunk((TextDelta("Hello"), TextDelta(", world"))),
    Chunk((RefusalDelta("I cannot do the rest."),)),
    Chunk((ToolCallStart(0, "call_a", "get_weather"), ToolArgumentsDelta(0, '{"city":'))),
    Chunk((ToolArgumentsDelta(0, '"Paris"}'),)),
    Chunk((ToolCallStart(1, "call_b", "get_time"), ToolArgumentsDelta(1, "{}"))),
    Chunk((Finish("tool_calls"),)),
]


def test_every_delta_kind_is_a_valid_numbered_event() -> None:
    found = named_events(relay(_Stream(), EVERY_KIND))
    for event in found:
        assert_event_valid(event)
    assert [e["sequence_number"] for e in found] == list(range(len(found)))
    names = [e["type"] for e in found]
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names[-1] == "response.completed"
    assert names.count("response.output_item.added") == 4  # reasoning, message, two calls
    assert names.count("response.output_item.added") == names.count("response.output_item.done")
    final = found[-1]["response"]
    kinds = [item["type"] for item in final["output"]]
    assert kinds == ["reasoning", "message", "function_call", "function_call"]
    reasoning, message, first, second = final["output"]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Let me think. More."}]
    assert reasoning["encrypted_content"] == "routeplex:anthropic:sig-1"
    assert [p["type"] for p in message["content"]] == ["output_text", "refusal"]
    assert message["content"][0]["text"] == "Hello, world"
    assert first["arguments"] == '{"city":"Paris"}' and first["call_id"] == "call_a"
    assert second["name"] == "get_time"
    assert final["usage"]["output_tokens_details"] == {"reasoning_tokens": 2}
    assert final["store"] is False and final["metadata"] == {"k": "v"}
    assert final["x_routeplex"]["request_id"] == REQUEST_ID
    item_ids = {e["item"]["id"] for e in found if e["type"] == "response.output_item.added"}
    assert len(item_ids) == 4


def test_the_reasoning_item_goes_back_as_the_same_signed_thinking() -> None:
    found = named_events(relay(_Stream(), EVERY_KIND))
    output = found[-1]["response"]["output"]
    decoded = decode({"model": "m", "input": [*output, {"role": "user", "content": "go on"}]})
    (assistant, user) = decoded.chat.messages
    thinking = assistant.parts[0]
    assert isinstance(thinking, Thinking)
    assert thinking.text == "Let me think. More." and thinking.signature == "sig-1"
    assert [type(p).__name__ for p in assistant.parts] == [
        "Thinking", "Text", "Refusal", "ToolCall", "ToolCall",
    ]  # fmt: skip
    assert user.role == "user"


def test_the_output_cap_ends_incomplete() -> None:
    chunks = [Chunk((TextDelta("Hel"),)), Chunk((Finish("length"),))]
    found = named_events(relay(_Stream(finish_reason="length"), chunks))
    for event in found:
        assert_event_valid(event)
    assert found[-1]["type"] == "response.incomplete"
    assert found[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_failure_is_an_error_event_then_response_failed() -> None:
    broken = GatewayError(ErrorCode.PROVIDER_ERROR, "The provider broke off.")
    found = named_events(relay(_Stream(), [Chunk((TextDelta("Hel"),))], fail=broken))
    for event in found:
        assert_event_valid(event)
    assert [e["type"] for e in found][-2:] == ["error", "response.failed"]
    assert found[-2]["error"]["code"] == "provider_error"  # what makes the SDK raise
    assert found[-1]["response"]["error"] == {
        "code": "server_error",
        "message": "The provider broke off.",
    }
    assert [e["sequence_number"] for e in found] == list(range(len(found)))


def _upstream_events() -> list[bytes]:
    """OpenAI's own events (as the Responses endpoint frames them), store true as it would
    have said for a caller that asked for it."""
    upstream = ResponseStream(
        {**BODY, "store": True}, request_id="req_aa", rid="resp_up", sealed=False
    )
    raw = upstream.start("gpt-4o-2024-08-06", 1_700_000_000)
    raw += upstream.chunk(Chunk((TextDelta("Hi"), TextDelta(" there"))))
    raw += upstream.end("stop", Usage(3, 2), {})
    raw = raw.replace(b'"store":false', b'"store":true').replace(b',"x_routeplex":{}', b"")
    return [block + b"\n\n" for block in raw.split(b"\n\n") if block.strip()]


def test_openai_events_are_relayed_as_they_came() -> None:
    events = _upstream_events()
    stream = _Stream(wire=WIRE, model="gpt-4o-2024-08-06")
    deltas = (TextDelta("Hi"),)
    chunks = [Chunk(deltas, native=events[0] + events[1])] + [Chunk(native=e) for e in events[2:]]
    relayed = relay(stream, chunks)
    found = named_events(relayed)
    assert [e["sequence_number"] for e in found] == list(range(len(events)))
    upstream = named_events(b"".join(events))
    for mine, theirs in zip(found[:-1], upstream[:-1], strict=True):
        assert mine == {**theirs, **({"response": {**theirs["response"], "store": False}}
                                     if "response" in theirs else {})}  # fmt: skip
    last = found[-1]
    assert last["type"] == "response.completed" and last["response"]["store"] is False
    assert last["response"]["x_routeplex"]["request_id"] == REQUEST_ID
    assert last["response"]["id"] == "resp_up" and last["response"]["usage"]["total_tokens"] == 5
    # The bytes of every event but the held last one are the upstream's own.
    assert b"".join(events[2:-1]) in relayed


def test_a_relayed_stream_that_fails_continues_the_upstreams_numbers() -> None:
    events = _upstream_events()[:4]
    stream = _Stream(wire=WIRE)
    broken = GatewayError(ErrorCode.PROVIDER_ERROR, "The provider broke off.")
    found = named_events(relay(stream, [Chunk(native=e) for e in events], fail=broken))
    assert [e["sequence_number"] for e in found] == list(range(len(found)))
    assert [e["type"] for e in found][-2:] == ["error", "response.failed"]


def test_openai_answers_are_relayed_with_store_false() -> None:
    recorded = json.loads(load("openai/responses_nonstream_basic.yaml")[0].body)
    codec = Responses()
    decoded = codec.decode({**BODY, "store": True}, headers=None)  # type: ignore[arg-type]
    assert decoded.chat.native is not None and decoded.chat.native.wire == WIRE
    assert decoded.chat.native.body["store"] is False  # OpenAI is asked to keep nothing either
    response = ChatResponse(
        id="x", model="m", parts=[Text("hi")], finish_reason="stop", usage=Usage(1, 1),
        wire=WIRE, native={**recorded, "store": True},
    )  # fmt: skip
    sent = json.loads(codec.answer(exchange(), decoded, response).body)
    assert sent["store"] is False and sent["x_routeplex"]["request_id"] == REQUEST_ID
    assert {k: v for k, v in sent.items() if k not in ("store", "x_routeplex")} == {
        k: v for k, v in recorded.items() if k != "store"
    }


def test_a_canonical_answer_is_a_valid_response() -> None:
    response = ChatResponse(
        id="", model="gemini-x", finish_reason="tool_calls", usage=Usage(4, 6, cache_read_tokens=1),
        parts=[Thinking(text="hmm"), Text("Calling."), ToolCall(id="c1", name="f", arguments="{}")],
    )  # fmt: skip
    out = answer(response, BODY, response.usage, request_id=REQUEST_ID, model="m", sealed=False)
    assert_responses_valid(out, "Response")
    assert [item["type"] for item in out["output"]] == ["reasoning", "message", "function_call"]
    assert "encrypted_content" not in out["output"][0]  # not asked for
    assert out["usage"]["input_tokens_details"] == {"cached_tokens": 1, "cache_write_tokens": 0}


def test_a_text_that_names_an_event_is_not_taken_for_one() -> None:
    events = _upstream_events()
    said = events[5].replace(b'"delta":" there"', b'"delta":"event: response.completed\\n"')
    assert said != events[5]
    rest = b"".join(events[6:])
    relayed = relay(
        _Stream(wire=WIRE), [Chunk(native=b"".join(events[:5])), Chunk(native=said + rest)]
    )
    assert said + b"".join(events[6:-1]) in relayed
    found = named_events(relayed)
    assert [e["type"] for e in found].count("response.completed") == 1
    assert found[-1]["response"]["x_routeplex"]["request_id"] == REQUEST_ID
