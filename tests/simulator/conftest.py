"""One simulator served over a real socket for the whole simulator test package.

Tests that use it through the `upstream` fixture start from no faults and an empty request
log. Control calls go over HTTP, exactly as the gateway's own tests will make them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from routeplex_gateway.simulator import create_simulator_app
from tests.support.servers import serve_in_thread

API_KEY = "sk-test"


@dataclass(frozen=True)
class Upstream:
    """A running simulator and the calls tests make to it."""

    url: str

    def client(self, **options: Any) -> openai.OpenAI:
        # No retries: faults must be seen once, and retry back-off would slow the suite.
        return openai.OpenAI(base_url=self.url + "/v1", api_key=API_KEY, max_retries=0, **options)

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """A raw HTTP call: (status, lower-cased headers, body bytes)."""
        data = (
            None
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("content-type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, _headers(response.headers), response.read()
        except urllib.error.HTTPError as failure:
            return failure.code, _headers(failure.headers), failure.read()

    def chat(
        self, body: dict[str, Any] | bytes, key: str | None = API_KEY
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {} if key is None else {"authorization": f"Bearer {key}"}
        return self.call("POST", "/v1/chat/completions", body, headers)

    def completion(
        self, body: dict[str, Any] | bytes, *, expected: int = 200, key: str | None = API_KEY
    ) -> dict[str, Any]:
        """POST a chat request that must answer `expected`; its parsed JSON body."""
        status, _, raw = self.chat(body, key)
        assert status == expected, raw
        parsed: dict[str, Any] = json.loads(raw)
        return parsed

    def stream(self, body: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        """POST a chat request with `stream: true`; (headers, raw SSE bytes)."""
        status, headers, raw = self.chat({**body, "stream": True})
        assert status == 200, raw
        return headers, raw

    def add_fault(self, **fault: Any) -> dict[str, Any]:
        status, _, body = self.call("POST", "/_simulator/faults", fault)
        assert status == 201, body
        registered: dict[str, Any] = json.loads(body)["fault"]
        return registered

    def reset(self) -> None:
        self.call("DELETE", "/_simulator/faults")
        self.call("DELETE", "/_simulator/requests")


def _headers(message: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in message.items()}


@pytest.fixture(scope="session")
def simulator_url() -> Iterator[str]:
    with serve_in_thread(create_simulator_app(request_log=True)) as url:
        yield url


@pytest.fixture
def upstream(simulator_url: str) -> Iterator[Upstream]:
    handle = Upstream(simulator_url)
    handle.reset()
    yield handle
    handle.reset()
