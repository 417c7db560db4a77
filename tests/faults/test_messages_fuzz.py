"""A property-based fuzz of Anthropic's Messages surface: a valid request — system blocks, text,
an image, a tool call and its result, tools, a tool choice, metadata — bent in one to three
places (a value replaced by any JSON, a key dropped, an unknown key or block added), sent
to `/v1/messages` and `/v1/messages/count_tokens` for a Claude model and a GPT model.

Whatever comes of it, the answer is never a 5xx; a refusal is a 4xx in Anthropic's envelope
whose own words (the provider's, relayed after "Provider said:", may quote what it was
sent, as Anthropic does) never quote the canary planted in every string the fuzz writes; an
answer is Anthropic's message or event stream; and every request `/v1/messages` took has
exactly one metadata row with the status it was answered.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import RunningGateway
from tests.faults.conftest import rows_by_id, today
from tests.faults.messages_bodies import CALL, CANARY, PNG, RESULT
from tests.support.accounts import set_account_limits
from tests.support.anthropic_sdk import events

MODELS = ("claude-haiku-4-5", "gpt-4o-mini")
FUZZ = settings(
    max_examples=250, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
PROVIDER_SAID = " Provider said: "
BLOCK_TYPES = (
    "text", "image", "document", "search_result", "tool_use", "tool_result", "thinking",
    "redacted_thinking", "server_tool_use", "web_search_tool_result", "container_upload",
)  # fmt: skip
KEYS = ("type", "text", "source", "content", "id", "name", "input", "role", "data", "media_type")


def valid(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 30,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look this up."},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "Looking."}, CALL]},
            {"role": "user", "content": [RESULT, {"type": "text", "text": "Thanks."}]},
        ],
        "tools": [
            {
                "name": "lookup",
                "description": "Finds things",
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
            }
        ],
        "tool_choice": {"type": "auto"},
        "metadata": {"user_id": "user-1"},
        "temperature": 0.5,
    }


# Every string the fuzz writes carries the canary, so any quote of one is found.
canaries = st.one_of(
    st.just(CANARY),
    st.text(max_size=12).map(lambda text: f"{text}{CANARY}"),
    st.sampled_from([f"\u202e{CANARY}", f'"}}{CANARY}', f"{CANARY}\x00", CANARY * 40]),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=2**64, max_value=2**90),
    st.floats(allow_nan=False, allow_infinity=False),
    canaries,
)
blocks = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(BLOCK_TYPES), canaries)},
    optional={key: leaves for key in KEYS[1:]},
)
values = st.recursive(
    st.one_of(leaves, blocks),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), canaries), inner, max_size=3),
    ),
    max_leaves=10,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a body: its containers and its leaves, by their keys and indexes."""
    yield prefix
    if isinstance(value, dict | list):
        for key, child in value.items() if isinstance(value, dict) else enumerate(value):
            yield from paths(child, (*prefix, key))


def bend(body: dict[str, Any], data: st.DataObject) -> None:
    """Change one place: replace it, drop it, or add an unknown key or item to it."""
    places = list(paths(body))[1:]
    if not places:
        return  # every field was dropped already
    path = data.draw(st.sampled_from(places))
    *parents, last = path
    container: Any = body
    for key in parents:
        container = container[key]
    target = container[last]
    action = data.draw(st.sampled_from(["replace", "drop", "add"]))
    if action == "drop":
        del container[last]
    elif action == "add" and isinstance(target, dict):
        target[data.draw(canaries)] = data.draw(values)
    elif action == "add" and isinstance(target, list):
        target.insert(data.draw(st.integers(0, len(target))), data.draw(values))
    else:
        container[last] = data.draw(values)


def post(gw: RunningGateway, path: str, body: Any) -> httpx.Response:
    headers = {
        "x-api-key": gw.keys["alice"],
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
    }
    # json, not orjson: it writes integers past 64 bits.
    content = json.dumps(body).encode()
    return httpx.post(f"{gw.url}{path}", content=content, headers=headers, timeout=30)


def check(response: httpx.Response, answer: str) -> None:
    """Never a 5xx; a refusal in Anthropic's envelope, its own words free of the canary; an
    answer in the shape asked for."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.headers["content-type"].startswith("text/event-stream"):
        names = [name for name, _ in events(response.content)]
        assert names[0] == "message_start" and names[-1] in ("message_stop", "error"), names
        return
    body = response.json()
    if response.status_code < 400:
        assert body["type"] == answer if answer == "message" else "input_tokens" in body, body
        return
    assert body["type"] == "error" and isinstance(body["error"]["type"], str), body
    own = body["error"]["message"].split(PROVIDER_SAID)[0]
    assert CANARY not in own, f"the gateway quoted the request: {own[:300]}"


@pytest.fixture
def gw(gateway: RunningGateway) -> Iterator[RunningGateway]:
    set_account_limits(gateway, "alice", {"rpm": 100_000})  # the plan allows 30 a minute
    yield gateway


def test_bent_messages_requests_are_answered_or_refused_in_anthropics_shapes(
    gw: RunningGateway,
) -> None:
    statuses: dict[str, int] = {}

    @FUZZ
    @given(model=st.sampled_from(MODELS), bends=st.integers(1, 3), data=st.data())
    def one(model: str, bends: int, data: st.DataObject) -> None:
        body = copy.deepcopy(valid(model))
        for _ in range(bends):
            bend(body, data)
        response = post(gw, "/v1/messages", body)
        check(response, "message")
        request_id = response.headers["request-id"]
        assert request_id not in statuses
        statuses[request_id] = response.status_code

    one()
    rows = rows_by_id(gw, list(statuses), timeout=10)
    assert len(rows) == len(statuses), f"{len(statuses) - len(rows)} requests have no row"
    assert {rid: row["http_status"] for rid, row in rows.items()} == statuses
    assert today(gw, gw.keys["alice"])["in_flight"] == 0
    # The fuzz reached both sides: the gateway's refusals and admitted requests.
    assert any(s == 200 for s in statuses.values()) and any(s >= 400 for s in statuses.values())


def test_bent_count_tokens_requests_are_counted_or_refused_in_anthropics_shape(
    gw: RunningGateway,
) -> None:
    @FUZZ
    @given(model=st.sampled_from(MODELS), bends=st.integers(1, 3), data=st.data())
    def one(model: str, bends: int, data: st.DataObject) -> None:
        body = copy.deepcopy(valid(model))
        del body["max_tokens"], body["temperature"]  # count_tokens refuses both
        for _ in range(bends):
            bend(body, data)
        check(post(gw, "/v1/messages/count_tokens", body), "count")

    one()
    assert gw.metadata(expect=0, timeout=0.2) == []
