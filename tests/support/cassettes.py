"""Recorded provider exchanges (../shared/fixtures/providers), read in place, and a replay
server that answers each request with the next recorded response over a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import serve_in_thread

PROVIDERS = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "providers"


@dataclass(frozen=True)
class Exchange:
    request: dict[str, Any]
    status: int
    content_type: str
    body: bytes


def _header(headers: dict[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value[0] if isinstance(value, list) else str(value)
    return None


def load(relative: str) -> list[Exchange]:
    data = yaml.safe_load((PROVIDERS / relative).read_text())
    exchanges = []
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        if "parsed_body" in response:
            body = json.dumps(response["parsed_body"]).encode()
        else:
            body = response["body"]["string"].encode()
        exchanges.append(
            Exchange(
                request=request.get("parsed_body") or json.loads(request["body"]),
                status=response["status"]["code"],
                content_type=_header(response.get("headers", {}), "content-type")
                or "application/json",
                body=body,
            )
        )
    return exchanges


@contextmanager
def replay(exchanges: list[Exchange]) -> Iterator[str]:
    """Serve `exchanges` in order on any POST; yield the base URL."""
    queue = list(exchanges)

    async def answer(request: Request) -> Response:
        await request.body()
        exchange = queue.pop(0)
        return Response(
            exchange.body,
            status_code=exchange.status,
            headers={"content-type": exchange.content_type},
        )

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield url
