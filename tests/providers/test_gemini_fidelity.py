"""Gemini fidelity over real sockets: exact bills (audio priced as audio), faithful finish
reasons and errors, and translated options — the official `openai` SDK → gateway → the
simulator speaking Gemini's wire format, or the provider alone against crafted traffic."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import httpx
import openai

from tests.conftest import RunningGateway

MODEL = "gemini-2.5-flash"  # $0.30 text / $1.00 audio in, $2.50 out
MTOK = Decimal(10) ** 6
WAV = base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt ").decode()


def _client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.keys["alice"], max_retries=0)


def _upstream(gw: RunningGateway) -> dict[str, Any]:
    seen = httpx.get(f"{gw.simulator_url}/_simulator/requests").json()["requests"]
    body: dict[str, Any] = [r["body"] for r in seen if r["path"].startswith("/v1beta/")][-1]
    return body


# --- 2. audio input is priced as audio ------------------------------------------------------


def test_audio_input_is_billed_at_the_audio_rate(gateway: RunningGateway) -> None:
    content: Any = [
        {"type": "text", "text": "Transcribe this."},
        {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}},
    ]
    reply = _client(gateway).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": content}], reasoning_effort="none"
    )
    assert _upstream(gateway)["contents"][0]["parts"][1]["inlineData"]["mimeType"] == "audio/wav"
    details = reply.model_dump()["x_routeplex"]["usage_details"]
    audio = details["input_audio_tokens"]
    assert audio and audio > 0
    assert reply.usage is not None
    prompt, output = reply.usage.prompt_tokens, reply.usage.completion_tokens
    [row] = gateway.metadata(expect=1, timeout=15)
    text_rate = ((prompt - audio) * Decimal("0.3") + audio * Decimal(1)) / MTOK
    expected = text_rate + output * Decimal("2.5") / MTOK
    assert Decimal(row["cost_picousd"]) / 10**12 == expected
