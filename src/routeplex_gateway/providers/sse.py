"""Server-sent events read from an upstream response, for the translated providers.

Framing differs between providers and must not matter: Anthropic ends lines with LF and names
its events, Gemini ends them with CRLF and does not. Events are yielded as (event name, data)
as soon as their blank line arrives; the data is the raw payload (JSON parsing, and tolerance
of Anthropic's whitespace padding, is the caller's job). Transport failures propagate as
aiohttp / timeout errors for the stream to turn into its broken-stream error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from .base import MAX_RESPONSE_BYTES


async def sse_events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[bytes, bytes]]:
    """(event name, data) pairs; the name is b"" for events without an `event:` line."""
    buffer = b""
    async for piece in response.content.iter_any():
        # Normalised on the whole remainder, so a CRLF split across two pieces still matches.
        buffer = (buffer + piece).replace(b"\r\n", b"\n")
        if len(buffer) > MAX_RESPONSE_BYTES:
            # One event this large is not a chat stream; end it as a broken one.
            raise aiohttp.ClientPayloadError("stream event too large")
        while True:
            end = buffer.find(b"\n\n")
            if end < 0:
                break
            block, buffer = buffer[:end], buffer[end + 2 :]
            event = _event(block)
            if event is not None:
                yield event
    # A last event without its blank line (a stream cut mid-event) is still handed over, so
    # that the caller sees the truncated payload rather than a silently shorter stream.
    event = _event(buffer.strip(b"\n"))
    if event is not None:
        yield event


def _event(block: bytes) -> tuple[bytes, bytes] | None:
    name = b""
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
        elif line.startswith(b"event:"):
            name = line[6:].strip()
        # Comments (`:`), `id:` and `retry:` lines carry nothing a chat stream needs.
    if not data:
        return None
    return name, b"\n".join(data)
