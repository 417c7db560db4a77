"""Server-sent events read from an upstream response: the one incremental decoder every
provider's stream uses (OpenAI-shaped, Anthropic, Gemini).

Framing must not matter. The SSE standard allows LF, CRLF and CR line endings: Anthropic and
OpenAI end lines with LF, Gemini with CRLF, and OpenAI-compatible servers may send any of the
three. Pieces are normalised to LF as they arrive — a CR at the end of a piece is held until
the next one shows whether an LF follows — and the common LF-only piece is not copied at all.
The search for the blank line that ends an event resumes where the previous search stopped,
so a long event arriving in many small pieces is not rescanned from its start each time.

Events are handed over as (event name, data) as soon as their blank line arrives — or, for a
relay that forwards the events themselves (Anthropic passthrough), as the event's own bytes
with its data; the data is the raw payload (JSON parsing, and tolerance of Anthropic's
whitespace padding, is the caller's job). Transport failures propagate as aiohttp / timeout
errors for the stream to turn into its broken-stream error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import aiohttp

from .base import MAX_RESPONSE_BYTES


class SSEDecoder:
    """Bytes in, complete event blocks out (LF line endings, without the blank line)."""

    __slots__ = ("_buffer", "_cr", "_scan")

    def __init__(self) -> None:
        self._buffer = b""
        self._scan = 0  # where the next search for a blank line starts
        self._cr = False  # the last piece ended with CR: an LF opening the next one is its pair

    def feed(self, piece: bytes) -> Sequence[bytes]:
        """The event blocks this piece completes, in order (the stream's hot path: kept to
        a few byte-string operations per piece, with no further calls)."""
        buffer = self._buffer
        if not buffer and not self._cr:
            end = piece.find(b"\n\n")
            if 0 <= end == len(piece) - 2 and b"\r" not in piece:
                return (piece[:end],)  # the usual piece: exactly one whole event
        if self._cr or b"\r" in piece:
            piece = self._to_lf(piece)
        if buffer:
            buffer += piece
            end = buffer.find(b"\n\n", self._scan)
        else:
            buffer = piece
            end = piece.find(b"\n\n")
        blocks: list[bytes] = []
        start = 0
        while end >= 0:
            blocks.append(buffer[start:end])
            start = end + 2
            end = buffer.find(b"\n\n", start)
        if start:
            buffer = buffer[start:]
        if len(buffer) > MAX_RESPONSE_BYTES:
            # One event this large is not a chat stream; end it as a broken one.
            raise aiohttp.ClientPayloadError("stream event too large")
        self._buffer = buffer
        # A blank line can only be completed across the boundary: resume one byte back.
        self._scan = len(buffer) - 1
        return blocks

    def remainder(self) -> bytes:
        """What arrived after the last complete event (a stream cut mid-event)."""
        return self._buffer.strip(b"\n")

    def _to_lf(self, piece: bytes) -> bytes:
        if self._cr and piece.startswith(b"\n"):
            piece = piece[1:]  # the LF of a CRLF split across two pieces
        self._cr = piece.endswith(b"\r")
        return piece.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def event_data(block: bytes) -> bytes | None:
    """The data of an event block (its `data:` lines joined), None when it has none."""
    if block.startswith(b"data: ") and b"\n" not in block:
        return block[6:]  # the usual one-line event, without splitting
    return parse_event(block)[1]


def parse_event(block: bytes) -> tuple[bytes, bytes | None]:
    """(event name, data) of an event block; the name is b"" without an `event:` line."""
    name = b""
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
        elif line.startswith(b"event:"):
            name = line[6:].strip()
        # Comments (`:`), `id:` and `retry:` lines carry nothing a chat stream needs.
    return name, b"\n".join(data) if data else None


async def sse_events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[bytes, bytes]]:
    """(event name, data) pairs of events that carry data."""
    decoder = SSEDecoder()
    async for piece in response.content.iter_any():
        for block in decoder.feed(piece):
            name, data = parse_event(block)
            if data is not None:
                yield name, data
    # A last event without its blank line (a stream cut mid-event) is still handed over, so
    # that the caller sees the truncated payload rather than a silently shorter stream.
    name, data = parse_event(decoder.remainder())
    if data is not None:
        yield name, data


async def sse_blocks(
    response: aiohttp.ClientResponse,
) -> AsyncIterator[tuple[bytes, bytes, bool]]:
    """(event as received, its data, more) for events that carry data, for a relay that
    forwards the events themselves: the event is its lines and its blank line (LF endings);
    `more` says further events arrived with this one, so their writes can be joined."""
    decoder = SSEDecoder()
    async for piece in response.content.iter_any():
        blocks = decoder.feed(piece)
        last = len(blocks) - 1
        for index, block in enumerate(blocks):
            data = parse_event(block)[1]
            if data is not None:
                yield block + b"\n\n", data, index < last
    block = decoder.remainder()
    data = parse_event(block)[1]
    if data is not None:
        yield block + b"\n\n", data, False
