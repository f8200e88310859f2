"""The least a relay server can do on this stack: the floor against which ours and the naive server are read.

Speaks the naive baseline's protocol (bench/baseline_app.py), so the load clients drive it unchanged:
``GET /ws?channel=C`` upgrades, gets one ``{"type":"subscribed","channel":C}`` text frame once the worker's
Redis subscription to C is live, then every message published to C; text frames on ``/publish`` (and on
``/ws``, as the baseline's receiver does) are published as they are to the channel they name.

No framework: asyncio Protocols on uvloop, a minimal HTTP/1.1 upgrade (no extensions, so never
permessage-deflate), a minimal RFC 6455 parser for masked client frames, and raw RESP to Redis (one
subscriber and one publisher connection per worker). On a Redis message the text frame is built once and
handed to each socket's ``transport.write``: nothing else happens per delivery. What it leaves out (auth,
history, acknowledgements, presence, keepalive) is what any real server adds on top, so its CPU per
delivery, measured in the same run as the others, is what no server on uvloop + Redis pub/sub goes under.

Run: ``STARS_REDIS_URL=redis://127.0.0.1:6379 python -m bench.floor_server --port 8000 --workers 2``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import os
import signal
import socket
import struct
import sys
from collections.abc import Callable
from typing import cast
from urllib.parse import parse_qs, urlsplit

import uvloop

#: Longest request head accepted (the handshake's request line and headers).
MAX_HEAD = 8192
#: Longest client message (one frame or a fragmented message): anything longer is refused (close 1009).
MAX_MESSAGE = 64 * 1024
#: Longest channel name.
MAX_CHANNEL = 256
#: A socket whose unsent output passes this is a slow consumer and is dropped (asyncio calls
#: ``pause_writing``): bounded memory at no cost per delivery.
MAX_BUFFERED = 1 << 20
#: Longest Redis reply element accepted (our own Redis, but the buffer must stay bounded all the same).
MAX_RESP = 8 << 20

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_END = b"\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def _status(code: int, reason: str) -> bytes:
    return f"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()


BAD_REQUEST = _status(400, "Bad Request")
NOT_FOUND = _status(404, "Not Found")
TOO_LARGE = _status(431, "Request Header Fields Too Large")


# -- HTTP upgrade ------------------------------------------------------------------------------------


def handshake(head: bytes) -> tuple[bytes, str | None, str]:
    """``(reply, route, channel)`` for one request head (up to and including the blank line).

    ``route`` is ``"ws"`` or ``"publish"`` when the reply is a 101 upgrade, ``None`` when the reply is a
    plain response after which the connection closes. Never raises: the head is outside input.
    """
    try:
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, version = request_line.split(" ")
        url = urlsplit(target)  # ValueError on a malformed authority ("//[")
    except ValueError:
        return BAD_REQUEST, None, ""
    if method != "GET" or version != "HTTP/1.1":
        return BAD_REQUEST, None, ""
    if url.path == "/healthz":
        return OK, None, ""
    if url.path not in ("/ws", "/publish"):
        return NOT_FOUND, None, ""
    headers: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            return BAD_REQUEST, None, ""
        headers[name.strip().lower()] = value.strip()
    key = headers.get("sec-websocket-key", "")
    if (
        headers.get("upgrade", "").lower() != "websocket"
        or "upgrade" not in headers.get("connection", "").lower()
        or headers.get("sec-websocket-version") != "13"
        or not _valid_key(key)
    ):
        return BAD_REQUEST, None, ""
    channel = parse_qs(url.query).get("channel", ["chatroom"])[0] if url.path == "/ws" else ""
    if len(channel.encode()) > MAX_CHANNEL:
        return BAD_REQUEST, None, ""
    accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
    reply = (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
    ).encode()
    return reply, url.path[1:], channel


def _valid_key(key: str) -> bool:
    """RFC 6455 4.2.1: the key is 16 random bytes in base64."""
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


# -- WebSocket frames --------------------------------------------------------------------------------


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented server text frame."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def control_frame(opcode: int, payload: bytes) -> bytes:
    """A server close (8) or pong (10) frame; control payloads are at most 125 bytes."""
    return bytes((0x80 | opcode, len(payload))) + payload


def _unmask(key: bytes, data: bytes) -> bytes:
    """XOR with the 4-byte key, as one big-int operation (no Python loop per byte)."""
    n = len(data)
    if not n:
        return b""
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")).to_bytes(n, "little")


class FrameParser:
    """Client frames out of a byte stream: complete messages ``(opcode, payload)`` with fragments joined.

    Never raises on input: a protocol violation sets ``error`` to the close code to send (1002 protocol
    error, 1009 too big) and the parser takes nothing more. Its buffer holds at most one frame of at most
    ``limit`` bytes plus one read.
    """

    __slots__ = ("_buf", "_frag", "_frag_op", "error", "limit")

    def __init__(self, limit: int = MAX_MESSAGE) -> None:
        self.limit = limit
        self._buf = bytearray()
        self._frag: bytearray | None = None
        self._frag_op = 0
        self.error: int | None = None

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        if self.error is not None:
            return []
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        while len(buf) >= 2:
            frame = self._frame(buf)
            if frame is None:
                break
            if self.error is not None:
                buf.clear()
                break
            message = self._message(*frame)
            if self.error is not None:
                buf.clear()
                break
            if message is not None:
                out.append(message)
        return out

    def _fail(self, code: int) -> tuple[int, int, bytes]:
        self.error = code
        return 0, 0, b""

    def _frame(self, buf: bytearray) -> tuple[int, int, bytes] | None:
        """``(fin, opcode, payload)`` of the first complete frame, removed from ``buf``; None: incomplete."""
        n = len(buf)
        b0, b1 = buf[0], buf[1]
        opcode = b0 & 0x0F
        if b0 & 0x70 or not b1 & 0x80:  # no extension agreed: RSV clear; clients must mask
            return self._fail(1002)
        if opcode >= 8 and (opcode > 10 or not b0 & 0x80 or (b1 & 0x7F) > 125):
            return self._fail(1002)
        if 2 < opcode < 8:
            return self._fail(1002)
        length, pos = b1 & 0x7F, 2
        if length == 126:
            if n < 4:
                return None
            length, pos = (buf[2] << 8) | buf[3], 4
        elif length == 127:
            if n < 10:
                return None
            length, pos = struct.unpack_from("!Q", buf, 2)[0], 10
            if length >> 63:
                return self._fail(1002)
        if length + (len(self._frag) if self._frag is not None and opcode < 8 else 0) > self.limit:
            return self._fail(1009)
        end = pos + 4 + length
        if n < end:
            return None
        payload = _unmask(bytes(buf[pos : pos + 4]), bytes(buf[pos + 4 : end]))
        del buf[:end]
        return b0 & 0x80, opcode, payload

    def _message(self, fin: int, opcode: int, payload: bytes) -> tuple[int, bytes] | None:
        """A whole message, or None while a fragmented one is being joined."""
        if opcode >= 8:
            if opcode == 8 and len(payload) == 1:
                self.error = 1002
                return None
            return opcode, payload
        if opcode == 0:
            if self._frag is None:
                self.error = 1002
                return None
            self._frag += payload
            if not fin:
                return None
            whole, self._frag = bytes(self._frag), None
            return self._frag_op, whole
        if self._frag is not None:  # a new data frame inside a fragmented message
            self.error = 1002
            return None
        if not fin:
            self._frag, self._frag_op = bytearray(payload), opcode
            return None
        return opcode, payload


# -- Redis (RESP2) -------------------------------------------------------------------------------------


class RespError(Exception):
    """Redis sent something this client does not expect (an error reply, or bytes that are not RESP)."""


Resp = bytes | int | None | list["Resp"]


def command(*args: bytes) -> bytes:
    """One RESP command: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


