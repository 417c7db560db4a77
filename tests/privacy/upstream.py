"""A tiny OpenAI-compatible upstream for privacy and fuzz tests: unlike the simulator (which
never echoes, by design), this one quotes the request back, so the tests can check that a
provider's words — answers, error texts, broken chunks — holding the prompt are relayed and
never written down.

The upstream model name picks the behaviour:

* `echo`: a normal answer (plain or streamed) that quotes the prompt; it accepts any body.
* `bad-request` / `server-error`: HTTP 400 / 500 whose error message quotes the prompt.
* `malformed`: a stream with one good chunk, then a truncated JSON chunk quoting the prompt.
* `slow`: a stream of prompt-quoting chunks every 100 ms, for clients that leave mid-stream.
* `hang`: accepts the request and answers nothing for 30 s, for provider timeouts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _chunk(content: str | None, finish: str | None = None, **extra: Any) -> bytes:
    delta = {"content": content} if content is not None else {}
    data = {
        "id": "chatcmpl-echo",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "echo",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + orjson.dumps(data) + b"\n\n"


_USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


async def _answer(body: dict[str, Any], said: str) -> Response:
    text = f"You said: {said}"
    if body.get("stream") is not True:
        return Response(
            orjson.dumps(
                {
                    "id": "chatcmpl-echo",
                    "object": "chat.completion",
                    "created": 1,
                    "model": "echo",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": _USAGE,
                }
            ),
            media_type="application/json",
        )

    async def chunks() -> AsyncIterator[bytes]:
        yield _chunk(text)
        yield _chunk(None, "stop")
        yield b"data: " + orjson.dumps({"choices": [], "usage": _USAGE}) + b"\n\n"
        yield b"data: [DONE]\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


def _error(status: int, message: str) -> Response:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    return Response(orjson.dumps({"error": error}), status, media_type="application/json")


async def chat(request: Request) -> Response:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return _error(400, "We could not parse the JSON body of your request.")
    if not isinstance(body, dict):
        return _error(400, "The body must be an object.")
    said = " ".join(_strings(body.get("messages")))[:4000]
    model = body.get("model")
    if model == "bad-request":
        return _error(400, f"Invalid 'messages': we cannot process '{said}'.")
    if model == "server-error":
        return _error(500, f"Internal error while processing '{said}'.")
    if model == "hang":
        # Until the gateway gives up and hangs up (at most 30 s), so shutdown need not wait.
        for _ in range(300):
            if await request.is_disconnected():
                break
            await asyncio.sleep(0.1)
    if model == "malformed":

        async def broken() -> AsyncIterator[bytes]:
            yield _chunk("Hello")
            yield b'data: {"choices": [{"delta": {"content": "' + said.encode() + b"\n\n"

        return StreamingResponse(broken(), media_type="text/event-stream")
    if model == "slow":

        async def slowly() -> AsyncIterator[bytes]:
            for _ in range(50):
                yield _chunk(f"You said: {said}. ")
                await asyncio.sleep(0.1)
            yield b"data: [DONE]\n\n"

        return StreamingResponse(slowly(), media_type="text/event-stream")
    return await _answer(body, said)


def create_echo_upstream() -> Starlette:
    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
