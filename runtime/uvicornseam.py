"""Every uvicorn internal the runtime touches, in one place (the seam to uvicorn's private code).

Two features reach past ASGI into uvicorn's ``websockets-sansio`` protocol object, found as the owner
of the ASGI ``send`` callable:

- **direct writes**: a frame the hub encoded once is written with one ``transport.write`` per
  subscriber (``DirectWriter.write``) instead of an ASGI ``send`` per delivery;
- **keepalive pings** from one task per worker (``runtime.keepalive``): they need the protocol's pong
  handler (``handle_pong``) and a way to fail a silent socket (``conn.fail``, ``conn.data_to_send``).

The names below are what those features use. ``missing()`` checks them against the installed uvicorn
without a server; ``runtime serve`` logs a WARNING at start-up for each feature that is unavailable
(every frame then goes through ASGI ``send``, or no keepalive pings are sent), and a test asserts that
the pinned uvicorn has them all. Whole frames are written synchronously, so they never interleave
with the protocol's own control frames, and writing stops once the protocol has sent or received a
close. uvicorn's per-connection log lines (filtered in ``runtime.logs``) are listed here too.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import logging
import textwrap
from collections.abc import Callable
from typing import Any

PROTOCOL_MODULE = "uvicorn.protocols.websockets.websockets_sansio_impl"
PROTOCOL_CLASS = "WebSocketsSansIOProtocol"
# Attributes of the protocol object, by the feature that needs them.
DIRECT_WRITE_ATTRS = (
    "transport",
    "writable",
    "close_sent",
    "disconnected",
    "conn",
    "config",
    "handshake_complete",
    "request",
    "response",
    "scope",
)
KEEPALIVE_ATTRS = ("handle_pong",)  # replaced per instance by our pong callback
CONN_METHODS = ("fail", "data_to_send")  # of ``proto.conn``, websockets' sans-I/O ServerProtocol
CONFIG_ATTRS = ("ws_per_message_deflate",)
# uvicorn.error's lines for each WebSocket (thousands a second in a reconnect storm).
LOGGER = "uvicorn.error"
PER_CONNECTION_MESSAGES = frozenset({"connection open", "connection closed", "connection rejected (%d %s)"})
ACCESS_LINE_PREFIX = '%s - "WebSocket %s"'
# Logged with a traceback (logger.exception) for what a client sent: the client's fault, not the server's.
CLIENT_FAULT_MESSAGES = frozenset({"Invalid UTF-8 sequence received from client."})


def register_trace_level() -> None:
    """Name uvicorn's ``trace`` level (below debug) for ``logging``: uvicorn does so only when it
    configures its own logging, after ours has already been set up with that level."""
    from uvicorn.config import TRACE_LOG_LEVEL

    logging.addLevelName(TRACE_LOG_LEVEL, "TRACE")


def _assigned_attrs(cls: type) -> set[str]:
    """Names the class assigns as ``self.NAME = ...`` anywhere in its methods, or defines."""
    names = set(dir(cls))
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            ):
                names.add(target.attr)
    return names


def missing() -> dict[str, list[str]]:
    """Feature ("direct writes", "keepalive pings") -> the names the installed uvicorn lacks for it."""
    try:
        cls = getattr(importlib.import_module(PROTOCOL_MODULE), PROTOCOL_CLASS)
        from uvicorn.config import Config
        from websockets.server import ServerProtocol
    except (ImportError, AttributeError) as exc:
        gone = [f"{PROTOCOL_MODULE}.{PROTOCOL_CLASS} ({exc})"]
        return {"direct writes": gone, "keepalive pings": gone}
    attrs = _assigned_attrs(cls)
    config = _assigned_attrs(Config)
    direct = [f"{PROTOCOL_CLASS}.{a}" for a in DIRECT_WRITE_ATTRS if a not in attrs]
    direct += [f"Config.{a}" for a in CONFIG_ATTRS if a not in config]
    keepalive = [f"{PROTOCOL_CLASS}.{a}" for a in KEEPALIVE_ATTRS if not callable(getattr(cls, a, None))]
    keepalive += [
        f"ServerProtocol.{m}" for m in CONN_METHODS if not callable(getattr(ServerProtocol, m, None))
    ]
    out = {"direct writes": direct, "keepalive pings": direct + keepalive}
    return {feature: names for feature, names in out.items() if names}


class DirectWriter:
    __slots__ = ("proto", "transport", "writable")

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.transport: asyncio.Transport = proto.transport
        self.writable: asyncio.Event = proto.writable

    @classmethod
    def attach(cls, send: Any) -> DirectWriter | None:
        """The writer for the socket behind ``send``, or None under another server or protocol."""
        proto = getattr(send, "__self__", None)
        if proto is None or type(proto).__name__ != PROTOCOL_CLASS:
            return None
        if not all(hasattr(proto, a) for a in ("transport", "writable", "close_sent", "conn")):
            return None
        if getattr(proto.config, "ws_per_message_deflate", True):
            return None  # frames would have to be compressed per connection
        return cls(proto)

    def trim(self, scope: dict[str, Any] | None = None) -> None:
        """Drop what the protocol keeps of the handshake once accepted: the request and response
        (~2 KB) and the ASGI scope's contents (headers, the query string with the token, a copy of
        the lifespan state). uvicorn reads them only before the handshake completes (the
        scope for its log lines), and the endpoint has taken what it needs from the scope."""
        proto = self.proto
        if proto.handshake_complete:
            proto.request = None
            proto.response = None
            if scope is not None and getattr(proto, "scope", None) is scope:
                scope.clear()

    def open(self) -> bool:
        proto = self.proto
        return not (proto.close_sent or proto.disconnected or self.transport.is_closing())

    def ready(self) -> bool:
        """Can take a frame now without growing past the transport's high-water mark."""
        return self.writable.is_set() and self.open()

    def abort(self) -> None:
        """Cut the TCP connection now, dropping what is buffered (a peer that stopped reading)."""
        if not self.proto.disconnected:
            self.transport.abort()

    def write(self, frame: bytes) -> None:
        self.transport.write(frame)

    def on_pong(self, callback: Callable[[], None]) -> bool:
        """Call ``callback`` for every pong the protocol receives, instead of uvicorn's own pong handler
        (which only serves its keepalive, turned off by ``runtime serve``). False if not possible."""
        proto = self.proto
        if not callable(getattr(proto, "handle_pong", None)) or not hasattr(proto, "__dict__"):
            return False
        proto.handle_pong = lambda _event: callback()
        return True

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection now, as uvicorn does on a keepalive timeout: a close frame, then the TCP
        close, without waiting for the peer's close (it has stopped answering)."""
        proto = self.proto
        if proto.close_sent or self.transport.is_closing():
            return
        proto.conn.fail(code, reason)
        self.transport.write(b"".join(proto.conn.data_to_send()))
        proto.close_sent = True
        self.transport.close()
