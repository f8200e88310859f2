"""Every uvicorn internal the runtime touches, in one place (the seam to uvicorn's private code).

These features reach past ASGI into uvicorn's ``websockets-sansio`` protocol object, found as the owner
of the ASGI ``send`` callable, or subclass it:

- **direct writes**: a frame the hub encoded once is written with one ``transport.write`` per
  subscriber (``DirectWriter.write``) instead of an ASGI ``send`` per delivery;
- **keepalive pings** from one task per worker (``runtime.keepalive``): they need the protocol's pong
  handler (``handle_pong``) and a way to fail a silent socket (``conn.fail``, ``conn.data_to_send``);
- **permessage-deflate without context takeover** (``LeanSansIOProtocol``): websockets' sans-I/O
  protocol object (``conn``) is given our negotiation (``process_extensions``);
- **less memory per connection** (``LeanSansIOProtocol``): the handshake request is not kept by
  websockets' parser, and uvicorn's per-connection ``asyncio.Queue`` and ``Event`` are replaced by
  ``runtime.leanasync``'s lighter ``Inbox`` and ``Flag``.

The names below are what those features use. ``missing()`` (and ``missing_deflate``, ``missing_lean``)
check them against the installed uvicorn without a server (its source is read only on releases other
than the verified ones, ``VERIFIED_RELEASES``); ``runtime serve`` logs a WARNING at start-up
for each feature that is unavailable (every frame then goes through ASGI ``send``, no keepalive pings
are sent, and so on), and a test asserts that the pinned uvicorn has them all. Whole frames are
written synchronously, so they never interleave with the protocol's own control frames, and writing
stops once the protocol has sent or received a close. uvicorn's per-connection log lines (filtered in
``runtime.logs``) are listed here too.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import functools
import importlib
import importlib.metadata
import inspect
import logging
import re
import textwrap
from collections.abc import Callable, Generator, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from uvicorn.config import TRACE_LOG_LEVEL, Config
from websockets.datastructures import Headers
from websockets.extensions import Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.protocol import Protocol
from websockets.server import ServerProtocol

from runtime import metrics
from runtime.deflate import negotiate
from runtime.leanasync import FLAG_METHODS, INBOX_METHODS, Flag, Inbox

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
    logging.addLevelName(TRACE_LOG_LEVEL, "TRACE")


# Most of what the seam uses are instance attributes (set in ``__init__`` or at the handshake) and uses
# of ``self.queue`` in method bodies: neither shows on the class, so they are checked in uvicorn's source.
# A version check alone would turn the features off on every uvicorn release, and ``getattr`` on the
# class cannot see them. So: on the releases pinned in requirements.txt, whose source the tests check on
# every run (with ``verified_release`` patched off), start-up reads no source at all; on any other release
# the source is read, and a source that cannot be read (byte-compiled packages) counts as missing: that
# feature is off, with the start-up WARNING, never a crash.
VERIFIED_RELEASES = {"uvicorn": "0.54.0", "websockets": "17.4"}


@functools.cache
def verified_release() -> bool:
    """The installed uvicorn and websockets are the releases the tests verified the seam on."""
    try:
        return all(importlib.metadata.version(d) == v for d, v in VERIFIED_RELEASES.items())
    except importlib.metadata.PackageNotFoundError:
        return False


def _unassigned(cls: type, names: Iterable[str]) -> list[str]:
    """``cls.NAME`` for each of ``names`` that ``cls`` neither defines nor assigns as ``self.NAME`` (all
    of them when its source cannot be read); none on a verified release."""
    if verified_release():
        return []
    try:
        attrs = _assigned_attrs(cls)
    except (OSError, TypeError):  # no .py source installed
        return [f"{cls.__name__}.{n} (source unreadable)" for n in names]
    return [f"{cls.__name__}.{n}" for n in names if n not in attrs]


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
    except (ImportError, AttributeError) as exc:
        gone = [f"{PROTOCOL_MODULE}.{PROTOCOL_CLASS} ({exc})"]
        return {"direct writes": gone, "keepalive pings": gone}
    direct = _unassigned(cls, DIRECT_WRITE_ATTRS) + _unassigned(Config, CONFIG_ATTRS)
    keepalive = [f"{PROTOCOL_CLASS}.{a}" for a in KEEPALIVE_ATTRS if not callable(getattr(cls, a, None))]
    keepalive += [
        f"ServerProtocol.{m}" for m in CONN_METHODS if not callable(getattr(ServerProtocol, m, None))
    ]
    out = {"direct writes": direct, "keepalive pings": direct + keepalive}
    return {feature: names for feature, names in out.items() if names}


class DirectWriter:
    __slots__ = ("deflate", "proto", "transport", "writable")

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.transport: asyncio.Transport = proto.transport
        self.writable: asyncio.Event | Flag = proto.writable
        # permessage-deflate negotiated at the handshake (``LeanSansIOProtocol``): frames may go compressed
        extensions = getattr(getattr(proto, "conn", None), "extensions", ())
        self.deflate = any(isinstance(e, PerMessageDeflate) for e in extensions)

    @classmethod
    def attach(cls, send: Any) -> DirectWriter | None:
        """The writer for the socket behind ``send``, or None under another server or protocol."""
        proto = getattr(send, "__self__", None)
        if proto is None or PROTOCOL_CLASS not in {c.__name__ for c in type(proto).__mro__}:
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

    def on_pong(self, callback: Callable[[Any], None]) -> bool:
        """Call ``callback`` with every pong frame the protocol receives, instead of uvicorn's own pong
        handler (which only serves its keepalive, turned off by ``runtime serve``). False if not
        possible. The callback itself is the handler: no closure kept per connection."""
        proto = self.proto
        if not callable(getattr(proto, "handle_pong", None)) or not hasattr(proto, "__dict__"):
            return False
        proto.handle_pong = callback
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


# -- uvicorn's websockets-sansio protocol, lean, with permessage-deflate without context takeover --------
#
# ``LeanSansIOProtocol`` is uvicorn's protocol with three changes, each for memory or for deflate:
#
# - uvicorn's own ``ws_per_message_deflate`` keeps a zlib stream per connection in each direction (context
#   takeover) and compresses every frame per connection, so a broadcast could not be written as one
#   pre-encoded frame. It stays off; with ``DEFLATE_ATTR`` set, websockets' sans-I/O protocol gets our
#   negotiation instead (``runtime.deflate.negotiate``: no context takeover either way, never an exception
#   for a hostile header); the hub's frames are then compressed once per worker (``runtime.deflate.Deflater``)
#   and written directly, and websockets decompresses what the client sends.
# - websockets' ``ServerProtocol.parse`` parses the handshake request into a local variable, then runs the
#   frame parser from inside the same generator for the connection's lifetime, so every connection kept
#   its request (headers, path and query string with any token: ~2.8 KB). The frame parser now runs in a
#   generator of its own and the handshake's generator ends (``_FramesOnTheirOwn``).
# - its received-events ``asyncio.Queue`` and its ``writable`` ``asyncio.Event`` (five deques, ~4.5 KB)
#   become ``runtime.leanasync``'s ``Inbox`` and ``Flag``, if uvicorn calls nothing else on them.
WS_PROTOCOL = "runtime.uvicornseam:LeanSansIOProtocol"  # uvicorn.Config(ws=...)
DEFLATE_ATTR = "stars_ws_deflate"  # True on uvicorn's Config (pickled to each worker): negotiate deflate
DEFLATE_NAMES = ("websockets.server.ServerProtocol.process_extensions", f"{PROTOCOL_CLASS}.conn")
LEAN_ATTRS = ("queue", "writable")  # the protocol's attributes replaced by Inbox and Flag


def missing_protocol() -> str | None:
    """Why uvicorn's websockets-sansio protocol (``LeanSansIOProtocol``'s base) cannot be had, or None."""
    try:
        getattr(importlib.import_module(PROTOCOL_MODULE), PROTOCOL_CLASS)
    except (ImportError, AttributeError) as exc:
        return f"{PROTOCOL_MODULE}.{PROTOCOL_CLASS} ({exc})"
    return None


def missing_deflate() -> list[str]:
    """The names our permessage-deflate needs that the installed uvicorn or websockets lacks."""
    gone = missing_protocol()
    if gone is not None:
        return [gone]
    cls = getattr(importlib.import_module(PROTOCOL_MODULE), PROTOCOL_CLASS)
    out = [] if callable(getattr(ServerProtocol, "process_extensions", None)) else [DEFLATE_NAMES[0]]
    return out + _unassigned(cls, ("conn",))


def missing_lean() -> list[str]:
    """What uvicorn's protocol does with its queue and ``writable`` that ``Inbox`` and ``Flag`` do not
    offer (``queue.qsize``, or the queue handed elsewhere): then both stay uvicorn's own."""
    gone = missing_protocol()
    if gone is not None:
        return [gone]
    if verified_release():
        return []
    try:
        source = inspect.getsource(getattr(importlib.import_module(PROTOCOL_MODULE), PROTOCOL_CLASS))
    except (OSError, TypeError) as exc:  # no .py source installed
        return [f"{PROTOCOL_CLASS} source ({exc})"]
    return lean_misuses(source)


