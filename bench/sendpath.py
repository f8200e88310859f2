"""The runtime's own send path over the same sockets as ``floor``: what a delivery costs above the bare write.

The hub's real fan-out (``Hub._dispatch``: the frame encoded once, then per subscriber the offset check and
``Outbox.send_frame`` -> ``DirectWriter.ready`` -> ``transport.write``) runs over the sockets ``floor``
opened, in the same process and run, so its CPU per delivery reads directly against the floor's. Only
uvicorn's protocol object is stood in for (``_Proto``: the attributes ``DirectWriter`` reads).
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from runtime.config import Settings
from runtime.hub import Channel, Hub, Subscription
from runtime.outbox import Outbox
from runtime.uvicornseam import DirectWriter
from runtime.wire import Coalescer


class _Proto:
    """What ``DirectWriter`` reads of uvicorn's websockets-sansio protocol, for an open socket."""

    def __init__(self, transport: asyncio.Transport, extensions: list[Any]) -> None:
        self.transport = transport
        self.writable = asyncio.Event()
        self.writable.set()
        self.close_sent = False
        self.disconnected = False
        self.conn = SimpleNamespace(extensions=extensions)


def channel_over(transports: list[asyncio.Transport], rt: Any, extensions: list[Any]) -> Channel:
    ch = Channel("room:all")
    ch.filling = False
    for t in transports:
        ch.subs.add(Subscription(Outbox(rt, None, DirectWriter(_Proto(t, extensions))), ch.name))
    return ch


def runtime_rt(**extra: Any) -> Any:
    """The parts of a worker's runtime a connection's send path reads."""
    return SimpleNamespace(
        hub=SimpleNamespace(bursting=False), settings=Settings(), coalescer=Coalescer(), **extra
    )


async def per_delivery_us(
    transports: list[asyncio.Transport], text: str, rounds: int, rt: Any, extensions: list[Any]
) -> float:
    """CPU per delivery of ``rounds`` broadcasts of ``text`` through the hub to every socket."""
    hub = Hub(None, None)  # type: ignore[arg-type]  # _dispatch reads neither the broker nor the store
    ch = channel_over(transports, rt, extensions)
    cpu = 0.0
    for offset in range(1, rounds + 1):
        c0 = time.process_time()
        hub._dispatch(ch, offset, text)
        cpu += time.process_time() - c0
        await asyncio.sleep(0.02)  # let the reader drain, as between messages
    return cpu / (rounds * len(transports)) * 1e6
