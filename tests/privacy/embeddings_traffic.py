"""The canary traffic of the embeddings surface (`POST /v1/embeddings`): canaries in every
input (strings, one string, many inputs in several Gemini batches), `user`, headers and the
query string, on an OpenAI model (floats and base64) and a Gemini model (with `dimensions`);
a provider failure; refusals of bad fields holding canaries; a daily cap refusing a request
made of canaries.

The vectors the gateway answered are searched for too: neither the inputs nor what they
became may be kept anywhere. Each case checks its status, as in `traffic.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from tests.privacy.stores import Canaries

if TYPE_CHECKING:
    from tests.privacy.traffic import Target

EMBEDDINGS = "/v1/embeddings"


class EmbeddingsTraffic:
    def __init__(self, target: Target, canaries: Canaries, http: httpx.Client) -> None:
        self.t = target
        self.c = canaries
        self.http = http

    def post(
        self, label: str, body: Any, status: int, key: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.t.messages_key}"}
        headers.update(kw.pop("headers", {}))
        response = self.http.post(EMBEDDINGS, json=body, headers=headers, **kw)
        if response.status_code != status:
            raise AssertionError(f"{label}: expected {status}, got {response.status_code}")
        return response

    def remember_vectors(self, label: str, answer: dict[str, Any]) -> None:
        """Each vector's tell-tale bytes become needles of their own: its first component as
        JSON wrote it, or the start of its base64."""
        for item in answer["data"]:
            vector = item["embedding"]
            tell = vector[:32] if isinstance(vector, str) else repr(vector[0])
            self.c.answers[f"{label}/vector{item['index']}"] = tell.encode()

    def run(self) -> None:
        c = self.c.new
        for label, model, extra in (
            ("embeddings.openai", "text-embedding-3-small", {"encoding_format": "float"}),
            ("embeddings.openai.base64", "text-embedding-3-small", {"encoding_format": "base64"}),
            ("embeddings.gemini", "gemini-embedding-001", {"dimensions": 768}),
        ):
            body = {
                "model": model,
                "input": [f"Embed {c(label + '/input0')}", c(label + "/input1")],
                "user": c(label + "/user"),
                **extra,
            }
            headers = {"X-Canary": c(label + "/header"), "User-Agent": c(label + "/agent")}
            params = {"trace": c(label + "/query")}
            answer = self.post(label, body, 200, headers=headers, params=params).json()
            assert len(answer["data"]) == 2
            self.remember_vectors(label, answer)
        one = {"model": "text-embedding-ada-002", "input": c("embeddings.single")}
        self.remember_vectors("embeddings.single", self.post("single", one, 200).json())
        many = [c(f"embeddings.batch/{i}") for i in range(120)]  # two Gemini batches
        batched = {"model": "gemini-embedding-001", "input": many, "encoding_format": "float"}
        self.remember_vectors("embeddings.batch", self.post("batch", batched, 200).json())

        # The provider fails: nothing of the request is kept on the way out either.
        response = httpx.post(
            f"{self.t.simulator_url}/_simulator/faults",
            json={"model": "text-embedding-3-small", "status": 500, "count": 1},
        )
        assert response.status_code == 201
        failing = {"model": "text-embedding-3-small", "input": c("embeddings.upstream-500")}
        self.post("embeddings.upstream-500", failing, 502)

        # Refusals of fields holding canaries: named, never quoted.
        for label, body in (
            ("embeddings.bad-model", {"model": c("embeddings.bad-model"), "input": "x"}),
            ("embeddings.chat-model", {"model": "gpt-4o-mini", "input": c("embeddings.chat")}),
            ("embeddings.bad-input", {"model": "text-embedding-3-small", "input": [c("i"), 5]}),
            (
                "embeddings.bad-format",
                {"model": "text-embedding-3-small", "input": "x", "encoding_format": c("fmt")},
            ),
            (
                "embeddings.bad-dimensions",
                {"model": "text-embedding-3-small", "input": "x", "dimensions": c("dims")},
            ),
            (
                "embeddings.tokens-to-gemini",
                {"model": "gemini-embedding-001", "input": [1, 2], "user": c("tok.user")},
            ),
        ):
            refused = self.post(label, body, 400)
            assert "CANARY" not in refused.text, label
        # More than the evaluation plan's day holds: refused before it goes anywhere.
        capped = {"model": "text-embedding-3-small", "input": [c("embeddings.cap") * 600]}
        self.post("embeddings.daily-cap", capped, 429, key=self.t.trial_key)
