"""The ASGI app for ``/ws``: the handshake, then one connection's frames read until it disconnects.

A raw ASGI endpoint rather than Starlette's ``WebSocket`` wrapper, mounted ahead of Starlette so it
receives the server's own ``send``: a frame the hub encoded once is written straight to the socket
(``runtime.outbox``), nothing else per delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from runtime import metrics, protocol
from runtime.connection import Connection, Host
from runtime.handshake import authenticate, refuse_draining, refuse_unauthorized
from runtime.uvicornseam import DirectWriter

log = logging.getLogger("runtime.connection")


class WebSocketEndpoint:
    """ASGI app for ``/ws``: authenticate at the handshake (token in ``Sec-WebSocket-Protocol`` or the
    URL), then read frames until disconnect."""

    def __init__(self, rt: Host) -> None:
        self.rt = rt

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        rt = self.rt
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        accepted = authenticate(scope, rt.settings)
        if accepted is None:
            await refuse_unauthorized(send)
            return
        if rt.draining:
            await refuse_draining(send)
            return
        claims, subprotocol = accepted
        del accepted, message  # an idle connection keeps neither the token's tuple nor the connect event
        await send({"type": "websocket.accept", "subprotocol": subprotocol})
        direct = DirectWriter.attach(send)
        if direct is not None:
            direct.trim(scope)
        conn = Connection(rt, send, claims, direct)
        rt.register(conn)
        metrics.CONNECTIONS.inc()
        metrics.WORKER_CONNECTIONS.inc()
        try:
            while True:  # read here, not in a coroutine of its own: an idle connection keeps one frame less
                message = await receive()
                kind = message["type"]
                if kind == "websocket.disconnect":
                    break
                if kind == "websocket.receive" and not conn.closing:
                    await _frame(conn, message)
                message = None  # an idle connection keeps neither its last frame nor its dict
        finally:
            conn.closing = True
            conn.teardown()
            rt.unregister(conn)
            metrics.CONNECTIONS.dec()
            metrics.WORKER_CONNECTIONS.dec()
            if conn.writer is not None and not conn.writer.done():
                conn.writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await conn.writer


async def _frame(conn: Connection, message: dict[str, Any]) -> None:
    """Hand one received frame to the connection (only text frames are commands)."""
    text = message.get("text")
    if text is None:
        conn.error(protocol.BAD_FRAME, "binary frames are not supported; send JSON text")
        return
    try:
        await conn.handle(text)
    except Exception:
        log.exception("error handling a frame")
        conn.error(protocol.INTERNAL, "internal error")