def lean_misuses(source: str) -> list[str]:
    """Each use of ``self.queue`` or ``self.writable`` in ``source`` other than an assignment or a call
    of a method ``Inbox`` or ``Flag`` offers."""
    out = []
    for attr, offered in zip(LEAN_ATTRS, (INBOX_METHODS, FLAG_METHODS), strict=True):
        for use in re.finditer(rf"self\.{attr}\b(?!\s*(?::[^=\n]+)?=[^=])(\.(\w+)\()?", source):
            if use.group(2) not in offered:
                out.append(f"{PROTOCOL_CLASS}.{attr}{use.group(1) or ' (not only called)'}")
    return sorted(set(out))


def _server_protocols() -> tuple[type, type]:
    """websockets' server protocol whose frame parser lets the handshake go, without and with our
    permessage-deflate negotiation."""

    class _FramesOnTheirOwn(Protocol):
        """Between ``ServerProtocol`` and ``Protocol`` in the MRO: ``ServerProtocol.parse`` calls this
        ``parse`` (its ``super().parse()``) once the request is parsed and queued as an event."""

        def parse(self) -> Generator[None]:
            frames = Protocol.parse(self)  # the frame parser, in a generator of its own
            self.parser = frames
            next(frames)  # reads whatever followed the request, then waits, as it would have here
            # receive_data() drops the handshake's generator (and its request) when this yields.
            yield

    class LeanServerProtocol(ServerProtocol, _FramesOnTheirOwn):
        """websockets' server protocol; the handshake request is not kept past the handshake."""

    class DeflateServerProtocol(LeanServerProtocol):
        """The same, with our permessage-deflate negotiation."""

        def process_extensions(self, headers: Headers) -> tuple[str | None, list[Extension]]:
            accepted = negotiate(headers.get_all("Sec-WebSocket-Extensions"))
            return (None, []) if accepted is None else (accepted[0], [accepted[1]])

    return LeanServerProtocol, DeflateServerProtocol


