"""Noticing a client that leaves while its plain (non-streamed) answer is being prepared.

The request is then cancelled where it waits — on the provider, most often — and closed at
once with 499, charged like a stream cut short, instead of holding its slot until the
provider answers. (A streamed answer's `EventStream` watches the connection itself.)
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.types import Message


class Departure:
    """Watches for the client leaving while its request is served, and cancels the serving
    task when it does.

    Listening starts once the body has been read whole — `request` is the one to read it
    from — since until then the body's own messages say it. `stop` it as soon as serving
    ends: a stream's response listens on the connection itself from there on.
    """

    def __init__(self, request: Request) -> None:
        self._receive = request.receive
        self._read = asyncio.Event()
        self.gone = False
        self.request = Request(request.scope, self._received)
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._watcher = asyncio.ensure_future(self._watch())

    async def _received(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            self._read.set()
        return message

    async def _watch(self) -> None:
        await self._read.wait()
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.gone = True
        self._task.cancel()

    def stop(self) -> None:
        self._watcher.cancel()

    def forget_cancel(self) -> None:
        """The cancel was this watcher's, and is handled: the task goes on uncancelled."""
        self._task.uncancel()
