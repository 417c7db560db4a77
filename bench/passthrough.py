"""The lean reference: a pass-through with no features, on the stack RoutePlex is built on.

uvicorn (uvloop, httptools) as a bare ASGI app, one pooled aiohttp client, orjson — it reads
the request, swaps nothing, forwards it to the upstream and relays the answer's bytes as they
arrive. No auth, routing, limits, pricing or recording: the floor this stack allows, so that
RoutePlex's distance from it is a measured figure (`--targets passthrough`).

    UPSTREAM=http://127.0.0.1:9000/v1 python bench/passthrough.py --port 8200
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import aiohttp
import orjson
import uvicorn

_session: aiohttp.ClientSession | None = None
_SSE = [(b"content-type", b"text/event-stream")]
_JSON = [(b"content-type", b"application/json")]


async def _lifespan(receive: Any, send: Any) -> None:
    global _session
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _session is not None:
                await _session.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    assert _session is not None
    if scope["method"] != "POST":
        await send({"type": "http.response.start", "status": 404, "headers": _JSON})
        await send({"type": "http.response.body", "body": b"{}"})
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    request = orjson.loads(body)
    headers = {"Content-Type": "application/json"}
    for name, value in scope["headers"]:
        if name == b"authorization":
            headers["Authorization"] = value.decode()
    url = os.environ["UPSTREAM"] + "/chat/completions"
    async with _session.post(url, data=orjson.dumps(request), headers=headers) as response:
        if request.get("stream"):
            await send({"type": "http.response.start", "status": response.status, "headers": _SSE})
            async for piece in response.content.iter_any():
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            raw = await response.read()
            await send({"type": "http.response.start", "status": response.status, "headers": _JSON})
            await send({"type": "http.response.body", "body": raw})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