_MESSAGE = b"*3\r\n$7\r\nmessage\r\n$"


class RespReader:
    """Replies out of a Redis byte stream (pub/sub pushes are arrays of bulk strings and integers).

    Raises :class:`RespError` on an error reply or malformed input, nothing else."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Resp]:
        buf = self._buf
        buf += data
        out: list[Resp] = []
        pos = 0
        while pos < len(buf):
            item = self._message(buf, pos) if buf.startswith(_MESSAGE, pos) else self._item(buf, pos, 0)
            if item is None:
                break
            value, pos = item
            out.append(value)
        del buf[:pos]
        if len(buf) > MAX_RESP + 64:
            raise RespError("reply too long")
        return out

    def _message(self, buf: bytearray, pos: int) -> tuple[Resp, int] | None:
        """The common reply, a complete well-formed ``message`` push, in a few slices (a third of the
        general parser's CPU); anything else, incomplete or not, goes to the general parser."""
        p = pos + len(_MESSAGE)
        eol = buf.find(b"\r\n", p, p + 12)
        if eol > p:
            n = int(buf[p:eol]) if buf[p:eol].isdigit() else -1
            start = eol + 2
            end = start + n
            if n >= 0 and buf[end : end + 3] == b"\r\n$":
                eol2 = buf.find(b"\r\n", end + 3, end + 15)
                m = int(buf[end + 3 : eol2]) if eol2 > end + 3 and buf[end + 3 : eol2].isdigit() else -1
                if 0 <= m <= MAX_RESP and buf[eol2 + 2 + m : eol2 + 4 + m] == b"\r\n":
                    return [
                        b"message",
                        bytes(buf[start:end]),
                        bytes(buf[eol2 + 2 : eol2 + 2 + m]),
                    ], eol2 + 4 + m
        return self._item(buf, pos, 0)

    def _item(self, buf: bytearray, pos: int, depth: int) -> tuple[Resp, int] | None:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            if len(buf) - pos > 64 and buf[pos] != 0x24:  # a header line is short
                raise RespError("line too long")
            return None
        kind, line = buf[pos], bytes(buf[pos + 1 : eol])
        if kind == 0x2D:  # -
            raise RespError(line.decode(errors="replace"))
        if kind == 0x2B:  # +
            return line, eol + 2
        try:
            n = int(line)
        except ValueError:
            raise RespError(f"bad length {line[:20]!r}") from None
        if kind == 0x3A:  # :
            return n, eol + 2
        if kind == 0x24:  # $
            if n < 0:
                return None, eol + 2
            if n > MAX_RESP:
                raise RespError("bulk string too long")
            end = eol + 2 + n
            if len(buf) < end + 2:
                return None
            if buf[end : end + 2] != b"\r\n":
                raise RespError("bulk string not terminated")
            return bytes(buf[eol + 2 : end]), end + 2
        if kind == 0x2A:  # *
            if depth > 2 or n > 16:
                raise RespError("array too deep or too long")
            items: list[Resp] = []
            pos = eol + 2
            for _ in range(max(n, 0)):
                item = self._item(buf, pos, depth + 1)
                if item is None:
                    return None
                value, pos = item
                items.append(value)
            return items, pos
        raise RespError(f"unknown reply type {kind!r}")


class _Redis(asyncio.Protocol):
    """One Redis connection; losing it stops the worker (a floor server does not reconnect)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.reader = RespReader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a TCP connection's transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.hub.fail(ConnectionError(f"Redis connection lost: {exc}"))


class _Subscriber(_Redis):
    def data_received(self, data: bytes) -> None:
        try:
            replies = self.reader.feed(data)
        except RespError as exc:
            self.hub.fail(exc)
            return
        hub = self.hub
        for r in replies:
            if isinstance(r, list) and len(r) == 3 and isinstance(r[1], bytes):
                if r[0] == b"message" and isinstance(r[2], bytes):
                    hub.deliver(r[1], r[2])
                elif r[0] == b"subscribe":
                    hub.subscribed(r[1])


class _Publisher(_Redis):
    def data_received(self, data: bytes) -> None:
        try:  # the replies to PUBLISH (integers, in order): read and dropped
            self.reader.feed(data)
        except RespError as exc:
            self.hub.fail(exc)


# -- the worker --------------------------------------------------------------------------------------


class Hub:
    """One worker's channels: the live ones (Redis confirmed) map to their sockets' ``transport.write``."""

    def __init__(self) -> None:
        self.live: dict[bytes, dict[Conn, Callable[[bytes], object]]] = {}
        self.pending: dict[bytes, list[Conn]] = {}
        self.sub: asyncio.Transport | None = None
        self.pub: asyncio.Transport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def connect(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.sub, _ = await loop.create_connection(lambda: _Subscriber(self), host, port)
        self.pub, _ = await loop.create_connection(lambda: _Publisher(self), host, port)

    def fail(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)

    def deliver(self, channel: bytes, payload: bytes) -> None:
        """The whole per-message path: one frame, one ``write`` per socket."""
        writers = self.live.get(channel)
        if writers:
            frame = text_frame(payload)
            for write in writers.values():
                write(frame)

    def join(self, channel: bytes, conn: Conn) -> None:
        writers = self.live.get(channel)
        if writers is not None:
            writers[conn] = conn.transport.write
            conn.transport.write(conn.subscribed_frame())
            return
        waiting = self.pending.get(channel)
        if waiting is None:
            self.pending[channel] = [conn]
            self._redis(self.sub, b"SUBSCRIBE", channel)
        else:
            waiting.append(conn)

    def subscribed(self, channel: bytes) -> None:
        waiting = [c for c in self.pending.pop(channel, []) if not c.transport.is_closing()]
        if not waiting:
            self._redis(self.sub, b"UNSUBSCRIBE", channel)
            return
        self.live[channel] = {c: c.transport.write for c in waiting}
        for c in waiting:
            c.transport.write(c.subscribed_frame())

    def leave(self, channel: bytes, conn: Conn) -> None:
        writers = self.live.get(channel)
        if writers is not None and writers.pop(conn, None) is not None and not writers:
            del self.live[channel]
            self._redis(self.sub, b"UNSUBSCRIBE", channel)
        waiting = self.pending.get(channel)
        if waiting is not None and conn in waiting:
            waiting.remove(conn)

    def publish(self, channel: bytes, payload: bytes) -> None:
        self._redis(self.pub, b"PUBLISH", channel, payload)

    @staticmethod
    def _redis(transport: asyncio.Transport | None, *args: bytes) -> None:
        if transport is not None:
            transport.write(command(*args))


class Conn(asyncio.Protocol):
    """One client socket: the handshake, then its frames."""

    __slots__ = ("channel", "head", "hub", "parser", "route", "transport")

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.head = bytearray()
        self.parser: FrameParser | None = None
        self.route: str | None = None
        self.channel = b""
        self.transport: asyncio.Transport = cast(asyncio.Transport, None)  # set by connection_made

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a TCP connection's transport
        self.transport.set_write_buffer_limits(high=MAX_BUFFERED)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.route == "ws":
            self.hub.leave(self.channel, self)

    def pause_writing(self) -> None:
        self.transport.abort()  # a slow consumer: dropped rather than buffered without bound

    def subscribed_frame(self) -> bytes:
        name = json.dumps(self.channel.decode())
        return text_frame(f'{{"type":"subscribed","channel":{name}}}'.encode())

    def data_received(self, data: bytes) -> None:
        if self.parser is not None:
            self._frames(data)
            return
        head = self.head
        head += data
        end = head.find(_END)
        if end < 0 or end > MAX_HEAD:
            if end > MAX_HEAD or len(head) > MAX_HEAD:
                self._reply(TOO_LARGE)
            return
        reply, route, channel = handshake(bytes(head[: end + 4]))
        if route is None:
            self._reply(reply)
            return
        rest = bytes(head[end + 4 :])
        self.head = bytearray()
        self.transport.write(reply)
        self.parser = FrameParser()
        self.route = route
        if route == "ws":
            self.channel = channel.encode()
            self.hub.join(self.channel, self)
        if rest:
            self._frames(rest)

    def _reply(self, reply: bytes) -> None:
        self.transport.write(reply)
        self.transport.close()

    def _frames(self, data: bytes) -> None:
        parser = cast(FrameParser, self.parser)
        for opcode, payload in parser.feed(data):
            if opcode == 1:
                self._text(payload)
            elif opcode == 9:
                self.transport.write(control_frame(10, payload))
            elif opcode == 8:
                self._close(payload[:2] if payload else b"")
                return
        if parser.error is not None:
            self._close(struct.pack("!H", parser.error))

    def _text(self, payload: bytes) -> None:
        """Publish as is: to the socket's channel on ``/ws``, to the channel it names on ``/publish``."""
        if self.route == "ws":
            try:
                payload.decode()
            except UnicodeDecodeError:
                self._close(struct.pack("!H", 1007))
                return
            self.hub.publish(self.channel, payload)
            return
        try:
            channel = json.loads(payload)["channel"]
        except (ValueError, TypeError, KeyError, RecursionError):  # not UTF-8 JSON with a channel: refused
            self._close(struct.pack("!H", 1007))
            return
        if isinstance(channel, str) and 0 < len(channel.encode()) <= MAX_CHANNEL:
            self.hub.publish(channel.encode(), payload)

    def _close(self, code: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(control_frame(8, code))
            self.transport.close()


# -- processes -----------------------------------------------------------------------------------------


def _redis_address() -> tuple[str, int]:
    url = urlsplit(os.environ.get("STARS_REDIS_URL", "redis://127.0.0.1:6379"))
    return url.hostname or "127.0.0.1", url.port or 6379


async def serve(sock: socket.socket) -> None:
    """One worker: its Redis connections first (so ``/healthz`` answers only once it can relay), then
    accept on the shared socket until SIGTERM or a lost Redis connection."""
    loop = asyncio.get_running_loop()
    hub = Hub()
    await hub.connect(*_redis_address())
    server = await loop.create_server(lambda: Conn(hub), sock=sock, backlog=4096)

    def stop() -> None:
        if not hub.done.done():
            hub.done.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    try:
        await hub.done
    finally:
        server.close()


def _worker(sock: socket.socket) -> int:
    try:
        uvloop.run(serve(sock))
    except Exception as exc:
        print(f"floor_server worker {os.getpid()}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Bind once, then fork the workers onto the same listening socket (as uvicorn's workers share one);
    the parent waits and takes every worker down with it, so a dead worker is a dead server."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(4096)
    sock.setblocking(False)
    if args.workers <= 1:
        return _worker(sock)
    children: list[int] = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            os._exit(_worker(sock))
        children.append(pid)

    def stop(_signum: int, _frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _, status = os.wait()
    stop(signal.SIGTERM, None)
    code = os.waitstatus_to_exitcode(status)
    for _pid in children[1:]:
        with contextlib.suppress(ChildProcessError):
            os.wait()
    return code if code >= 0 else 1  # killed by a signal


if __name__ == "__main__":
    sys.exit(main())
