"""Redis restarts, database outages, slow clients and drain: nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid

import psutil
import pytest
import websockets

from bench.servers import PostgresServer, RedisServer
from tests.runtime.helpers import Client, metric, token

pytestmark = [pytest.mark.services, pytest.mark.asyncio]


def channel() -> str:
    return "room:" + uuid.uuid4().hex[:8]


async def test_redis_killed_and_restarted_mid_stream_loses_no_acknowledged_message(
    start_runtime, database_url
) -> None:
    redis = RedisServer()
    redis.start()
    try:
        env = {"STARS_REDIS_URL": redis.url, "STARS_DATABASE_URL": database_url}
        a = start_runtime(env)
        b = start_runtime(env)
        ch = channel()
        tok = token()
        acked: list[int] = []
        async with await Client.connect(a.ws(tok)) as sub, await Client.connect(b.ws(tok)) as pub:
            await sub.subscribe(ch)

            async def publish(n: int) -> None:
                for i in range(n):
                    await pub.send({"type": "publish", "channel": ch, "data": i, "id": i})
                    frame = await pub.recv()
                    if frame["type"] == "ack":
                        acked.append(frame["offset"])
                    await asyncio.sleep(0.005)

            await publish(40)
            redis.kill()  # mid-stream: both servers lose pub/sub; publishes are still committed
            await publish(40)
            await asyncio.to_thread(redis.start)
            await publish(40)
            assert len(acked) == 120, "the database was up, so every publish was acknowledged"
            offsets = await sub.messages(ch, max(acked), timeout=30)
            assert offsets == list(range(1, max(acked) + 1)), "in order, no gaps, no duplicates"
            # the subscriber's server is subscribed again: a new live message still arrives
            await pub.send({"type": "publish", "channel": ch, "data": "after"})
            assert (await pub.expect("ack"))["offset"] == 121
            assert (await sub.recv())["offset"] == 121
        assert metric(a, "stars_redis_reconnects_total") >= 1
    finally:
        redis.stop()


async def test_database_down_publish_fails_clearly_and_nothing_is_acknowledged(start_runtime, redis) -> None:
    pg = PostgresServer()
    pg.init()
    pg.start()
    try:
        a = start_runtime(
            {"STARS_REDIS_URL": redis.url, "STARS_DATABASE_URL": pg.url, "STARS_DB_TIMEOUT": "2"}
        )
        ch = channel()
        tok = token()
        async with await Client.connect(a.ws(tok)) as c:
            await c.subscribe(ch)
            await c.send({"type": "publish", "channel": ch, "data": 1, "id": "one"})
            assert (await c.expect("ack"))["offset"] == 1
            assert (await c.expect("message"))["offset"] == 1
            await asyncio.to_thread(pg.stop, "immediate")
            await c.send({"type": "publish", "channel": ch, "data": 2, "id": "two"})
            err = await c.recv(timeout=15)
            assert err == {"type": "error", "code": "unavailable", "message": err["message"], "id": "two"}
            status, body = a.post(f"/api/channels/{ch}/messages", {"data": 3}, token=tok)
            assert status == 503 and body["error"] == "unavailable"
            assert a.get("/readyz")[0] == 503
            await asyncio.to_thread(pg.start)
            for _ in range(100):  # pooled connections reconnect by themselves
                await c.send({"type": "publish", "channel": ch, "data": 4, "id": "four"})
                frame = await c.recv(timeout=15)
                if frame["type"] == "ack":
                    break
                await asyncio.sleep(0.1)
            assert frame["offset"] == 2, "nothing was stored while the database was down"
            assert (await c.expect("message"))["offset"] == 2
    finally:
        pg.cleanup()


async def test_slow_client_is_disconnected_with_4008_and_memory_stays_bounded(
    start_runtime, services_env
) -> None:
    env = {**services_env, "STARS_QUEUE_MESSAGES": "200", "STARS_QUEUE_BYTES": "262144",
           "STARS_PUBLISH_RATE": "100000", "STARS_PUBLISH_BURST": "100000",
           "STARS_SLOW_CLIENT_ABORT": "120"}  # fmt: skip
    a = start_runtime(env)
    proc = psutil.Process(a.process.pid)
    ch = channel()
    tok = token()
    # 8,000 characters deflate (on by default) cannot shrink much: the bound counts bytes queued
    payload = secrets.token_urlsafe(6000)
    # max_queue=1: the client stops reading from its socket almost at once
    slow = await Client.connect(a.ws(tok), max_queue=1, max_size=2**20)
    fast_pub = await Client.connect(a.ws(tok))
    try:
        await slow.subscribe(ch)
        rss_before = proc.memory_info().rss
        for i in range(1500):  # ~12 MB for the slow client, far above its 256 KiB bound
            await fast_pub.send({"type": "publish", "channel": ch, "data": payload, "id": i})
            await fast_pub.expect("ack")
        rss_after = proc.memory_info().rss
        for _ in range(200):
            if metric(a, "stars_slow_client_disconnects_total") >= 1:
                break
            await asyncio.sleep(0.05)
        assert metric(a, "stars_slow_client_disconnects_total") == 1
        assert rss_after - rss_before < 8 * 2**20, f"server grew by {(rss_after - rss_before) >> 20} MiB"
        # the slow client now reads: what was already on the wire, then the 4008 close
        last = 0
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                frame = await slow.recv(timeout=10)
                if frame["type"] == "message":
                    last = frame["offset"]
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
        # and resumes with since, receiving the rest without gaps
        async with await Client.connect(a.ws(tok), max_size=2**20) as again:
            await again.subscribe(ch, since=last)
            assert await again.messages(ch, 1500) == list(range(last + 1, 1501))
    finally:
        await fast_pub.close()
        await slow.ws.close()


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_drains_readyz_503_then_close_1001(start_runtime, services_env, workers: int) -> None:
    a = start_runtime({**services_env, "STARS_DRAIN_GRACE": "1.5"}, workers=workers)
    tok = token()
    ch = channel()
    others = [await Client.connect(a.ws(tok)) for _ in range(4)]  # spread over the workers
    async with await Client.connect(a.ws(tok)) as c:
        await c.subscribe(ch)
        assert a.get("/readyz")[0] == 200
        a.terminate()
        t0 = time.monotonic()
        for _ in range(100):
            status, body = a.get("/readyz")
            if status == 503:
                break
            await asyncio.sleep(0.02)
        assert (status, body) == (503, {"status": "draining"})
        with pytest.raises(websockets.InvalidStatus) as refused:  # no new sockets while draining
            await Client.connect(a.ws(tok))
        assert refused.value.response.status_code == 503
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await c.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        for other in others:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await other.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert a.process.wait(timeout=15) in (0, -15)  # uvicorn re-raises the SIGTERM it handled
        assert time.monotonic() - t0 < 12


async def test_slow_client_that_never_reads_again_is_cut_off(start_runtime, services_env) -> None:
    env = {**services_env, "STARS_QUEUE_MESSAGES": "50", "STARS_QUEUE_BYTES": "65536",
           "STARS_SLOW_CLIENT_ABORT": "0.5",
           "STARS_PUBLISH_RATE": "100000", "STARS_PUBLISH_BURST": "100000"}  # fmt: skip
    a = start_runtime(env)
    ch = channel()
    tok = token()
    payload = secrets.token_urlsafe(6000)  # 8,000 characters deflate cannot shrink much
    slow = await Client.connect(a.ws(tok), max_queue=1, max_size=2**20)
    try:
        await slow.subscribe(ch)
        async with await Client.connect(a.ws(tok)) as pub:
            assert metric(a, "stars_connections") == 2
            for i in range(1500):  # ~12 MB: the socket buffers fill, then the 50-message queue
                await pub.send({"type": "publish", "channel": ch, "data": payload, "id": i})
                await pub.expect("ack")
            for _ in range(200):  # the slow socket is aborted, though its client never reads
                if metric(a, "stars_connections") == 1:
                    break
                await asyncio.sleep(0.05)
            assert metric(a, "stars_connections") == 1
            assert metric(a, "stars_slow_client_disconnects_total") == 1
    finally:
        await slow.ws.close()
