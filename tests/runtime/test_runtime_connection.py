"""A connection in-process, without services: typed commands dispatched, and the order of error codes
clients have always seen (permission, then the frame's own fields, then bounds and rate limit)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import MutableMapping
from dataclasses import replace
from typing import Any, cast

import pytest

from runtime.auth import Claims
from runtime.config import Settings
from runtime.connection import Connection
from runtime.connection import Host as RuntimeHost
from runtime.hub import Subscription
from runtime.limits import SubjectLimiter
from runtime.store import Stored, StoreUnavailable
from runtime.wire import Coalescer

pytestmark = pytest.mark.asyncio
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class FakeHub:
    bursting = False

    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []
        self.joined: list[str] = []
        self.down = False

    async def publish(self, channel: str, data: str) -> int:
        if self.down:
            raise StoreUnavailable("down")
        self.published.append((channel, data))
        return len(self.published)

    async def join(self, sub: Subscription, since: int | None) -> int:
        if self.down:
            raise StoreUnavailable("down")
        self.joined.append(sub.channel)
        sub.last = 3 if since is None else since
        if since is not None:
            sub.replay = []
        return 3

    def leave(self, sub: Subscription) -> None:
        self.joined.remove(sub.channel)

    def end_replay(self, sub: Subscription) -> None:
        sub.replay = None


class FakeStore:
    async def fetch(self, channel: str, since: int, limit: int) -> list[Stored]:
        return [Stored(o, f'"m{o}"', EPOCH) for o in range(since + 1, 4)]


class FakePresence:
    def __init__(self) -> None:
        self.members: set[tuple[str, str]] = set()

    def join(self, channel: str, member: str, sub: str) -> None:
        self.members.add((channel, member))

    def leave(self, channel: str, member: str) -> None:
        self.members.discard((channel, member))


class Host:
    def __init__(self, **settings: Any) -> None:
        self.settings = replace(Settings(), **settings)
        self.hub = FakeHub()
        self.store = FakeStore()
        self.presence = FakePresence()
        self.coalescer = Coalescer()
        self.limiter = SubjectLimiter(self.settings.publish_rate, self.settings.publish_burst)
        self.draining = False
        self.keepalive = self

    def pong(self, conn: Any) -> None:
        return None

    def register(self, conn: Any) -> None:
        return None

    def unregister(self, conn: Any) -> None:
        return None


class Client:
    """A connection whose outgoing frames are collected (no direct socket: the queued path)."""

    def __init__(
        self, host: Host, subscribe: tuple[str, ...] = ("room:*",), publish: tuple[str, ...] = ("room:*",)
    ):
        self.sent: list[dict[str, Any]] = []
        # the fakes stand in for the hub, store and presence by duck typing; no deflater (no direct socket)
        rt = cast(RuntimeHost, host)
        self.conn = Connection(rt, self._send, Claims("alice", 2e9, subscribe, publish), None)

    async def _send(self, event: MutableMapping[str, Any]) -> None:
        self.sent.append(json.loads(event["text"]))

    async def frames(self, *texts: Any) -> list[dict[str, Any]]:
        """Send each frame in order, then return what came back since the last call."""
        for text in texts:
            await self.conn.handle(text if isinstance(text, str) else json.dumps(text))
        await asyncio.sleep(0)
        for _ in range(10):
            if self.conn.writer is None or not self.conn.queue:
                break
            await asyncio.sleep(0)
        out, self.sent = self.sent, []
        return out


def codes(frames: list[dict[str, Any]]) -> list[str]:
    return [f["code"] if f["type"] == "error" else f["type"] for f in frames]


async def test_each_command_is_dispatched_on_its_type() -> None:
    host = Host()
    client = Client(host)
    got = await client.frames(
        {"type": "ping"},
        {"type": "subscribe", "channel": "room:a", "id": 1},
        {"type": "publish", "channel": "room:a", "data": {"k": [1, 2]}, "id": "p"},
        {"type": "unsubscribe", "channel": "room:a"},
    )
    assert got == [
        {"type": "pong"},
        {"type": "subscribed", "channel": "room:a", "offset": 3},
        {"type": "ack", "id": "p", "channel": "room:a", "offset": 1},
        {"type": "unsubscribed", "channel": "room:a"},
    ]
    assert host.hub.published == [("room:a", '{"k":[1,2]}')] and host.hub.joined == []
    assert host.presence.members == set()


async def test_a_since_subscribe_replays_from_the_store() -> None:
    client = Client(Host())
    got = await client.frames({"type": "subscribe", "channel": "room:a", "since": 1})
    assert got == [
        {"type": "subscribed", "channel": "room:a", "offset": 3},
        {"type": "message", "channel": "room:a", "offset": 2, "data": "m2"},
        {"type": "message", "channel": "room:a", "offset": 3, "data": "m3"},
    ]


async def test_subscribe_errors_come_in_the_order_clients_know() -> None:
    client = Client(Host(max_subscriptions=1), subscribe=("room:*",))
    bad_since = {"since": -1}
    got = await client.frames(
        {"type": "subscribe", "channel": "news:x", **bad_since},  # forbidden before a bad since
        {"type": "subscribe", "channel": "room:a", **bad_since},
        {"type": "subscribe", "channel": "room:a"},
        {"type": "subscribe", "channel": "room:a", **bad_since},  # a bad since before already subscribed
        {"type": "subscribe", "channel": "room:a"},
        {"type": "subscribe", "channel": "room:b"},
        {"type": "unsubscribe", "channel": "room:c", "id": 9},
    )
    assert codes(got) == [
        "forbidden", "bad_frame", "subscribed", "bad_frame", "already_subscribed", "too_many_subscriptions",
        "not_subscribed",
    ]  # fmt: skip
    assert got[-1]["id"] == 9


async def test_publish_errors_come_in_the_order_clients_know() -> None:
    host = Host(publish_rate=0.001, publish_burst=2)
    client = Client(host, publish=("room:*",))
    unstorable = '{"type":"publish","channel":"room:a","data":1e999}'
    got = await client.frames(
        '{"type":"publish","channel":"news:x","data":1e999}',  # forbidden before bad data
        {"type": "publish", "channel": "room:a"},  # no data: refused before the rate limit, costs no token
        unstorable,  # data that cannot be stored: after the rate limit (costs a token)
        {"type": "publish", "channel": "room:a", "data": 1},
        unstorable,  # the bucket is empty: rate_limited wins
    )
    assert codes(got) == ["forbidden", "bad_frame", "bad_frame", "ack", "rate_limited"]
    assert got[1]["message"] == "publish needs data" and "finite" in got[2]["message"]
    assert host.hub.published == [("room:a", "1")]


async def test_a_database_outage_is_unavailable_and_nothing_is_kept() -> None:
    host = Host()
    client = Client(host)
    host.hub.down = True
    got = await client.frames(
        {"type": "publish", "channel": "room:a", "data": 1, "id": 1},
        {"type": "subscribe", "channel": "room:a", "id": 2},
    )
    assert codes(got) == ["unavailable", "unavailable"] and [f["id"] for f in got] == [1, 2]
    assert len(client.conn.subscriptions) == 0
