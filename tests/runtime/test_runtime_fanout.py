"""Fan-out across server processes, offsets, replay with since: against real Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from bench.servers import RuntimeServer
from tests.runtime.helpers import Client, metric, metric_samples, token

pytestmark = [pytest.mark.services, pytest.mark.asyncio]


def channel() -> str:
    return "room:" + uuid.uuid4().hex[:8]


async def test_fanout_across_two_server_processes_in_order_without_gaps(start_runtime, services_env) -> None:
    a = start_runtime(services_env)
    b = start_runtime(services_env)
    ch = channel()
    tok = token()
    async with await Client.connect(a.ws(tok)) as sub_a, await Client.connect(b.ws(tok)) as sub_b:
        assert (await sub_a.subscribe(ch))["offset"] == 0
        assert (await sub_b.subscribe(ch))["offset"] == 0
        publishers = [await Client.connect(s.ws(tok)) for s in (a, b, a, b)]

        async def publish(client: Client, n: int) -> list[int]:
            acked = []
            for i in range(n):
                await client.send({"type": "publish", "channel": ch, "data": {"i": i}, "id": f"p{i}"})
                ack = await client.expect("ack")
                assert ack["id"] == f"p{i}" and ack["channel"] == ch
                acked.append(ack["offset"])
            return acked

        acks = await asyncio.gather(*(publish(c, 50) for c in publishers))
        offsets = sorted(o for acked in acks for o in acked)
        assert offsets == list(range(1, 201)), "offsets are consecutive per channel"
        # every subscriber on both servers sees all 200, in offset order, no gap, no duplicate
        assert await sub_a.messages(ch, 200) == list(range(1, 201))
        assert await sub_b.messages(ch, 200) == list(range(1, 201))
        for c in publishers:
            await c.close()
    assert metric(a, "stars_messages_in_total") + metric(b, "stars_messages_in_total") == 200
    # one subscriber per server: each queued every message exactly once (a duplicate would show)
    assert metric(a, "stars_deliveries_total") == 200
    assert metric(b, "stars_deliveries_total") == 200
    stored, statements = (
        sum(metric(s, name) for s in (a, b))
        for name in ("stars_db_publishes_stored_total", "stars_db_publish_statements_total")
    )
    assert stored == 200 and 1 <= statements <= 200


async def test_since_replays_what_was_missed_then_continues_live(start_runtime, services_env) -> None:
    a = start_runtime(services_env)
    b = start_runtime(services_env)
    ch = channel()
    tok = token()
    for i in range(30):
        status, body = b.post(f"/api/channels/{ch}/messages", {"data": i}, token=tok)
        assert status == 201 and body == {"channel": ch, "offset": i + 1}
    async with await Client.connect(a.ws(tok)) as late, await Client.connect(b.ws(tok)) as pub:
        sub = await late.subscribe(ch, since=10)
        assert sub["offset"] == 30

        async def keep_publishing() -> None:
            for i in range(30, 60):
                await pub.send({"type": "publish", "channel": ch, "data": i})
                await pub.expect("ack")

        task = asyncio.create_task(keep_publishing())  # live messages race the replay
        offsets = await late.messages(ch, 60)
        await task
        assert offsets == list(range(11, 61))
    status, body = a.get(f"/api/channels/{ch}/messages?since=55&limit=10", token=tok)
    assert status == 200
    assert [m["offset"] for m in body["messages"]] == [56, 57, 58, 59, 60]
    assert [m["data"] for m in body["messages"]] == [55, 56, 57, 58, 59]
    assert all(m["published_at"].endswith("Z") for m in body["messages"])


async def test_concurrent_first_subscribers_all_receive(start_runtime, services_env) -> None:
    """broadcaster loses a concurrent first subscriber; here all 50 first subscribers get the message."""
    a = start_runtime(services_env)
    ch = channel()
    tok = token()
    clients = await asyncio.gather(*(Client.connect(a.ws(tok)) for _ in range(50)))
    try:
        for c in clients:  # send all subscribes before reading any reply
            await c.send({"type": "subscribe", "channel": ch})
        for c in clients:
            await c.expect("subscribed")
        status, _ = a.post(f"/api/channels/{ch}/messages", {"data": "hello"}, token=tok)
        assert status == 201
        got = await asyncio.gather(*(c.expect("message") for c in clients))
        assert all(m["offset"] == 1 and m["data"] == "hello" for m in got)
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def _spread_over_both_workers(
    server: RuntimeServer, least: int, most: int = 200, within_s: float = 30.0
) -> list[Client]:
    """At least ``least`` clients, connected in small concurrent bursts until both workers hold one.

    Which worker accepts a socket is the kernel's choice, and a worker still starting up (its
    metrics file written, its lifespan not yet done) accepts none: a fixed number of quick
    sequential connects once all landed on one worker under load. Bursts keep the first worker busy
    while the other accepts, and the pause between them gives a late worker time to start, bounded
    by ``most`` sockets and ``within_s`` seconds."""
    clients: list[Client] = []
    per_worker: dict[str, float] = {}
    deadline = asyncio.get_running_loop().time() + within_s
    while len(clients) < least or sum(n > 0 for n in per_worker.values()) < 2:
        if len(clients) >= most or asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{len(clients)} sockets and still not on both workers: {per_worker}")
        burst = range(len(clients), len(clients) + 4)
        clients += await asyncio.gather(*(Client.connect(server.ws(token(sub=f"user{i}"))) for i in burst))
        per_worker = metric_samples(server, "stars_worker_connections")
        if sum(n > 0 for n in per_worker.values()) < 2:
            await asyncio.sleep(0.1)
    assert len(per_worker) == 2 and all('pid="' in labels for labels in per_worker), per_worker
    assert sum(per_worker.values()) == len(clients)
    return clients


async def test_workers_share_redis_fanout_and_presence(start_runtime, services_env) -> None:
    a = start_runtime(services_env, workers=2)
    ch = channel()
    clients = await _spread_over_both_workers(a, least=6)
    n = len(clients)
    try:
        for c in clients:
            await c.subscribe(ch)
        status, _ = a.post(f"/api/channels/{ch}/messages", {"data": 1}, token=token())
        assert status == 201
        for c in clients:  # subscribers on both workers: all of them get it, whichever took the publish
            assert (await c.expect("message"))["offset"] == 1
        # each worker counts the frames it queued: the two together, once per subscriber
        assert metric(a, "stars_deliveries_total") == n
        for _ in range(100):
            status, body = a.get(f"/api/channels/{ch}/presence", token=token())
            if len(body["users"]) == n:
                break
            await asyncio.sleep(0.05)
        assert status == 200 and sorted(u["sub"] for u in body["users"]) == sorted(
            f"user{i}" for i in range(n)
        )
        assert metric(a, "stars_connections") == n  # the gauge sums both workers' open connections
    finally:
        for c in clients:
            await c.close()
    # every connection closed: the open-connections gauge, summed over both workers, returns to 0
    for _ in range(100):
        if metric(a, "stars_connections") == 0:
            break
        await asyncio.sleep(0.05)
    assert metric(a, "stars_connections") == 0
    assert sum(metric_samples(a, "stars_worker_connections").values()) == 0
