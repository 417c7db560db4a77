"""What the canary traffic of one surface (`messages_traffic`, `responses_traffic`) does the
same way on each: a request whose status is checked, a stream read to its end or left after
its first delta, a fault registered with the simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from tests.privacy.stores import Canaries

if TYPE_CHECKING:
    from tests.privacy.traffic import Target


class SurfaceTraffic:
    path: str  # where the surface's requests go
    first_delta: str  # the SSE line after which a client leaving mid-stream goes away

    def __init__(self, target: Target, canaries: Canaries, http: httpx.Client) -> None:
        self.t = target
        self.c = canaries
        self.http = http

    def headers(self, label: str | None = None, key: str | None = None) -> dict[str, str]:
        """The surface's own headers, with canaries in each a caller may set when `label`."""
        raise NotImplementedError

    def expect(self, response: httpx.Response, status: int, label: str) -> httpx.Response:
        if response.status_code != status:
            response.read()
            raise AssertionError(f"{label}: expected {status}, got {response.status_code}")
        return response

    def stream(self, label: str, body: Any, *, leave_early: bool = False, **kw: Any) -> str:
        """A streamed answer read to its end (or left after its first delta)."""
        headers = kw.pop("headers", None) or self.headers()
        body = {**body, "stream": True}
        with self.http.stream("POST", self.path, json=body, headers=headers, **kw) as response:
            self.expect(response, 200, label)
            lines: list[str] = []
            for line in response.iter_lines():
                if line:
                    lines.append(line)
                if leave_early and line == self.first_delta:
                    break  # the client goes away mid-stream
        return "\n".join(lines)

    def fault(self, **spec: Any) -> None:
        response = httpx.post(f"{self.t.simulator_url}/_simulator/faults", json=spec)
        assert response.status_code < 300, response.text
