"""A TCP proxy a test can cut, restore or slow down: a database that "dies" mid-load, or a
Redis whose every answer arrives late, safely."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.servers import free_port


class TcpProxy:
    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target = target_port
        self._open = True
        self.reply_delay_s = 0.0  # how late each answer from the target reaches the client
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, reply: bool = False
    ) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                if reply and self.reply_delay_s:
                    await asyncio.sleep(self.reply_delay_s)
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            writer.close()  # the "database" is down: connections are dropped at once
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer, reply=True)
        )

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""

        def drop() -> None:
            self._open = False
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()

        self._loop.call_soon_threadsafe(drop)

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(lambda: setattr(self, "_open", True))

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
            started.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()


@contextmanager
def tcp_proxy(target_port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(target_port)
    started = threading.Event()
    thread = threading.Thread(target=proxy._run, args=(started,), daemon=True)
    thread.start()
    started.wait(5)
    try:
        yield proxy
    finally:
        proxy.cut()
        proxy._loop.call_soon_threadsafe(proxy._loop.stop)
        thread.join(timeout=5)
