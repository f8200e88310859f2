"""What an idle connection keeps: runtime.leanasync's Inbox and Flag, and uvicorn's protocol as the seam
builds it (the handshake request let go, the frames still parsed)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode

from runtime import uvicornseam
from runtime.leanasync import Flag, Inbox

# -- Inbox: asyncio.Queue's put_nowait / get / empty for one reader ----------------------------------------


@pytest.mark.asyncio
async def test_inbox_is_fifo_and_get_waits_for_a_put() -> None:
    inbox = Inbox()
    assert inbox.empty()
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert not inbox.empty()
    assert [await inbox.get(), await inbox.get()] == [1, 2]
    assert inbox.empty() and inbox._items is None, "drained: no deque kept"
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not reader.done()
    inbox.put_nowait("x")
    assert await asyncio.wait_for(reader, 1) == "x"


@pytest.mark.asyncio
async def test_a_cancelled_reader_leaves_the_items_and_a_second_reader_is_refused() -> None:
    inbox = Inbox()
    reader = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="already awaited"):
        await inbox.get()
    inbox.put_nowait("kept")  # wakes the reader, which is cancelled before it runs
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert await asyncio.wait_for(inbox.get(), 1) == "kept"


# -- Flag: asyncio.Event's set / clear / is_set / wait ------------------------------------------------------


@pytest.mark.asyncio
async def test_flag_wakes_every_waiter_and_forgets_cancelled_ones() -> None:
    flag = Flag()
    assert not flag.is_set()
    waiters = [asyncio.ensure_future(flag.wait()) for _ in range(3)]
    gone = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert len(flag._waiters or ()) == 3
    flag.set()
    flag.clear()  # cleared before the waiters run: they were woken, as with asyncio.Event
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True, True, True]
    assert flag._waiters is None and not flag.is_set()
    flag.set()
    assert await flag.wait() is True


# -- the seam's protocol ------------------------------------------------------------------------------------

HANDSHAKE = (
    b"GET /ws?token=secret HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def _client_frame(text: str, opcode: Opcode = Opcode.TEXT) -> bytes:
    return Frame(opcode, text.encode()).serialize(mask=True, extensions=[])


class _Transport:
    """What uvicorn's WebSocket protocol calls on its transport."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _held_connection(ws: str) -> tuple[Any, list[Any], weakref.ref[Any]]:
    """A protocol of ``ws`` that accepted a handshake (a text frame pipelined after it), and what its app
    received; the weak reference is to the handshake's request, taken before the endpoint's trim."""
    received: list[Any] = []
    request: list[weakref.ref[Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        received.append(await receive())
        await send({"type": "websocket.accept"})
        request.append(weakref.ref(send.__self__.request))
        uvicornseam.DirectWriter(send.__self__).trim(scope)  # as runtime.endpoint does after accept
        while received[-1]["type"] != "websocket.disconnect":
            received.append(await receive())

    config = Config(app, ws=ws, ws_per_message_deflate=False, ws_ping_interval=None, lifespan="off")
    config.load()
    protocol_class: Any = config.ws_protocol_class
    proto = protocol_class(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    transport: Any = _Transport()
    proto.connection_made(transport)
    proto.data_received(HANDSHAKE + _client_frame("first"))
    for _ in range(20):
        await asyncio.sleep(0)
    return proto, received, request[0]


@pytest.mark.asyncio
async def test_the_lean_protocol_lets_the_handshake_request_go_and_still_parses_frames() -> None:
    proto, received, request = await _held_connection(uvicornseam.WS_PROTOCOL)
    assert type(proto.queue) is Inbox and type(proto.writable) is Flag
    assert proto.transport.out.startswith(b"HTTP/1.1 101 ")
    gc.collect()
    assert request() is None, "the request (and its token) is not kept by the frame parser"
    second = _client_frame("second")
    proto.data_received(second[:3])  # a frame in two pieces
    proto.data_received(second[3:])
    proto.data_received(_client_frame("", Opcode.CLOSE))
    for _ in range(20):
        await asyncio.sleep(0)
    texts = [m.get("text") for m in received if m["type"] == "websocket.receive"]
    assert texts == ["first", "second"] and received[-1]["type"] == "websocket.disconnect"


@pytest.mark.asyncio
async def test_uvicorns_own_protocol_keeps_the_request_which_is_why_the_seam_replaces_it() -> None:
    proto, received, request = await _held_connection("websockets-sansio")
    assert [m.get("text") for m in received] == [None, "first"]
    gc.collect()
    kept = request()
    assert kept is not None and kept.path == "/ws?token=secret"
    proto.connection_lost(None)
    for _ in range(20):
        await asyncio.sleep(0)


def test_the_pinned_uvicorn_calls_only_what_inbox_and_flag_offer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uvicornseam, "verified_release", lambda: False)  # read the source
    assert uvicornseam.missing_lean() == []
    source = """
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.writable = asyncio.Event()
        self.queue.put_nowait(x); await self.queue.get(); self.writable.wait()
    """
    assert uvicornseam.lean_misuses(source) == []
    misuses = uvicornseam.lean_misuses(source + "n = self.queue.qsize()\nhand_over(self.writable)\n")
    assert misuses == [
        "WebSocketsSansIOProtocol.queue.qsize(",
        "WebSocketsSansIOProtocol.writable (not only called)",
    ]


def test_serve_warns_when_the_lean_state_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime import server
    from runtime.config import Settings

    assert server.startup_checks(Settings()) == []
    monkeypatch.setattr(uvicornseam, "missing_lean", lambda: ["WebSocketsSansIOProtocol.queue.qsize("])
    [line] = server.startup_checks(Settings())
    assert line.startswith("lean connection state unavailable") and "qsize" in line
