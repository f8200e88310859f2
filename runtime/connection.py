"""One WebSocket client's session: its identity and token, and the commands it sends.

Each text frame is parsed once into a typed command (``runtime.protocol.parse``) and dispatched on its
type: ``Ping`` is answered here, ``Publish`` is checked (permission, data, the subject's rate limit)
and handed to the hub, ``Subscribe`` and ``Unsubscribe`` go to the connection's ``Subscriptions``.
A connection is an ``Outbox`` (its outgoing path, the hub's sink); the handshake and the reading of
frames are ``runtime.endpoint``'s.
"""

from __future__ import annotations

import itertools
import uuid
from typing import TYPE_CHECKING, Protocol, assert_never

from runtime import metrics, protocol
from runtime.outbox import Outbox
from runtime.protocol import Invalid, Ping, ProtocolError, Publish, Subscribe, Unsubscribe
from runtime.store import StoreUnavailable
from runtime.subscriptions import Subscriptions

if TYPE_CHECKING:
    from starlette.types import Send

    from runtime.auth import Claims
    from runtime.config import Settings
    from runtime.deflate import Deflater
    from runtime.hub import Hub
    from runtime.limits import SubjectLimiter
    from runtime.presence import Presence
    from runtime.store import Store
    from runtime.uvicornseam import DirectWriter
    from runtime.wire import Coalescer

# Connection ids: unique across workers and hosts (presence members), cheap within a process.
_PROCESS = uuid.uuid4().hex[:8]
_counter = itertools.count(1)


class PongListener(Protocol):
    def pong(self, conn: Connection) -> None: ...


class Host(Protocol):
    """What a connection needs of its worker's runtime (``runtime.service.Runtime``)."""

    settings: Settings
    hub: Hub
    store: Store
    presence: Presence
    coalescer: Coalescer
    deflater: Deflater
    limiter: SubjectLimiter
    draining: bool

    @property
    def keepalive(self) -> PongListener: ...

    def register(self, conn: Connection) -> None: ...

    def unregister(self, conn: Connection) -> None: ...


class Connection(Outbox):
    """A client's session on one socket: the outgoing path it inherits, plus who it is and what it asked."""

    __slots__ = ("claims", "id", "ping_sent", "subscriptions")

    rt: Host

    def __init__(self, rt: Host, send: Send, claims: Claims, direct: DirectWriter | None) -> None:
        super().__init__(rt, send, direct)
        self.claims = claims
        self.id = f"{_PROCESS}-{next(_counter)}"
        self.subscriptions = Subscriptions(self, rt, self.id, claims)
        self.ping_sent = 0.0  # monotonic time of the keepalive ping awaiting its pong; 0: none

    def pong(self, frame: object = None) -> None:
        """The socket's pong handler (``DirectWriter.on_pong``): the frame itself is not needed."""
        self.rt.keepalive.pong(self)

    async def handle(self, text: str) -> None:
        """One client text frame: its command carried out, or an ``error`` frame saying why not."""
        try:
            command = protocol.parse(text)
            match command:
                case Ping():
                    self.send_frame(protocol.PONG)
                case Publish():
                    await self._publish(command)
                case Subscribe():
                    await self.subscriptions.subscribe(command)
                case Unsubscribe():
                    self.subscriptions.unsubscribe(command.channel, command.ref)
                case _:
                    assert_never(command)
        except ProtocolError as exc:
            self.error(exc.error, exc.message, exc.ref)

    async def _publish(self, command: Publish) -> None:
        channel, ref, data = command.channel, command.ref, command.data
        if not self.claims.may_publish(channel):
            raise ProtocolError(protocol.FORBIDDEN, f"token may not publish on {channel}", ref)
        if data is None:
            raise ProtocolError(protocol.BAD_FRAME, protocol.NO_DATA, ref)
        if not self.rt.limiter.allow(self.claims.sub):  # shared with REST publishes of the same subject
            rate = self.rt.settings.publish_rate
            raise ProtocolError(protocol.RATE_LIMITED, f"at most {rate:g} publishes/s per token", ref)
        if isinstance(data, Invalid):  # after the rate limit: it costs a token, as it always has
            raise data.refusal(ref)
        try:
            offset = await self.rt.hub.publish(channel, data)
        except StoreUnavailable:
            message = "database unavailable; message not stored, retry later"
            raise ProtocolError(protocol.UNAVAILABLE, message, ref) from None
        metrics.MESSAGES_IN.labels("ws").inc()
        self.send_frame(protocol.ack(ref, channel, offset))

    def teardown(self) -> None:
        self.subscriptions.clear()