def _lean_protocol() -> type:
    # local: a private uvicorn module another uvicorn may lack (missing_protocol reports it, not an import)
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    plain, deflating = _server_protocols()
    lean = not missing_lean()

    class LeanSansIOProtocol(WebSocketsSansIOProtocol):
        """uvicorn's websockets-sansio protocol with less kept per connection; with ``DEFLATE_ATTR`` set
        on the config, it offers permessage-deflate without context takeover (uvicorn's own deflate
        stays off)."""

        def __init__(self, config: Config, *args: Any, **kwargs: Any) -> None:
            super().__init__(config, *args, **kwargs)
            if lean:  # duck-typed: what uvicorn calls on them, and nothing else (missing_lean)
                self.queue = Inbox()  # type: ignore[assignment]  # asyncio.Queue's put_nowait, get, empty
                writable = Flag()
                writable.set()  # as uvicorn's: writable until the transport pushes back
                self.writable = writable  # type: ignore[assignment]  # asyncio.Event's four methods
            if not config.ws_per_message_deflate:
                cls = deflating if getattr(config, DEFLATE_ATTR, False) else plain
                logger = logging.getLogger(LOGGER)  # as uvicorn gives its own
                self.conn = cls(max_size=config.ws_max_size, logger=logger)

    return LeanSansIOProtocol


# -- HTTP limits: what uvicorn's httptools protocol does not bound ----------------------------------------
#
# uvicorn arms no timer until a request's response is complete (``timeout_keep_alive`` covers only the idle
# time between requests), enforces no size on the request line and headers (a handshake line past
# websockets' 8,192-byte limit made its sans-I/O protocol fail an assertion: no answer at all), and its
# ``limit_concurrency`` does not apply to WebSocket upgrades. ``GuardedHttpToolsProtocol`` adds, per
# connection: a header deadline (from connect, or from a later request's first byte, to its last header),
# a body deadline (from the last header to the end of a declared body), a size and count limit on the
# request line and headers (431), and a cap on open sockets per worker (503 at connect).
HTTP_PROTOCOL = "runtime.uvicornseam:GuardedHttpToolsProtocol"  # uvicorn.Config(http=...)
LIMITS_ATTR = "stars_http_limits"  # set on uvicorn's Config, which is pickled to each worker
HTTP_ATTRS = ("cycle", "connections", "transport", "headers", "parser", "loop")
HTTP_METHODS = (
    "connection_made",
    "connection_lost",
    "data_received",
    "on_message_begin",
    "on_url",
    "on_header",
    "on_headers_complete",
    "on_body",
    "on_message_complete",
    "handle_websocket_upgrade",
    "send_400_response",
)


@dataclasses.dataclass(frozen=True)
class HttpLimits:
    header_timeout: float = 10.0
    body_timeout: float = 15.0
    max_header_bytes: int = 8192
    max_headers: int = 100  # websockets refuses a handshake of more than 128
    max_connections: int = 18_000


