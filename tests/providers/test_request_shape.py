"""Requests both translating providers must shape alike, checked end to end (the official
`openai` SDK → gateway → the simulator, which validates as Anthropic and Gemini do): empty
text parts and empty turns are left out, and a request with nothing left is the caller's 400;
system messages in mid-conversation stay where they stand."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import RunningGateway

MODELS = {
    "anthropic": ("claude-3-5-haiku-20241022", "/v1/messages"),
    "gemini": ("gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:"),
}


def _client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.keys["alice"], max_retries=0)


def _upstream(gw: RunningGateway, path: str) -> dict[str, Any]:
    seen = httpx.get(f"{gw.simulator_url}/_simulator/requests").json()["requests"]
    body: dict[str, Any] = [r["body"] for r in seen if r["path"].startswith(path)][-1]
    return body


# --- 11. empty text parts ---------------------------------------------------------------------


@pytest.mark.parametrize("provider", list(MODELS))
def test_empty_text_is_left_out_and_nothing_left_is_a_400(
    gateway: RunningGateway, provider: str
) -> None:
    model, path = MODELS[provider]
    messages: Any = [
        {"role": "system", "content": ""},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": [{"type": "text", "text": ""}]},
        {"role": "user", "content": [{"type": "text", "text": ""}]},
        {"role": "user", "content": "again"},
    ]
    # The simulator rejects an empty text block / empty parts exactly as the providers do.
    reply = _client(gateway).chat.completions.create(model=model, messages=messages)
    assert reply.choices[0].message.content
    sent = _upstream(gateway, path)
    turns = sent.get("messages") or sent.get("contents")
    assert len(turns) == 1  # both user texts in one turn; the empty ones gone
    assert "system" not in sent and "systemInstruction" not in sent

    with pytest.raises(openai.BadRequestError) as raised:
        _client(gateway).chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": ""}, {"role": "assistant", "content": ""}],
        )
    assert raised.value.code == "validation_error"
    assert raised.value.param == "messages"


# --- 8. system messages in mid-conversation -----------------------------------------------------


@pytest.mark.parametrize("provider", list(MODELS))
def test_later_system_messages_stay_where_they_stand(
    gateway: RunningGateway, provider: str
) -> None:
    model, path = MODELS[provider]
    messages: Any = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Use plain words."},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hi."},
        {"role": "system", "content": "The user is now on the mobile app."},
        {"role": "user", "content": "and now?"},
    ]
    reply = _client(gateway).chat.completions.create(model=model, messages=messages)
    assert reply.choices[0].message.content
    sent = _upstream(gateway, path)
    if provider == "anthropic":
        assert sent["system"] == "Be brief.\n\nUse plain words."
        last = [block["text"] for block in sent["messages"][-1]["content"]]
    else:
        assert [p["text"] for p in sent["systemInstruction"]["parts"]] == [
            "Be brief.",
            "Use plain words.",
        ]
        last = [part["text"] for part in sent["contents"][-1]["parts"]]
    # The reminder comes right before the message it was sent before, marked as an instruction.
    assert last == [
        "<system_instruction>\nThe user is now on the mobile app.\n</system_instruction>",
        "and now?",
    ]
