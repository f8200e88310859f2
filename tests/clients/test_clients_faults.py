"""Both clients through the runtime's faults: kill -9 and restart, a drain onto a second server, Redis
down 10 s, a silent network cut. A publisher on the other server keeps publishing through each; the
client must have delivered every acknowledged message exactly once, in order. Resume time per fault
is printed (``-s``) and kept in ``RESUMES`` for bench/client_faults.py."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.servers import http_json
from tests.clients.conftest import Cluster, channel
from tests.runtime.helpers import token

pytestmark = [pytest.mark.services]
RESUMES: list[dict[str, Any]] = []


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    """``python -m bench.client_faults`` asks for the figures in a file (BENCH_CLIENT_FAULTS_JSON)."""
    yield
    path = os.environ.get("BENCH_CLIENT_FAULTS_JSON")
    if path:
        Path(path).write_text(json.dumps(RESUMES, indent=2) + "\n")


class Publisher(threading.Thread):
    """REST publishes to server B (up in every scenario), 25 a second; remembers what was acked, when."""

    def __init__(self, cluster: Cluster, ch: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{cluster.b.http}/api/channels/{ch}/messages"
        self.token = token(sub="publisher")
        self.acked: list[tuple[int, float]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.wait(0.04):
            n += 1
            status, body = http_json("POST", self.url, {"data": n}, token=self.token)
            if status == 201:
                self.acked.append((body["offset"], time.monotonic()))


def resumed_at(handle: Any, ch: str, pub: Publisher, since: float, timeout: float = 30.0) -> float:
    """When the client has delivered every offset acked so far and one acked after ``since``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        acked = list(pub.acked)
        got = set(handle.delivered(ch))
        after = [o for o, t in acked if t > since]
        if after and all(o in got for o, _ in acked if o <= after[0]):
            return time.monotonic()
        handle.wait(0.05)
    raise AssertionError(f"not resumed within {timeout}s: {sorted(got)[-5:]} of {acked[-5:]}")


def run_fault(handle: Any, cluster: Cluster, name: str, urls: list[str], fault: Any) -> None:
    ch = channel()
    handle.start(urls)
    assert handle.subscribe(ch) == {"value": 0}
    pub = Publisher(cluster, ch)
    pub.start()
    try:
        handle.wait(1.0)
        fault_end = fault()
        resume = resumed_at(handle, ch, pub, fault_end) - fault_end
        handle.wait(0.5)
    finally:
        pub.halt.set()
        pub.join(5)
    acked = sorted(o for o, _ in pub.acked)
    deadline = time.monotonic() + 20
    while not set(acked) <= set(handle.delivered(ch)) and time.monotonic() < deadline:
        handle.wait(0.1)
    delivered = handle.delivered(ch)
    missed = sorted(set(acked) - set(delivered))
    duplicates = len(delivered) - len(set(delivered))
    RESUMES.append({"client": handle.kind, "fault": name, "resume_s": round(resume, 2),
                    "acked": len(acked), "delivered": len(delivered), "missed": len(missed),
                    "duplicates": duplicates})  # fmt: skip
    print(f"\n{handle.kind} {name}: resume {resume:.2f} s, acked {len(acked)}, missed {len(missed)}, "
          f"duplicates {duplicates}")  # fmt: skip
    assert missed == [] and duplicates == 0
    assert delivered == list(range(1, len(delivered) + 1)), "in order from the first offset"
    kinds = [kind for kind, _ in handle.event_log()]
    if name != "redis-down":  # the client's own connection broke: it said so and resumed
        assert "disconnected" in kinds and "resubscribed" in kinds, kinds
    if name in ("kill9", "network-cut"):  # away for a second or more: what it missed came back as a gap
        gaps = [p for k, p in handle.event_log() if k == "recovered"]
        assert gaps and all(g["count"] == g["to"] - g["from"] + 1 >= 1 for g in gaps), gaps
    assert handle.state() == "connected"


def test_kill9_and_restart(handle, cluster: Cluster) -> None:
    def fault() -> float:
        assert cluster.a.process is not None
        cluster.a.process.kill()
        cluster.a.process.wait(10)
        cluster.a.start()
        return time.monotonic()

    run_fault(handle, cluster, "kill9", [cluster.url(cluster.a)], fault)


def test_drain_onto_a_second_server(handle, cluster: Cluster) -> None:
    def fault() -> float:
        cluster.a.terminate()  # SIGTERM: 1001 to every socket after the grace
        return time.monotonic()

    run_fault(handle, cluster, "drain", [cluster.url(cluster.a), cluster.url(cluster.b)], fault)
    assert any(p.get("code") == 1001 for k, p in handle.event_log() if k == "disconnected")
    assert cluster.a.process is not None
    cluster.a.process.wait(10)


def test_redis_down_for_10_seconds(handle, cluster: Cluster) -> None:
    def fault() -> float:
        cluster.redis.kill()
        handle.wait(10)
        cluster.redis.start()
        return time.monotonic()

    run_fault(handle, cluster, "redis-down", [cluster.url(cluster.a)], fault)


def test_silent_network_cut_is_noticed_by_keepalive(handle, cluster: Cluster) -> None:
    def fault() -> float:
        cluster.proxy.cut()
        return time.monotonic()

    run_fault(handle, cluster, "network-cut", [cluster.url(cluster.proxy)], fault)
    reasons = [p.get("reason") for k, p in handle.event_log() if k == "disconnected"]
    assert "keepalive timeout" in reasons, reasons
