"""A TCP proxy for the client fault scenarios: forwards bytes both ways until told to cut (then it drops them
silently and keeps the sockets open, so only a keepalive can notice), refuse new connections, or
inject bytes (a WebSocket frame) towards the clients."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from bench.servers import free_port


@dataclass
class Pair:
    down: asyncio.StreamWriter
    up: asyncio.StreamWriter
    cut: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def server_frame(text: str | bytes, opcode: int = 0x1) -> bytes:
    """An unmasked WebSocket frame as a server sends it (RFC 6455 5.2): text by default."""
    payload = text.encode() if isinstance(text, str) else text
    head = 0x80 | opcode
    if len(payload) < 126:
        return bytes([head, len(payload)]) + payload
    return bytes([head, 126]) + len(payload).to_bytes(2, "big") + payload


class TcpProxy:
    """127.0.0.1:port → 127.0.0.1:upstream, in its own thread and event loop."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.refuse = False
        self.pairs: list[Pair] = []
        self.every: list[Pair] = []  # cut ones too, to close them at the end
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="tcp-proxy")
        self.server: asyncio.Server | None = None

    def _call(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=10)

    def start(self) -> TcpProxy:
        self.thread.start()

        async def listen() -> asyncio.Server:
            return await asyncio.start_server(self._handle, "127.0.0.1", self.port)

        self.server = self._call(listen())
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return
        pair = Pair(writer, up_writer)
        self.pairs.append(pair)
        self.every.append(pair)
        pair.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, pair)),
            asyncio.create_task(self._pump(up_reader, writer, pair)),
        ]

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair: Pair) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                if not pair.cut:
                    writer.write(data)
                    await writer.drain()
        if not pair.cut:  # a real close is passed on; after a cut, nothing is
            with contextlib.suppress(OSError, ConnectionError):
                writer.close()

    def cut(self) -> None:
        """Silently stop forwarding on every open connection (new ones are forwarded)."""
        for pair in self.pairs:
            pair.cut = True
        self.pairs = []

    def reset(self) -> None:
        """Close every open connection at once (both sides see the TCP close)."""

        async def close_all() -> None:
            for pair in self.pairs:
                for w in (pair.down, pair.up):
                    w.transport.abort()
            self.pairs = []

        self._call(close_all())

    def inject(self, text: str | bytes, opcode: int = 0x1) -> int:
        """Write a frame (text by default) to every client now; returns how many received it. A close
        frame (opcode 8) ends the connection as a server would: nothing more is forwarded, and the
        TCP connection is closed after it."""

        async def write() -> int:
            live = [p for p in self.pairs if not p.cut and not p.down.is_closing()]
            for pair in live:
                pair.down.write(server_frame(text, opcode))
                if opcode == 0x8:
                    pair.cut = True
                    pair.down.close()
                    pair.up.close()
            return len(live)

        return int(self._call(write()))

    def stop(self) -> None:
        async def shutdown() -> None:
            if self.server is not None:
                self.server.close()
            for pair in self.every:
                for w in (pair.down, pair.up):
                    w.transport.abort()
                for task in pair.tasks:
                    task.cancel()

        with contextlib.suppress(Exception):
            self._call(shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
