"""A connection's subscriptions: subscribe (permission, bounds, the hub, presence, replay) and unsubscribe.

Refusals are raised as ``ProtocolError``; the connection turns them into ``error`` frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from runtime import protocol
from runtime.hub import Subscription
from runtime.protocol import Invalid, ProtocolError, Subscribe
from runtime.replay import replay
from runtime.store import StoreUnavailable

if TYPE_CHECKING:
    from runtime.auth import Claims
    from runtime.config import Settings
    from runtime.hub import Hub
    from runtime.outbox import Outbox
    from runtime.presence import Presence
    from runtime.store import Store


class SubscriptionsHost(Protocol):
    """What subscriptions need of their worker's runtime (``runtime.service.Runtime``)."""

    settings: Settings
    hub: Hub
    store: Store
    presence: Presence


class Subscriptions:
    """The channels one connection is subscribed to (``out`` is the connection: the hub's sink)."""

    __slots__ = ("by_channel", "claims", "host", "member", "out")

    def __init__(self, out: Outbox, host: SubscriptionsHost, member: str, claims: Claims) -> None:
        self.out = out
        self.host = host
        self.member = member  # the connection's id among a channel's presence members
        self.claims = claims
        self.by_channel: dict[str, Subscription] = {}

    def __len__(self) -> int:
        return len(self.by_channel)

    async def subscribe(self, command: Subscribe) -> None:
        channel, ref, since = command.channel, command.ref, command.since
        if not self.claims.may_subscribe(channel):
            raise ProtocolError(protocol.FORBIDDEN, f"token may not subscribe to {channel}", ref)
        if isinstance(since, Invalid):
            raise since.refusal(ref)
        if channel in self.by_channel:
            raise ProtocolError(protocol.ALREADY_SUBSCRIBED, f"already subscribed to {channel}", ref)
        limit = self.host.settings.max_subscriptions
        if len(self.by_channel) >= limit:
            raise ProtocolError(protocol.TOO_MANY_SUBSCRIPTIONS, f"at most {limit}", ref)
        out = self.out
        sub = Subscription(out, channel)
        self.by_channel[channel] = sub
        try:
            latest = await self.host.hub.join(sub, since)
        except StoreUnavailable:
            del self.by_channel[channel]
            raise ProtocolError(protocol.UNAVAILABLE, "database unavailable; retry later", ref) from None
        except BaseException:  # a bug (answered `internal`) or a cancel: not left half-subscribed
            del self.by_channel[channel]
            raise
        if out.closing:
            return
        self.host.presence.join(channel, self.member, self.claims.sub)
        out.send_frame(protocol.subscribed(channel, latest))
        if since is not None:
            await self._replay(sub)

    async def _replay(self, sub: Subscription) -> None:
        """The database replay of ``sub``, then the live frames the hub buffered meanwhile."""
        try:
            await replay(sub, self.out, self.host.store, self.host.settings)
        except StoreUnavailable:
            self.unsubscribe(sub.channel, None, reply=False)
            message = f"database unavailable; replay of {sub.channel} stopped"
            raise ProtocolError(protocol.UNAVAILABLE, message) from None
        self.host.hub.end_replay(sub)

    def unsubscribe(self, channel: str, ref: Any, reply: bool = True) -> None:
        sub = self.by_channel.pop(channel, None)
        if sub is None:
            if reply:
                raise ProtocolError(protocol.NOT_SUBSCRIBED, f"not subscribed to {channel}", ref)
            return
        self.host.hub.leave(sub)
        self.host.presence.leave(channel, self.member)
        if reply:
            self.out.send_frame(protocol.unsubscribed(channel))

    def clear(self) -> None:
        """Leave every channel, without replies (the socket is gone)."""
        for channel in list(self.by_channel):
            self.unsubscribe(channel, None, reply=False)
