"""A minimal WebSocket client (RFC 6455) on asyncio transports, for load generation.

Why not the ``websockets`` client: the load clients share two cores with the server under test, and a
full client spends several times more CPU per received frame (Sans-I/O parser, UTF-8 checks, a queue
and a task wake-up per message) than this parser, which only splits frames and hands each text payload
to a callback. It offers ``permessage-deflate`` like a browser does, so a server that accepts it (the
uvicorn default) pays for compression as it would in production.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import zlib
from collections.abc import Callable
from typing import cast

_DEFLATE_TAIL = b"\x00\x00\xff\xff"
_HEAD_END = b"\r\n\r\n"


def _mask(payload: bytes) -> bytes:
    """Client frames must be masked: XOR with a random 4-byte key, done as one big-int operation."""
    key = os.urandom(4)
    n = len(payload)
    if not n:
        return key
    repeated = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(n, "little")
    return key + masked


def encode_frame(payload: bytes, opcode: int = 1) -> bytes:
    """One masked, unfragmented client frame."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + _mask(payload)


class WSClient(asyncio.Protocol):
    """One connection: handshake, then every text message goes to ``on_text(self, payload)``."""

    __slots__ = (
        "_buf",
        "_frag",
        "_frag_rsv1",
        "_host",
        "_inflate",
        "_inflate_reset",
        "_path",
        "_shook",
        "close_code",
        "closed",
        "deflate",
        "index",
        "on_text",
        "opened",
        "transport",
    )

    def __init__(
        self,
        host: str,
        path: str,
        on_text: Callable[[WSClient, bytes], None],
        index: int = 0,
        offer_deflate: bool = True,
    ) -> None:
        self._host = host
        self._path = path
        self.on_text = on_text
        self.index = index
        self.deflate = offer_deflate
        self._buf = bytearray()
        self._frag: bytearray | None = None
        self._frag_rsv1 = False
        self._shook = False
        self._inflate: zlib._Decompress | None = None
        self._inflate_reset = False
        self.transport: asyncio.Transport | None = None
        self.close_code: int | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a TCP connection's transport
        key = base64.b64encode(os.urandom(16)).decode()
        ext = (
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if self.deflate else ""
        )
        request = (
            f"GET {self._path} HTTP/1.1\r\nHost: {self._host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
        )
        self.transport.write(request.encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._shook:
            end = buf.find(_HEAD_END)
            if end < 0:
                return
            head = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            status = head.split("\r\n", 1)[0]
            if " 101 " not in status + " ":
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(f"handshake refused: {status}"))
                self._connected().close()
                return
            self._shook = True
            self._setup_extensions(head)
            self.opened.set_result(None)
        self._parse()

    def _setup_extensions(self, head: str) -> None:
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-extensions" and "permessage-deflate" in value:
                self._inflate = zlib.decompressobj(-15)
                self._inflate_reset = "server_no_context_takeover" in value
                return
        self.deflate = False

    def _parse(self) -> None:
        buf = self._buf
        while True:
            n = len(buf)
            if n < 2:
                return
            b0 = buf[0]
            b1 = buf[1]
            length = b1 & 0x7F
            pos = 2
            if length == 126:
                if n < 4:
                    return
                length = (buf[2] << 8) | buf[3]
                pos = 4
            elif length == 127:
                if n < 10:
                    return
                length = struct.unpack_from("!Q", buf, 2)[0]
                pos = 10
            masked = b1 & 0x80
            if masked:
                pos += 4
            end = pos + length
            if n < end:
                return
            payload = bytes(buf[pos:end])
            if masked:  # servers do not mask, but be tolerant
                key = bytes(buf[pos - 4 : pos])
                payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            del buf[:end]
            self._frame(b0, payload)

    def _frame(self, b0: int, payload: bytes) -> None:
        opcode = b0 & 0x0F
        fin = b0 & 0x80
        if opcode == 1 or opcode == 2:
            if not fin:
                self._frag = bytearray(payload)
                self._frag_rsv1 = bool(b0 & 0x40)
                return
            self._message(payload, bool(b0 & 0x40))
        elif opcode == 0 and self._frag is not None:
            self._frag += payload
            if fin:
                whole, self._frag = bytes(self._frag), None
                self._message(whole, self._frag_rsv1)
        elif opcode == 9:
            self._connected().write(encode_frame(payload, 0xA))
        elif opcode == 8:
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            transport = self._connected()
            if transport.is_closing():
                return
            transport.write(encode_frame(payload[:2], 0x8))
            transport.close()

    def _message(self, payload: bytes, compressed: bool) -> None:
        if compressed and self._inflate is not None:
            payload = self._inflate.decompress(payload + _DEFLATE_TAIL)
            if self._inflate_reset:
                self._inflate = zlib.decompressobj(-15)
        self.on_text(self, payload)

    def _connected(self) -> asyncio.Transport:
        """The transport; asyncio calls ``connection_made`` before any ``data_received``."""
        if self.transport is None:
            raise ConnectionError("not connected")
        return self.transport

    # API
    def send_text(self, text: str | bytes) -> None:
        """Send one text frame (uncompressed: RSV1 clear is always valid, even with deflate agreed)."""
        data = text.encode() if isinstance(text, str) else text
        self._connected().write(encode_frame(data, 1))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(struct.pack("!H", 1000), 0x8))
            self.transport.close()


async def connect(
    host: str,
    port: int,
    path: str,
    on_text: Callable[[WSClient, bytes], None],
    index: int = 0,
    local_ip: str | None = None,
    offer_deflate: bool = True,
    timeout: float = 30.0,
) -> WSClient:
    """Open a TCP connection (optionally from a given source address) and complete the handshake."""
    loop = asyncio.get_running_loop()
    local = (local_ip, 0) if local_ip else None
    async with asyncio.timeout(timeout):
        _, proto = await loop.create_connection(
            lambda: WSClient(f"{host}:{port}", path, on_text, index, offer_deflate),
            host,
            port,
            local_addr=local,
        )
        await proto.opened
    return proto
