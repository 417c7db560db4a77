"""A tiny OpenAI-compatible (and Anthropic Messages) upstream for privacy and fuzz tests:
unlike the simulator (which never echoes, by design), this one quotes the request back, so
the tests can check that a provider's words — answers, error texts, broken chunks — holding
the prompt are relayed and never written down.

The upstream model name picks the behaviour:

* `echo`: a normal answer (plain or streamed) that quotes the prompt; it accepts any body.
* `bad-request` / `server-error`: HTTP 400 / 500 whose error message quotes the prompt.
* `malformed`: a stream with one good chunk, then a truncated JSON chunk quoting the prompt.
* `slow`: a stream of prompt-quoting chunks every 100 ms, for clients that leave mid-stream.
* `hang`: accepts the request and answers nothing for 30 s, for provider timeouts.

`POST /v1/messages` does the same in Anthropic's format (`malformed` is Anthropic's mid-stream
`event: error`, quoting the prompt), for an Anthropic provider the caller's own body goes to.
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


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _opening() -> bytes:
    message = {
        "id": "msg_echo",
        "type": "message",
        "role": "assistant",
        "model": "echo",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 7, "output_tokens": 1},
    }
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    return _event("message_start", {"type": "message_start", "message": message}) + _event(
        "content_block_start", block
    )


def _delta(text: str) -> bytes:
    delta = {"type": "text_delta", "text": text}
    return _event(
        "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
    )


def _closing() -> bytes:
    return (
        _event("content_block_stop", {"type": "content_block_stop", "index": 0})
        + _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 3},
            },
        )
        + _event("message_stop", {"type": "message_stop"})
    )


def _anthropic_error(status: int, kind: str, message: str) -> Response:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return Response(orjson.dumps(body), status, media_type="application/json")


async def messages(request: Request) -> Response:
    """The same behaviours in Anthropic's Messages format, for requests an Anthropic model is
    sent as their caller wrote them (the prompt quoted from `system` and `messages`)."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return _anthropic_error(400, "invalid_request_error", "invalid JSON")
    said = " ".join(_strings(body.get("system")) + _strings(body.get("messages")))[:4000]
    model = body.get("model")
    if model == "bad-request":
        return _anthropic_error(400, "invalid_request_error", f"messages: cannot process '{said}'")
    if model == "server-error":
        return _anthropic_error(500, "api_error", f"Internal error while processing '{said}'.")
    if model == "hang":
        for _ in range(300):
            if await request.is_disconnected():
                break
            await asyncio.sleep(0.1)
    if body.get("stream") is not True:
        message = {
            "id": "msg_echo",
            "type": "message",
            "role": "assistant",
            "model": "echo",
            "content": [{"type": "text", "text": f"You said: {said}"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 7, "output_tokens": 3},
        }
        return Response(orjson.dumps(message), media_type="application/json")

    async def events() -> AsyncIterator[bytes]:
        yield _opening() + _delta("Hello. ")
        if model == "malformed":
            # Anthropic's way to fail after HTTP 200, quoting what it was sent.
            error = {"type": "overloaded_error", "message": f"Overloaded by '{said}'"}
            yield _event("error", {"type": "error", "error": error})
            return
        for _ in range(50 if model == "slow" else 1):
            yield _delta(f"You said: {said}. ")
            if model == "slow":
                await asyncio.sleep(0.1)
        yield _closing()

    return StreamingResponse(events(), media_type="text/event-stream")


async def count_tokens(request: Request) -> Response:
    return Response(orjson.dumps({"input_tokens": 7}), media_type="application/json")


def create_echo_upstream() -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        ]
    )