def missing_http() -> list[str]:
    """The names the HTTP limits need that the installed uvicorn lacks."""
    try:  # local: uvicorn's private module, and httptools may be absent: reported, not an import error
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError as exc:
        return [f"uvicorn.protocols.http.httptools_impl.HttpToolsProtocol ({exc})"]
    return _unassigned(HttpToolsProtocol, HTTP_ATTRS) + [
        f"HttpToolsProtocol.{m}" for m in HTTP_METHODS if not callable(getattr(HttpToolsProtocol, m, None))
    ]


class _HttpGuard:
    """The bookkeeping of ``GuardedHttpToolsProtocol`` (deadline timer, header counts, refusal), shared
    by its two mixins, ``_GuardedConnection`` and ``_GuardedParser``, which ``_guarded_protocol`` puts
    ahead of uvicorn's httptools protocol."""

    # set by uvicorn's HttpToolsProtocol
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any

    def _start_guard(self, config: Any) -> None:
        """Called at the end of the protocol's ``__init__``, with uvicorn's Config."""
        self.limits: HttpLimits = getattr(config, LIMITS_ATTR, None) or HttpLimits()
        self.deadline: asyncio.TimerHandle | None = None
        self.header_bytes = 0
        self.header_count = 0
        self.refused = False

    def _arm(self, seconds: float, status: HTTPStatus) -> None:
        self._disarm()
        if seconds > 0:
            self.deadline = self.loop.call_later(seconds, self._expire, status)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _refuse(self, status: HTTPStatus) -> None:
        """Answer ``status`` and its reason phrase (unless a response has started), close the connection."""
        self._disarm()
        self.refused = True
        transport = self.transport
        if transport.is_closing():
            return
        metrics.HTTP_REFUSED.labels(str(status.value)).inc()
        cycle = self.cycle
        if cycle is None or not cycle.response_started:
            body = status.phrase.encode()
            transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n%s" % (status, body, len(body), body)
            )
        transport.close()

    def _expire(self, status: HTTPStatus) -> None:
        self.deadline = None
        self._refuse(status)

    def _count(self, size: int, headers: int) -> None:
        self.header_bytes += size
        self.header_count += headers
        if self.header_bytes > self.limits.max_header_bytes or self.header_count > self.limits.max_headers:
            self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)


if TYPE_CHECKING:  # the mixins below are checked against the protocol they are mixed into
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _HttpBase
else:
    _HttpBase = object  # at run time uvicorn is imported only by _guarded_protocol


class _GuardedConnection(_HttpGuard, _HttpBase):
    """The connection's side of the guard: the cap on open sockets at connect, the first header
    deadline, and nothing more read or answered once the connection is refused."""

    def __init__(self, config: Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._start_guard(config)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(HTTPStatus.SERVICE_UNAVAILABLE)
        else:
            self._arm(self.limits.header_timeout, HTTPStatus.REQUEST_TIMEOUT)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.refused:
            super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if not self.refused:  # a request we refused (431) is answered already
            super().send_400_response(msg)


def _declares_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """A non-empty ``content-length`` or any ``transfer-encoding``: a body follows the headers."""
    return any(
        (name == b"content-length" and value.strip() not in (b"", b"0")) or name == b"transfer-encoding"
        for name, value in headers
    )


class _GuardedParser(_HttpGuard, _HttpBase):
    """The parser callbacks' side: count the request line and headers, move the deadline from headers
    to body to none. Once refused, the parser may still call back for the rest of the data it was
    fed: those calls are ignored."""

    def on_message_begin(self) -> None:
        if self.refused:
            return
        super().on_message_begin()
        self.header_bytes = self.header_count = 0
        if self.deadline is None:  # a later request on a kept-alive connection
            self._arm(self.limits.header_timeout, HTTPStatus.REQUEST_TIMEOUT)

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 0)
        if not self.refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4, 1)
        if not self.refused:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.refused:
            return
        self._disarm()
        super().on_headers_complete()
        if not self.parser.should_upgrade() and _declares_body(self.headers):
            self._arm(self.limits.body_timeout, HTTPStatus.REQUEST_TIMEOUT)

    def on_body(self, body: bytes) -> None:
        if not self.refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.refused:
            return
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        if self.refused:
            return
        self._disarm()
        super().handle_websocket_upgrade()


def _guarded_protocol() -> type:
    # local: uvicorn's private module (needs httptools), imported when uvicorn asks for the class by name
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(_GuardedParser, _GuardedConnection, HttpToolsProtocol):
        """uvicorn's httptools protocol with deadlines, header limits and a connection cap."""

    return GuardedHttpToolsProtocol


def __getattr__(name: str) -> Any:
    """``GuardedHttpToolsProtocol`` and ``LeanSansIOProtocol`` are built on first use (uvicorn imports
    them by name in each worker)."""
    builders = {"GuardedHttpToolsProtocol": _guarded_protocol, "LeanSansIOProtocol": _lean_protocol}
    if name in builders:
        cls = builders[name]()
        globals()[name] = cls
        return cls
    raise AttributeError(name)
