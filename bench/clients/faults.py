"""Each client through the runtime's faults: kill -9 and restart, a drain onto a second server, Redis
down 10 s, a silent network cut. A publisher on the other server keeps publishing through each; the
client must deliver every acknowledged message exactly once, in order. ``run_fault`` returns the
figures and what went wrong (``FaultRun.problems``): the client tests assert there is nothing, and
``python -m bench.client_faults`` refuses figures that have something."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.clients.cluster import Cluster, channel
from bench.clients.handles import JsHandle, PyHandle
from bench.servers import http_json
from runtime.auth import issue

Handle = PyHandle | JsHandle
RESUME_TIMEOUT = 30.0


class Publisher(threading.Thread):
    """REST publishes to server B (up in every scenario), 25 a second; remembers what was acked, when."""

    def __init__(self, cluster: Cluster, ch: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{cluster.b.http}/api/channels/{ch}/messages"
        self.token = issue(cluster.secret, "publisher", ("room:*",), ("room:*",), 3600)
        self.acked: list[tuple[int, float]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.wait(0.04):
            n += 1
            status, body = http_json("POST", self.url, {"data": n}, token=self.token)
            if status == 201:
                self.acked.append((body["offset"], time.monotonic()))


def resumed_at(
    handle: Handle, ch: str, pub: Publisher, since: float, timeout: float = RESUME_TIMEOUT
) -> float:
    """When the client has delivered every offset acked so far and one acked after ``since``; raises
    TimeoutError if that does not happen within ``timeout``."""
    deadline = time.monotonic() + timeout
    acked: list[tuple[int, float]] = []
    got: set[int] = set()
    while time.monotonic() < deadline:
        acked = list(pub.acked)
        got = set(handle.delivered(ch))
        after = [o for o, t in acked if t > since]
        if after and all(o in got for o, _ in acked if o <= after[0]):
            return time.monotonic()
        handle.wait(0.05)
    raise TimeoutError(f"not resumed within {timeout}s: {sorted(got)[-5:]} of {acked[-5:]}")


@dataclass(frozen=True)
class Fault:
    """How to break the cluster (returns when the fault ended) and which URLs the client is given."""

    urls: Callable[[Cluster], list[str]]
    make: Callable[[Cluster, Handle], float]
    after: Callable[[Cluster], None] = lambda cluster: None  # once the run is measured


def _kill9(cluster: Cluster, handle: Handle) -> float:
    assert cluster.a.process is not None
    cluster.a.process.kill()
    cluster.a.process.wait(10)
    cluster.a.start()
    return time.monotonic()


def _drain(cluster: Cluster, handle: Handle) -> float:
    cluster.a.terminate()  # SIGTERM: 1001 to every socket after the grace
    return time.monotonic()


def _drained(cluster: Cluster) -> None:
    assert cluster.a.process is not None
    cluster.a.process.wait(10)  # gone before the next scenario heals the cluster


def _redis_down(cluster: Cluster, handle: Handle) -> float:
    cluster.redis.kill()
    handle.wait(10)
    cluster.redis.start()
    return time.monotonic()


def _network_cut(cluster: Cluster, handle: Handle) -> float:
    cluster.proxy.cut()
    return time.monotonic()


FAULTS: dict[str, Fault] = {
    "kill9": Fault(lambda c: [c.url(c.a)], _kill9),
    "drain": Fault(lambda c: [c.url(c.a), c.url(c.b)], _drain, _drained),
    "redis-down": Fault(lambda c: [c.url(c.a)], _redis_down),
    "network-cut": Fault(lambda c: [c.url(c.proxy)], _network_cut),
}


@dataclass
class FaultRun:
    client: str
    fault: str
    resume_s: float | None  # None: not resumed within RESUME_TIMEOUT
    acked: list[int]
    delivered: list[int]
    events: list[tuple[str, dict[str, Any]]]
    state: str
    not_resumed: str = ""
    missed: list[int] = field(init=False)
    duplicates: int = field(init=False)

    def __post_init__(self) -> None:
        self.missed = sorted(set(self.acked) - set(self.delivered))
        self.duplicates = len(self.delivered) - len(set(self.delivered))

    def figures(self) -> dict[str, Any]:
        return {"client": self.client, "fault": self.fault, "resume_s": self.resume_s,
                "acked": len(self.acked), "delivered": len(self.delivered), "missed": len(self.missed),
                "duplicates": self.duplicates}  # fmt: skip

    def problems(self) -> list[str]:
        """Every way the client failed the scenario; empty if it passed."""
        out = [self.not_resumed] if self.not_resumed else []
        if self.missed or self.duplicates:
            out.append(f"missed {self.missed[:10]}, {self.duplicates} duplicates")
        if self.delivered != list(range(1, len(self.delivered) + 1)):
            out.append(f"not in order from the first offset: {self.delivered[:10]}...")
        kinds = [kind for kind, _ in self.events]
        if self.fault != "redis-down" and not ("disconnected" in kinds and "resubscribed" in kinds):
            out.append(f"its own connection broke: no disconnected and resubscribed events in {kinds}")
        if self.fault in ("kill9", "network-cut"):  # away a second or more: what it missed came back as a gap
            gaps = [p for k, p in self.events if k == "recovered"]
            if not (gaps and all(g["count"] == g["to"] - g["from"] + 1 >= 1 for g in gaps)):
                out.append(f"no well-formed recovered gap: {gaps}")
        closes = [p for k, p in self.events if k == "disconnected"]
        if self.fault == "drain" and not any(p.get("code") == 1001 for p in closes):
            out.append(f"drained without a 1001 close: {closes}")
        if self.fault == "network-cut" and "keepalive timeout" not in [p.get("reason") for p in closes]:
            out.append(f"the cut was not noticed by keepalive: {closes}")
        if self.state != "connected":
            out.append(f"ends {self.state}, not connected")
        return out


def run_fault(handle: Handle, cluster: Cluster, name: str) -> FaultRun:
    """Subscribe ``handle`` to a fresh channel, publish through fault ``name``, and measure."""
    fault = FAULTS[name]
    ch = channel()
    handle.start(fault.urls(cluster))
    subscribed = handle.subscribe(ch)
    if subscribed != {"value": 0}:
        raise RuntimeError(f"subscribe answered {subscribed}")
    pub = Publisher(cluster, ch)
    pub.start()
    resume: float | None = None
    not_resumed = ""
    try:
        handle.wait(1.0)
        fault_end = fault.make(cluster, handle)
        try:
            resume = round(resumed_at(handle, ch, pub, fault_end) - fault_end, 2)
        except TimeoutError as exc:
            not_resumed = str(exc)
        handle.wait(0.5)
    finally:
        pub.halt.set()
        pub.join(5)
    acked = sorted(o for o, _ in pub.acked)
    deadline = time.monotonic() + 20
    while not set(acked) <= set(handle.delivered(ch)) and time.monotonic() < deadline:
        handle.wait(0.1)
    run = FaultRun(handle.kind, name, resume, acked, handle.delivered(ch), handle.event_log(), handle.state(),
                   not_resumed)  # fmt: skip
    fault.after(cluster)
    return run
